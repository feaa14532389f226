"""Initial schema: seed 000's nine MVP tables, local auth (replaces Clerk), engine state (replaces Temporal).

Every statement is idempotent (IF NOT EXISTS, CREATE OR REPLACE, DROP ... IF EXISTS then CREATE), so
running it again over an existing schema changes nothing. Order follows seed 004: extensions,
functions, tables, indexes, policies, triggers, grants.

Revision ID: 0001
"""
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ORG_TABLES = [
    "users", "contacts", "workflow_definitions", "workflow_definition_versions", "workflow_executions",
    "workflow_execution_steps", "tasks", "notes", "activity_log", "formstack_config", "formstack_submissions",
]
UPDATED_AT_TABLES = [
    "organizations", "users", "contacts", "workflow_definitions", "workflow_executions", "tasks",
    "formstack_config",
]

TABLES = """
CREATE TABLE IF NOT EXISTS organizations (
  id            TEXT PRIMARY KEY,
  slug          TEXT NOT NULL UNIQUE,
  name          TEXT NOT NULL,
  intake_token  TEXT NOT NULL UNIQUE,
  settings      JSONB NOT NULL DEFAULT '{}',
  created_at    TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  updated_at    TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  CONSTRAINT organizations_slug_format CHECK (slug ~ '^[a-z0-9][a-z0-9-]{1,62}$')
);

CREATE TABLE IF NOT EXISTS users (
  id            TEXT PRIMARY KEY,
  org_id        TEXT NOT NULL REFERENCES organizations(id),
  email         TEXT NOT NULL,
  first_name    TEXT,
  last_name     TEXT,
  role          TEXT DEFAULT 'user',
  roles         TEXT[] DEFAULT '{}',
  created_at    TIMESTAMPTZ DEFAULT NOW(),
  updated_at    TIMESTAMPTZ DEFAULT NOW(),
  password_hash        TEXT,
  is_active            BOOLEAN NOT NULL DEFAULT true,
  password_changed_at  TIMESTAMPTZ,
  sessions_revoked_at  TIMESTAMPTZ,
  last_login_at        TIMESTAMPTZ,
  CONSTRAINT users_known_roles CHECK (roles <@ ARRAY['admin','manager','reviewer','hr']::text[])
);

CREATE TABLE IF NOT EXISTS login_attempts (
  id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id          TEXT REFERENCES organizations(id),
  email           TEXT NOT NULL,
  ip_address      TEXT,
  user_agent      TEXT,
  was_successful  BOOLEAN NOT NULL DEFAULT false,
  failure_reason  TEXT,
  created_at      TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

CREATE TABLE IF NOT EXISTS contacts (
  id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id          TEXT NOT NULL REFERENCES organizations(id),
  first_name      TEXT NOT NULL,
  last_name       TEXT NOT NULL,
  email           TEXT,
  phone           TEXT,
  address_line_1  TEXT,
  address_line_2  TEXT,
  city            TEXT,
  state           TEXT,
  zip             TEXT,
  metadata        JSONB DEFAULT '{}',
  tags            TEXT[] DEFAULT '{}',
  created_at      TIMESTAMPTZ DEFAULT NOW(),
  updated_at      TIMESTAMPTZ DEFAULT NOW()
);

CREATE TABLE IF NOT EXISTS workflow_definitions (
  id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id          TEXT NOT NULL REFERENCES organizations(id),
  name            TEXT NOT NULL,
  description     TEXT,
  phases          JSONB DEFAULT '[]',
  steps           JSONB NOT NULL DEFAULT '{"steps": []}',
  variables       JSONB DEFAULT '{}',
  is_active       BOOLEAN DEFAULT true,
  created_at      TIMESTAMPTZ DEFAULT NOW(),
  updated_at      TIMESTAMPTZ DEFAULT NOW(),
  version         INTEGER NOT NULL DEFAULT 1,
  CONSTRAINT workflow_definitions_org_name UNIQUE (org_id, name)
);

CREATE TABLE IF NOT EXISTS workflow_definition_versions (
  id                      UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id                  TEXT NOT NULL REFERENCES organizations(id),
  workflow_definition_id  UUID NOT NULL REFERENCES workflow_definitions(id) ON DELETE CASCADE,
  version                 INTEGER NOT NULL,
  phases                  JSONB NOT NULL DEFAULT '[]',
  steps                   JSONB NOT NULL,
  variables               JSONB NOT NULL DEFAULT '{}',
  created_by              TEXT REFERENCES users(id),
  created_at              TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  CONSTRAINT workflow_definition_versions_unique UNIQUE (workflow_definition_id, version)
);

CREATE TABLE IF NOT EXISTS workflow_executions (
  id                      UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id                  TEXT NOT NULL REFERENCES organizations(id),
  workflow_definition_id  UUID NOT NULL REFERENCES workflow_definitions(id),
  contact_id              UUID NOT NULL REFERENCES contacts(id),
  current_step_id         TEXT,
  current_phase_id        TEXT,
  status                  TEXT NOT NULL DEFAULT 'running',
  variables               JSONB DEFAULT '{}',
  source                  TEXT DEFAULT 'manual',
  source_id               TEXT,
  started_at              TIMESTAMPTZ DEFAULT NOW(),
  completed_at            TIMESTAMPTZ,
  temporal_workflow_id    TEXT,
  temporal_run_id         TEXT,
  metadata                JSONB DEFAULT '{}',
  created_at              TIMESTAMPTZ DEFAULT NOW(),
  updated_at              TIMESTAMPTZ DEFAULT NOW(),
  definition_version      INTEGER NOT NULL DEFAULT 1,
  next_run_at             TIMESTAMPTZ,
  step_seq                INTEGER NOT NULL DEFAULT 0,
  last_error              TEXT,
  status_reason           TEXT,
  CONSTRAINT workflow_executions_status CHECK
    (status IN ('running', 'paused', 'completed', 'failed', 'cancelled'))
);

CREATE TABLE IF NOT EXISTS workflow_execution_steps (
  id                     UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id                 TEXT NOT NULL REFERENCES organizations(id),
  workflow_execution_id  UUID NOT NULL REFERENCES workflow_executions(id) ON DELETE CASCADE,
  seq                    INTEGER NOT NULL,
  step_id                TEXT NOT NULL,
  phase_id               TEXT,
  step_type              TEXT NOT NULL,
  status                 TEXT NOT NULL DEFAULT 'running',
  outcome                TEXT,
  entered_at             TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  left_at                TIMESTAMPTZ,
  duration_ms            BIGINT,
  timeout_at             TIMESTAMPTZ,
  output                 JSONB NOT NULL DEFAULT '{}',
  error                  TEXT,
  CONSTRAINT workflow_execution_steps_seq UNIQUE (workflow_execution_id, seq),
  CONSTRAINT workflow_execution_steps_status CHECK
    (status IN ('running', 'waiting', 'completed', 'failed', 'timed_out', 'cancelled'))
);

CREATE TABLE IF NOT EXISTS tasks (
  id                    UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id                TEXT NOT NULL REFERENCES organizations(id),
  workflow_execution_id UUID REFERENCES workflow_executions(id),
  contact_id            UUID REFERENCES contacts(id),
  assigned_to           TEXT REFERENCES users(id),
  assigned_role         TEXT,
  title                 TEXT NOT NULL,
  description           TEXT,
  task_type             TEXT DEFAULT 'standard',
  status                TEXT NOT NULL DEFAULT 'todo',
  priority              TEXT DEFAULT 'medium',
  outcome               TEXT,
  outcome_comment       TEXT,
  position              INTEGER DEFAULT 0,
  due_date              DATE,
  completed_at          TIMESTAMPTZ,
  created_by_step_id    TEXT,
  metadata              JSONB DEFAULT '{}',
  created_at            TIMESTAMPTZ DEFAULT NOW(),
  updated_at            TIMESTAMPTZ DEFAULT NOW(),
  step_run_id           UUID REFERENCES workflow_execution_steps(id) ON DELETE SET NULL,
  completed_by          TEXT REFERENCES users(id),
  CONSTRAINT tasks_status CHECK (status IN ('todo', 'in_progress', 'done', 'cancelled')),
  CONSTRAINT tasks_priority CHECK (priority IN ('low', 'medium', 'high')),
  CONSTRAINT tasks_one_per_step_run UNIQUE (step_run_id)
);

CREATE TABLE IF NOT EXISTS notes (
  id                    UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id                TEXT NOT NULL REFERENCES organizations(id),
  entity_type           TEXT NOT NULL,
  entity_id             UUID NOT NULL,
  workflow_execution_id UUID REFERENCES workflow_executions(id) ON DELETE CASCADE,
  contact_id            UUID REFERENCES contacts(id) ON DELETE CASCADE,
  task_id               UUID REFERENCES tasks(id) ON DELETE CASCADE,
  user_id               TEXT NOT NULL REFERENCES users(id),
  content               TEXT NOT NULL,
  is_internal           BOOLEAN DEFAULT true,
  created_at            TIMESTAMPTZ DEFAULT NOW(),
  CONSTRAINT one_parent_only CHECK (
    (workflow_execution_id IS NOT NULL)::int +
    (contact_id IS NOT NULL)::int +
    (task_id IS NOT NULL)::int = 1
  )
);

CREATE TABLE IF NOT EXISTS activity_log (
  id                    UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id                TEXT NOT NULL REFERENCES organizations(id),
  user_id               TEXT REFERENCES users(id),
  entity_type           TEXT NOT NULL,
  entity_id             UUID NOT NULL,
  workflow_execution_id UUID REFERENCES workflow_executions(id) ON DELETE CASCADE,
  contact_id            UUID REFERENCES contacts(id) ON DELETE CASCADE,
  task_id               UUID REFERENCES tasks(id) ON DELETE CASCADE,
  action                TEXT NOT NULL,
  details               JSONB DEFAULT '{}',
  created_at            TIMESTAMPTZ DEFAULT NOW()
);

CREATE TABLE IF NOT EXISTS formstack_config (
  id                             UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id                         TEXT NOT NULL UNIQUE REFERENCES organizations(id),
  webhook_secret                 TEXT,
  field_mappings                 JSONB DEFAULT '{}',
  default_workflow_definition_id UUID REFERENCES workflow_definitions(id),
  is_active                      BOOLEAN DEFAULT true,
  created_at                     TIMESTAMPTZ DEFAULT NOW(),
  updated_at                     TIMESTAMPTZ DEFAULT NOW()
);

CREATE TABLE IF NOT EXISTS formstack_submissions (
  id                    UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id                TEXT NOT NULL REFERENCES organizations(id),
  form_id               TEXT NOT NULL,
  submission_id         TEXT NOT NULL,
  raw_payload           JSONB NOT NULL,
  processed             BOOLEAN DEFAULT false,
  workflow_execution_id UUID REFERENCES workflow_executions(id),
  error                 TEXT,
  created_at            TIMESTAMPTZ DEFAULT NOW(),
  UNIQUE(org_id, submission_id)
);

CREATE TABLE IF NOT EXISTS scheduler_heartbeats (
  worker_id     TEXT PRIMARY KEY,
  hostname      TEXT NOT NULL,
  pid           INTEGER NOT NULL,
  started_at    TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  last_tick_at  TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  claimed       BIGINT NOT NULL DEFAULT 0,
  advanced      BIGINT NOT NULL DEFAULT 0,
  errors        BIGINT NOT NULL DEFAULT 0,
  last_error    TEXT
);
"""

