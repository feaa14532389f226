"""Row-level security policies compare org_id with `(SELECT byte_current_org())` instead of calling the
function directly, so no query plan depends on which organization was current when it was made.

The planner folds a STABLE function to its value when it estimates: with `org_id = byte_current_org()` a
plan made while a small organization was current expected one row for "this organization", and
PostgreSQL keeps such a plan (a prepared statement's generic plan, on a pooled connection that serves every
organization). Reused for a 900,000-task organization it scanned the organization's rows for a one-row
lookup (0.5 s, at the large seed). A scalar subquery is a parameter to the planner: estimated the same
for every organization, still an index condition, evaluated once per statement.

Revision ID: 0017
"""
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

# Every policy of the public schema that calls byte_current_org() directly (a second run finds none).
_REWRITE = r"""
DO $$
DECLARE
  p record;
  direct constant text := 'byte_current_org()';
  wrapped constant text := '(SELECT byte_current_org())';
BEGIN
  FOR p IN SELECT tablename, policyname, qual, with_check FROM pg_policies WHERE schemaname = 'public' LOOP
    IF p.qual LIKE '%' || direct || '%' AND p.qual NOT LIKE '%SELECT byte_current_org()%' THEN
      EXECUTE format('ALTER POLICY %I ON %I USING (%s)', p.policyname, p.tablename,
                     replace(p.qual, direct, wrapped));
    END IF;
    IF p.with_check LIKE '%' || direct || '%' AND p.with_check NOT LIKE '%SELECT byte_current_org()%' THEN
      EXECUTE format('ALTER POLICY %I ON %I WITH CHECK (%s)', p.policyname, p.tablename,
                     replace(p.with_check, direct, wrapped));
    END IF;
  END LOOP;
END $$"""


def upgrade() -> None:
    op.execute(_REWRITE)


def downgrade() -> None:
    raise NotImplementedError("restore from a backup instead")
