"""Covering partial indexes for the Analytics page's task aggregations, so that at ~1M tasks they read
index-only ranges instead of every task of the organization: open tasks by due date, finished tasks by
completion time, and decided approvals by creation time.

Revision ID: 0004
"""
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

STATEMENTS = """
CREATE INDEX IF NOT EXISTS idx_tasks_open_due ON tasks (org_id, due_date)
  INCLUDE (created_at, assigned_role, assigned_to) WHERE status IN ('todo', 'in_progress');
CREATE INDEX IF NOT EXISTS idx_tasks_done_time ON tasks (org_id, completed_at)
  INCLUDE (completed_by, created_at, due_date, assigned_role) WHERE status = 'done';
CREATE INDEX IF NOT EXISTS idx_tasks_decisions ON tasks (org_id, created_at)
  INCLUDE (workflow_execution_id, created_by_step_id, outcome) WHERE task_type = 'approval' AND status = 'done';
"""


def upgrade() -> None:
    op.execute(STATEMENTS)


def downgrade() -> None:
    raise NotImplementedError("restore from a backup instead")