INDEXES = """
CREATE INDEX IF NOT EXISTS idx_users_org ON users(org_id);
CREATE INDEX IF NOT EXISTS idx_users_roles ON users USING GIN(roles);
CREATE UNIQUE INDEX IF NOT EXISTS uq_users_email ON users (lower(email));
CREATE INDEX IF NOT EXISTS idx_login_attempts_email ON login_attempts (lower(email), created_at DESC);
CREATE INDEX IF NOT EXISTS idx_login_attempts_created ON login_attempts (created_at);
CREATE INDEX IF NOT EXISTS idx_contacts_org ON contacts(org_id);
CREATE INDEX IF NOT EXISTS idx_contacts_email ON contacts(email);
CREATE INDEX IF NOT EXISTS idx_contacts_name ON contacts(last_name, first_name);
CREATE INDEX IF NOT EXISTS idx_workflow_definitions_org ON workflow_definitions(org_id);
CREATE INDEX IF NOT EXISTS idx_workflow_definitions_active ON workflow_definitions(org_id, is_active);
CREATE INDEX IF NOT EXISTS idx_workflow_executions_org ON workflow_executions(org_id);
CREATE INDEX IF NOT EXISTS idx_workflow_executions_contact ON workflow_executions(contact_id);
CREATE INDEX IF NOT EXISTS idx_workflow_executions_status ON workflow_executions(org_id, status);
CREATE INDEX IF NOT EXISTS idx_workflow_executions_definition ON workflow_executions(workflow_definition_id);
CREATE INDEX IF NOT EXISTS idx_workflow_executions_temporal ON workflow_executions(temporal_workflow_id);
CREATE INDEX IF NOT EXISTS idx_workflow_executions_definition_created
  ON workflow_executions(workflow_definition_id, created_at DESC);
CREATE INDEX IF NOT EXISTS idx_workflow_executions_due ON workflow_executions(next_run_at)
  WHERE status = 'running' AND next_run_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS idx_execution_steps_execution ON workflow_execution_steps(workflow_execution_id, seq);
CREATE INDEX IF NOT EXISTS idx_execution_steps_org_step ON workflow_execution_steps(org_id, step_id, entered_at);
CREATE INDEX IF NOT EXISTS idx_tasks_org ON tasks(org_id);
CREATE INDEX IF NOT EXISTS idx_tasks_assigned ON tasks(assigned_to);
CREATE INDEX IF NOT EXISTS idx_tasks_role ON tasks(assigned_role) WHERE assigned_role IS NOT NULL;
CREATE INDEX IF NOT EXISTS idx_tasks_status ON tasks(org_id, status);
CREATE INDEX IF NOT EXISTS idx_tasks_workflow_execution ON tasks(workflow_execution_id);
CREATE INDEX IF NOT EXISTS idx_tasks_position ON tasks(org_id, status, position);
CREATE INDEX IF NOT EXISTS idx_tasks_contact ON tasks(contact_id);
CREATE INDEX IF NOT EXISTS idx_notes_entity ON notes(entity_type, entity_id);
CREATE INDEX IF NOT EXISTS idx_notes_org ON notes(org_id);
CREATE INDEX IF NOT EXISTS idx_notes_workflow_execution ON notes(workflow_execution_id) WHERE workflow_execution_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS idx_notes_contact ON notes(contact_id) WHERE contact_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS idx_notes_task ON notes(task_id) WHERE task_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS idx_activity_org ON activity_log(org_id);
CREATE INDEX IF NOT EXISTS idx_activity_entity ON activity_log(entity_type, entity_id);
CREATE INDEX IF NOT EXISTS idx_activity_time ON activity_log(created_at DESC);
CREATE INDEX IF NOT EXISTS idx_activity_workflow_execution ON activity_log(workflow_execution_id) WHERE workflow_execution_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS idx_activity_contact ON activity_log(contact_id) WHERE contact_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS idx_activity_task ON activity_log(task_id) WHERE task_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS idx_formstack_org ON formstack_submissions(org_id);
CREATE INDEX IF NOT EXISTS idx_formstack_processed ON formstack_submissions(processed) WHERE NOT processed;
"""

