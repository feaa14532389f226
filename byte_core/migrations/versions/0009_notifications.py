"""Notifications ([F]): in-app notifications with per-user preferences, an email outbox and outgoing
webhooks (endpoints and their deliveries), plus the markers that make due/overdue reminders fire once.
Every table is tenant data under FORCEd row-level security like the others.

Revision ID: 0009
"""
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TABLES = """
CREATE TABLE IF NOT EXISTS notifications (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id TEXT NOT NULL REFERENCES organizations(id),
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  kind TEXT NOT NULL,
  title TEXT NOT NULL,
  body TEXT,
  task_id UUID REFERENCES tasks(id) ON DELETE CASCADE,
  workflow_execution_id UUID REFERENCES workflow_executions(id) ON DELETE CASCADE,
  contact_id UUID REFERENCES contacts(id) ON DELETE CASCADE,
  actor_user_id TEXT,
  in_app BOOLEAN NOT NULL DEFAULT true,
  email_state TEXT NOT NULL DEFAULT 'none',
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  read_at TIMESTAMPTZ,
  CONSTRAINT notifications_email_state CHECK (email_state IN ('none', 'immediate', 'digest', 'digested'))
);
CREATE INDEX IF NOT EXISTS idx_notifications_user ON notifications(user_id, created_at DESC) WHERE in_app;
CREATE INDEX IF NOT EXISTS idx_notifications_unread ON notifications(user_id) WHERE in_app AND read_at IS NULL;
CREATE INDEX IF NOT EXISTS idx_notifications_digest ON notifications(user_id) WHERE email_state = 'digest';
CREATE INDEX IF NOT EXISTS idx_notifications_task ON notifications(task_id) WHERE task_id IS NOT NULL;

CREATE TABLE IF NOT EXISTS notification_preferences (
  user_id TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
  org_id TEXT NOT NULL REFERENCES organizations(id),
  in_app_kinds TEXT[] NOT NULL,
  email_kinds TEXT[] NOT NULL,
  email_mode TEXT NOT NULL DEFAULT 'immediate',
  digest_hour INTEGER NOT NULL DEFAULT 8,
  last_digest_at TIMESTAMPTZ,
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  CONSTRAINT notification_preferences_mode CHECK (email_mode IN ('immediate', 'digest')),
  CONSTRAINT notification_preferences_hour CHECK (digest_hour BETWEEN 0 AND 23)
);

CREATE TABLE IF NOT EXISTS email_outbox (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id TEXT NOT NULL REFERENCES organizations(id),
  user_id TEXT REFERENCES users(id) ON DELETE SET NULL,
  to_address TEXT NOT NULL,
  kind TEXT NOT NULL,
  notification_ids UUID[] NOT NULL DEFAULT '{}',
  status TEXT NOT NULL DEFAULT 'pending',
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  locked_until TIMESTAMPTZ,
  last_error TEXT,
  sent_at TIMESTAMPTZ,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  CONSTRAINT email_outbox_kind CHECK (kind IN ('notification', 'digest', 'test')),
  CONSTRAINT email_outbox_status CHECK (status IN ('pending', 'sending', 'sent', 'failed'))
);
CREATE INDEX IF NOT EXISTS idx_email_outbox_due ON email_outbox(org_id, next_attempt_at)
  WHERE status IN ('pending', 'sending');
CREATE INDEX IF NOT EXISTS idx_email_outbox_org_created ON email_outbox(org_id, created_at DESC);

CREATE TABLE IF NOT EXISTS webhook_endpoints (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id TEXT NOT NULL REFERENCES organizations(id),
  url TEXT NOT NULL,
  description TEXT,
  secret TEXT NOT NULL,
  events TEXT[] NOT NULL,
  format TEXT NOT NULL DEFAULT 'json',
  is_active BOOLEAN NOT NULL DEFAULT true,
  created_by TEXT REFERENCES users(id),
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  CONSTRAINT webhook_endpoints_format CHECK (format IN ('json', 'slack'))
);
CREATE INDEX IF NOT EXISTS idx_webhook_endpoints_org ON webhook_endpoints(org_id) WHERE is_active;

CREATE TABLE IF NOT EXISTS webhook_deliveries (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id TEXT NOT NULL REFERENCES organizations(id),
  endpoint_id UUID NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
  event TEXT NOT NULL,
  payload JSONB NOT NULL,
  status TEXT NOT NULL DEFAULT 'pending',
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  locked_until TIMESTAMPTZ,
  response_status INTEGER,
  last_error TEXT,
  delivered_at TIMESTAMPTZ,
  redelivery_of UUID,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  CONSTRAINT webhook_deliveries_status CHECK (status IN ('pending', 'sending', 'sent', 'failed'))
);
CREATE INDEX IF NOT EXISTS idx_webhook_deliveries_due ON webhook_deliveries(org_id, next_attempt_at)
  WHERE status IN ('pending', 'sending');
CREATE INDEX IF NOT EXISTS idx_webhook_deliveries_endpoint ON webhook_deliveries(endpoint_id, created_at DESC);

CREATE TABLE IF NOT EXISTS task_reminders (
  task_id UUID NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
  kind TEXT NOT NULL,
  org_id TEXT NOT NULL REFERENCES organizations(id),
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (task_id, kind),
  CONSTRAINT task_reminders_kind CHECK (kind IN ('task_due_soon', 'task_overdue'))
);
"""

