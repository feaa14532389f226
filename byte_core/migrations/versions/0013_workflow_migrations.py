"""Moving running executions to a new version of their definition (issue [E]): one row per migration
(an operation that can be reverted) and one per execution it touched, with what it was before.

Revision ID: 0013
"""
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
CREATE TABLE IF NOT EXISTS workflow_migrations (
  id                      UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id                  TEXT NOT NULL REFERENCES organizations(id),
  workflow_definition_id  UUID NOT NULL,
  from_version            INTEGER NOT NULL,
  to_version              INTEGER NOT NULL,
  mapping                 JSONB NOT NULL DEFAULT '{}',
  status                  TEXT NOT NULL DEFAULT 'running'
                          CHECK (status IN ('running', 'done', 'reverted')),
  migrated                INTEGER NOT NULL DEFAULT 0,
  failed                  INTEGER NOT NULL DEFAULT 0,
  created_by              TEXT,
  created_at              TIMESTAMPTZ NOT NULL DEFAULT now(),
  finished_at             TIMESTAMPTZ,
  CONSTRAINT uq_workflow_migrations_org_id_id UNIQUE (org_id, id),
  CONSTRAINT fk_workflow_migrations_workflow_definition_id_org FOREIGN KEY (org_id, workflow_definition_id)
    REFERENCES workflow_definitions (org_id, id),
  CONSTRAINT fk_workflow_migrations_created_by_org FOREIGN KEY (org_id, created_by) REFERENCES users (org_id, id)
)""")
    op.execute("""
CREATE TABLE IF NOT EXISTS workflow_migration_items (
  id                      UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id                  TEXT NOT NULL REFERENCES organizations(id),
  migration_id            UUID NOT NULL,
  workflow_execution_id   UUID NOT NULL,
  status                  TEXT NOT NULL CHECK (status IN ('migrated', 'failed', 'reverted', 'kept')),
  mode                    TEXT,
  from_step_id            TEXT,
  to_step_id              TEXT,
  before                  JSONB NOT NULL DEFAULT '{}',
  error                   TEXT,
  created_at              TIMESTAMPTZ NOT NULL DEFAULT now(),
  CONSTRAINT fk_workflow_migration_items_migration_id_org FOREIGN KEY (org_id, migration_id)
    REFERENCES workflow_migrations (org_id, id) ON DELETE CASCADE,
  CONSTRAINT fk_workflow_migration_items_workflow_execution_id_org FOREIGN KEY (org_id, workflow_execution_id)
    REFERENCES workflow_executions (org_id, id) ON DELETE CASCADE
)""")
    op.execute("CREATE INDEX IF NOT EXISTS idx_migration_items_migration ON workflow_migration_items (migration_id)")
    for table in ("workflow_migrations", "workflow_migration_items"):
        for statement in (
            f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
            f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY",
            f"DROP POLICY IF EXISTS org_isolation ON {table}",
            f"CREATE POLICY org_isolation ON {table} USING (org_id = byte_current_org())"
            f" WITH CHECK (org_id = byte_current_org())",
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO byte_app",
        ):
            op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("restore from a backup instead")