FUNCTIONS = """
CREATE OR REPLACE FUNCTION byte_current_org() RETURNS text
  LANGUAGE sql STABLE
  SET search_path = pg_catalog
  AS $$ SELECT NULLIF(current_setting('app.org_id', true), '') $$;

CREATE OR REPLACE FUNCTION byte_touch_updated_at() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog
  AS $$ BEGIN NEW.updated_at := now(); RETURN NEW; END $$;
"""


def _policies() -> str:
    statements = []
    for table in ORG_TABLES:
        statements += [
            f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
            f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY",
            f"DROP POLICY IF EXISTS org_isolation ON {table}",
            f"CREATE POLICY org_isolation ON {table} USING (org_id = byte_current_org())"
            f" WITH CHECK (org_id = byte_current_org())",
        ]
    # A login must find the user row before the organization is known: a session may read the one
    # user whose email it is checking, and nothing else of other organizations.
    statements += [
        "DROP POLICY IF EXISTS login_lookup ON users",
        "CREATE POLICY login_lookup ON users FOR SELECT USING "
        "(lower(email) = NULLIF(current_setting('app.login_email', true), ''))",
    ]
    # Organization names and slugs are not secret (the scheduler and intake resolve them before a
    # tenant is known); changing one is confined to the organization itself.
    statements += [
        "ALTER TABLE organizations ENABLE ROW LEVEL SECURITY",
        "ALTER TABLE organizations FORCE ROW LEVEL SECURITY",
        "DROP POLICY IF EXISTS org_read ON organizations",
        "CREATE POLICY org_read ON organizations FOR SELECT USING (true)",
        "DROP POLICY IF EXISTS org_write ON organizations",
        "CREATE POLICY org_write ON organizations FOR INSERT WITH CHECK (id = byte_current_org())",
        "DROP POLICY IF EXISTS org_update ON organizations",
        "CREATE POLICY org_update ON organizations FOR UPDATE USING (id = byte_current_org())"
        " WITH CHECK (id = byte_current_org())",
        "DROP POLICY IF EXISTS org_delete ON organizations",
        "CREATE POLICY org_delete ON organizations FOR DELETE USING (id = byte_current_org())",
        # Attempts are recorded before the org is known; they are read back only for the email
        # under check (lockout) or by the organization the user belongs to.
        "ALTER TABLE login_attempts ENABLE ROW LEVEL SECURITY",
        "ALTER TABLE login_attempts FORCE ROW LEVEL SECURITY",
        "DROP POLICY IF EXISTS attempts_insert ON login_attempts",
        "CREATE POLICY attempts_insert ON login_attempts FOR INSERT WITH CHECK (true)",
        "DROP POLICY IF EXISTS attempts_read ON login_attempts",
        "CREATE POLICY attempts_read ON login_attempts FOR SELECT USING "
        "(org_id = byte_current_org() OR lower(email) = NULLIF(current_setting('app.login_email', true), ''))",
    ]
    return ";\n".join(statements) + ";"


