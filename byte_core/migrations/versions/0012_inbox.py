"""The reviewer's inbox (issue [D]): a task can be snoozed by its holder until a date (it leaves "My
tasks" until then), and each person can save named views of the task queue.

Revision ID: 0012
"""
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE tasks ADD COLUMN IF NOT EXISTS snoozed_until DATE")
    op.execute("""
CREATE TABLE IF NOT EXISTS saved_task_views (
  id          UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id      TEXT NOT NULL REFERENCES organizations(id),
  user_id     TEXT NOT NULL,
  name        TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 80),
  queue       TEXT NOT NULL,
  search      TEXT NOT NULL DEFAULT '',
  sort        TEXT NOT NULL,
  include_claimed BOOLEAN NOT NULL DEFAULT false,
  created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
  CONSTRAINT saved_task_views_name UNIQUE (org_id, user_id, name),
  CONSTRAINT fk_saved_task_views_user_id_org FOREIGN KEY (org_id, user_id) REFERENCES users (org_id, id)
    ON DELETE CASCADE
)""")
    for statement in (
        "ALTER TABLE saved_task_views ENABLE ROW LEVEL SECURITY",
        "ALTER TABLE saved_task_views FORCE ROW LEVEL SECURITY",
        "DROP POLICY IF EXISTS org_isolation ON saved_task_views",
        "CREATE POLICY org_isolation ON saved_task_views USING (org_id = byte_current_org())"
        " WITH CHECK (org_id = byte_current_org())",
        "GRANT SELECT, INSERT, UPDATE, DELETE ON saved_task_views TO byte_app",
    ):
        op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("restore from a backup instead")