NEW_TABLES = ["notifications", "notification_preferences", "email_outbox", "webhook_endpoints", "webhook_deliveries",
              "task_reminders"]
NEW_UPDATED_AT_TABLES = ["notification_preferences", "webhook_endpoints"]


def _policies_triggers_grants() -> str:
    statements = []
    for table in NEW_TABLES:
        statements += [
            f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
            f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY",
            f"DROP POLICY IF EXISTS org_isolation ON {table}",
            f"CREATE POLICY org_isolation ON {table} USING (org_id = byte_current_org())"
            f" WITH CHECK (org_id = byte_current_org())",
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO byte_app",
        ]
    for table in NEW_UPDATED_AT_TABLES:
        statements += [
            f"DROP TRIGGER IF EXISTS trg_{table}_updated_at ON {table}",
            f"CREATE TRIGGER trg_{table}_updated_at BEFORE UPDATE ON {table}"
            f" FOR EACH ROW EXECUTE FUNCTION byte_touch_updated_at()",
        ]
    return ";\n".join(statements) + ";"


# Tenancy in the keys (as 0008): every reference to another org-scoped table is (org_id, x_id).
ORG_FOREIGN_KEYS = [
    ("notifications", "user_id", "users", "CASCADE"),
    ("notifications", "task_id", "tasks", "CASCADE"),
    ("notifications", "workflow_execution_id", "workflow_executions", "CASCADE"),
    ("notifications", "contact_id", "contacts", "CASCADE"),
    ("notification_preferences", "user_id", "users", "CASCADE"),
    ("email_outbox", "user_id", "users", "SET NULL (user_id)"),
    ("webhook_endpoints", "created_by", "users", ""),
    ("webhook_deliveries", "endpoint_id", "webhook_endpoints", "CASCADE"),
    ("task_reminders", "task_id", "tasks", "CASCADE"),
]


def _add_constraint(table: str, name: str, definition: str) -> str:
    return (f"DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = '{name}' "
            f"AND conrelid = '{table}'::regclass) THEN ALTER TABLE {table} ADD CONSTRAINT {name} {definition}; "
            f"END IF; END $$")


def _composite_keys() -> list[str]:
    statements = [_add_constraint("webhook_endpoints", "uq_webhook_endpoints_org_id_id", "UNIQUE (org_id, id)")]
    for table, column, target, on_delete in ORG_FOREIGN_KEYS:
        statements.append(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {table}_{column}_fkey")
        clause = f" ON DELETE {on_delete}" if on_delete else ""
        statements.append(_add_constraint(table, f"fk_{table}_{column}_org",
                                          f"FOREIGN KEY (org_id, {column}) REFERENCES {target} (org_id, id){clause}"))
    return statements


def upgrade() -> None:
    op.execute(TABLES)
    op.execute(_policies_triggers_grants())
    for statement in _composite_keys():
        op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("restore from a backup instead")