def _triggers() -> str:
    statements = []
    for table in UPDATED_AT_TABLES:
        statements += [
            f"DROP TRIGGER IF EXISTS trg_{table}_updated_at ON {table}",
            f"CREATE TRIGGER trg_{table}_updated_at BEFORE UPDATE ON {table}"
            f" FOR EACH ROW EXECUTE FUNCTION byte_touch_updated_at()",
        ]
    return ";\n".join(statements) + ";"


APP_ROLE_AND_GRANTS = """
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'byte_app') THEN
    CREATE ROLE byte_app NOLOGIN NOBYPASSRLS;
  END IF;
  IF NOT pg_has_role(current_user, 'byte_app', 'MEMBER') THEN
    EXECUTE format('GRANT byte_app TO %I', current_user);
  END IF;
END $$;
GRANT USAGE ON SCHEMA public TO byte_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO byte_app;
REVOKE UPDATE, DELETE ON login_attempts FROM byte_app;
GRANT EXECUTE ON FUNCTION byte_current_org() TO byte_app;
REVOKE ALL ON alembic_version FROM byte_app;
"""


def upgrade() -> None:
    op.execute(FUNCTIONS)
    op.execute(TABLES)
    op.execute(INDEXES)
    op.execute(_policies())
    op.execute(_triggers())
    op.execute(APP_ROLE_AND_GRANTS)


def downgrade() -> None:
    raise NotImplementedError("the initial schema is not downgraded; restore from a backup instead")
