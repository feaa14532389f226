"""Tenancy in the keys (issue [C] 6, 7, 12).

- `organizations` under the same RLS as every tenant table: a session reads only its own org (its
  `intake_token` included). The cross-org reads that happen before a tenant is known go through narrow
  SECURITY DEFINER functions owned by the owner role, with `SET search_path`, that return only an id:
  by intake token (intake), by slug (CLI `--org`), and the list of ids (scheduler sweep, CLI listing).
  FORCE RLS applies to the owner too, so the owner alone gets a read-all policy, used inside those
  functions (the app role is not a member of the owner role, so the policy never applies to it).
- Every foreign key between org-scoped tables is composite, `(org_id, x_id) -> (org_id, id)`, so a row can
  never point into another organization, whatever a service forgets. `ON DELETE SET NULL (x_id)` names
  its column (PostgreSQL 15+): nulling org_id too would break NOT NULL.
- `formstack_config.allow_unsigned`: accepting deliveries without any secret is an explicit admin choice.

Runs twice without harm: constraints are added only when missing, old single-column keys dropped if present.

Revision ID: 0008
"""
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# Referenced tables: each gets UNIQUE (org_id, id) so composite keys can point at it.
REFERENCED = ["users", "contacts", "workflow_definitions", "workflow_executions", "workflow_execution_steps", "tasks"]

# (table, column, referenced table, ON DELETE clause or "")
ORG_FOREIGN_KEYS = [
    ("workflow_definition_versions", "workflow_definition_id", "workflow_definitions", "CASCADE"),
    ("workflow_definition_versions", "created_by", "users", ""),
    ("workflow_executions", "workflow_definition_id", "workflow_definitions", ""),
    ("workflow_executions", "contact_id", "contacts", ""),
    ("workflow_execution_steps", "workflow_execution_id", "workflow_executions", "CASCADE"),
    ("tasks", "workflow_execution_id", "workflow_executions", ""),
    ("tasks", "contact_id", "contacts", ""),
    ("tasks", "assigned_to", "users", ""),
    ("tasks", "step_visit_id", "workflow_execution_steps", "SET NULL (step_visit_id)"),
    ("tasks", "completed_by", "users", ""),
    ("notes", "workflow_execution_id", "workflow_executions", "CASCADE"),
    ("notes", "contact_id", "contacts", "CASCADE"),
    ("notes", "task_id", "tasks", "CASCADE"),
    ("notes", "user_id", "users", ""),
    ("activity_log", "user_id", "users", ""),
    ("activity_log", "workflow_execution_id", "workflow_executions", "CASCADE"),
    ("activity_log", "contact_id", "contacts", "CASCADE"),
    ("activity_log", "task_id", "tasks", "CASCADE"),
    ("formstack_config", "default_workflow_definition_id", "workflow_definitions", ""),
    ("formstack_submissions", "workflow_execution_id", "workflow_executions", ""),
    ("formstack_submissions", "contact_id", "contacts", ""),
    ("user_sessions", "user_id", "users", "CASCADE"),
]


def org_key_name(table: str) -> str:
    return f"uq_{table}_org_id_id"


def org_fk_name(table: str, column: str) -> str:
    return f"fk_{table}_{column}_org"


def _add_constraint(table: str, name: str, definition: str) -> str:
    return (f"DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = '{name}' "
            f"AND conrelid = '{table}'::regclass) THEN ALTER TABLE {table} ADD CONSTRAINT {name} {definition}; "
            f"END IF; END $$")


def _keys() -> list[str]:
    statements = [_add_constraint(t, org_key_name(t), "UNIQUE (org_id, id)") for t in REFERENCED]
    for table, column, target, on_delete in ORG_FOREIGN_KEYS:
        statements.append(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {table}_{column}_fkey")
        clause = f" ON DELETE {on_delete}" if on_delete else ""
        statements.append(_add_constraint(
            table, org_fk_name(table, column),
            f"FOREIGN KEY (org_id, {column}) REFERENCES {target} (org_id, id){clause}"))
    return statements


ORGANIZATIONS = """
DROP POLICY IF EXISTS org_read ON organizations;
CREATE POLICY org_read ON organizations FOR SELECT USING (id = byte_current_org());
DROP POLICY IF EXISTS owner_directory ON organizations;
CREATE POLICY owner_directory ON organizations FOR SELECT TO CURRENT_USER USING (true);

CREATE OR REPLACE FUNCTION byte_org_by_intake_token(token text) RETURNS text
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog
  AS $$ SELECT id FROM public.organizations WHERE intake_token = token $$;

CREATE OR REPLACE FUNCTION byte_org_by_slug(wanted text) RETURNS text
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog
  AS $$ SELECT id FROM public.organizations WHERE slug = wanted $$;

CREATE OR REPLACE FUNCTION byte_org_ids() RETURNS SETOF text
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog
  AS $$ SELECT id FROM public.organizations ORDER BY created_at, id $$;

REVOKE ALL ON FUNCTION byte_org_by_intake_token(text), byte_org_by_slug(text), byte_org_ids() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION byte_org_by_intake_token(text), byte_org_by_slug(text), byte_org_ids() TO byte_app;
"""

INTAKE = "ALTER TABLE formstack_config ADD COLUMN IF NOT EXISTS allow_unsigned BOOLEAN NOT NULL DEFAULT false"


def upgrade() -> None:
    op.execute(ORGANIZATIONS)
    for statement in _keys():
        op.execute(statement)
    op.execute(INTAKE)


def downgrade() -> None:
    raise NotImplementedError("restore from a backup instead")
