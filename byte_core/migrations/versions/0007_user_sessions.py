"""Server-side sessions: the browser holds a random token in an HttpOnly cookie and the server keeps only
its SHA-256 in `user_sessions`, so a session is listed, revoked and expired by changing a row (issue [C] 3-4).
A row is created at sign-in with a one-time, short-lived handoff code (also stored hashed); the browser
redeems it at /api/session/start, which mints the cookie token. `users.ended_sessions` (0005), the
issue-time list the old signed cookie needed, goes.

Idempotent: IF NOT EXISTS, DROP ... IF EXISTS then CREATE.

Revision ID: 0007
"""
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

STATEMENTS = """
CREATE TABLE IF NOT EXISTS user_sessions (
  id                  UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id              TEXT NOT NULL REFERENCES organizations(id),
  user_id             TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  token_hash          TEXT UNIQUE,
  handoff_hash        TEXT UNIQUE,
  handoff_expires_at  TIMESTAMPTZ,
  created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
  last_seen_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
  expires_at          TIMESTAMPTZ NOT NULL,
  ip                  TEXT,
  user_agent          TEXT,
  revoked_at          TIMESTAMPTZ,
  revoked_reason      TEXT,
  CONSTRAINT user_sessions_revoked_with_reason CHECK ((revoked_at IS NULL) = (revoked_reason IS NULL))
);
CREATE INDEX IF NOT EXISTS idx_user_sessions_user ON user_sessions (org_id, user_id, created_at);

ALTER TABLE user_sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE user_sessions FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS org_isolation ON user_sessions;
CREATE POLICY org_isolation ON user_sessions USING (org_id = byte_current_org())
  WITH CHECK (org_id = byte_current_org());
-- A browser presents a token (or a handoff code) before its organization is known: a session may read
-- the one row whose hash it holds, and nothing else of any organization.
DROP POLICY IF EXISTS token_lookup ON user_sessions;
CREATE POLICY token_lookup ON user_sessions FOR SELECT USING (
  token_hash = NULLIF(current_setting('app.session_lookup', true), '')
  OR handoff_hash = NULLIF(current_setting('app.session_lookup', true), ''));
GRANT SELECT, INSERT, UPDATE, DELETE ON user_sessions TO byte_app;

ALTER TABLE users DROP COLUMN IF EXISTS ended_sessions;
"""


def upgrade() -> None:
    op.execute(STATEMENTS)


def downgrade() -> None:
    raise NotImplementedError("restore from a backup instead")
