"""Sign-out recorded on the server: the issue times of a user's sessions that were signed out, so a
cookie the browser failed to delete (a tab closed at once, a reload racing the deletion) is refused.
Entries older than a cookie's lifetime are pruned at each sign-out.

Revision ID: 0005
"""
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE users ADD COLUMN IF NOT EXISTS ended_sessions TIMESTAMPTZ[] NOT NULL DEFAULT '{}'")


def downgrade() -> None:
    raise NotImplementedError("restore from a backup instead")
