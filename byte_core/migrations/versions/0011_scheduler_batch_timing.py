"""Engine batch timing in each scheduler's heartbeat row: how many batches it ran and the seconds they
took, so /api/metrics on any dashboard server can report batch latency for every scheduler process
(wherever it runs) from the one shared database, like the step counters already there.

Revision ID: 0011
"""
from alembic import op

revision = "0011"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE scheduler_heartbeats ADD COLUMN IF NOT EXISTS batches BIGINT NOT NULL DEFAULT 0")
    op.execute("ALTER TABLE scheduler_heartbeats ADD COLUMN IF NOT EXISTS batch_seconds DOUBLE PRECISION NOT NULL DEFAULT 0")


def downgrade() -> None:
    raise NotImplementedError("restore from a backup instead")
