"""Each version keeps its description, so the version diff shows a changed one; and unpublished drafts of workflow definitions, one per admin and definition (issue [E]): the form editor's
work survives a page reload until it is published (saved as a version) or discarded.

Revision ID: 0014
"""
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE workflow_definition_versions ADD COLUMN IF NOT EXISTS description TEXT")
    op.execute("""
CREATE TABLE IF NOT EXISTS workflow_drafts (
  id               UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id           TEXT NOT NULL REFERENCES organizations(id),
  user_id          TEXT NOT NULL,
  definition_name  TEXT NOT NULL,
  draft            JSONB NOT NULL,
  updated_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
  CONSTRAINT workflow_drafts_owner_name UNIQUE (org_id, user_id, definition_name),
  CONSTRAINT fk_workflow_drafts_user_id_org FOREIGN KEY (org_id, user_id) REFERENCES users (org_id, id)
    ON DELETE CASCADE
)""")
    for statement in (
        "ALTER TABLE workflow_drafts ENABLE ROW LEVEL SECURITY",
        "ALTER TABLE workflow_drafts FORCE ROW LEVEL SECURITY",
        "DROP POLICY IF EXISTS org_isolation ON workflow_drafts",
        "CREATE POLICY org_isolation ON workflow_drafts USING (org_id = byte_current_org())"
        " WITH CHECK (org_id = byte_current_org())",
        "GRANT SELECT, INSERT, UPDATE, DELETE ON workflow_drafts TO byte_app",
        "DROP TRIGGER IF EXISTS trg_workflow_drafts_updated_at ON workflow_drafts",
        "CREATE TRIGGER trg_workflow_drafts_updated_at BEFORE UPDATE ON workflow_drafts"
        " FOR EACH ROW EXECUTE FUNCTION byte_touch_updated_at()",
    ):
        op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("restore from a backup instead")
