"""Indexes for the dashboard's reads at 100k contacts / 300k executions / 1M tasks / 3M activity rows:
newest-first pages within an organization, the pipeline as an index-only scan, analytics by date.

Revision ID: 0003
"""
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

STATEMENTS = """
CREATE INDEX IF NOT EXISTS idx_workflow_executions_org_started ON workflow_executions (org_id, started_at DESC);
CREATE INDEX IF NOT EXISTS idx_workflow_executions_pipeline
  ON workflow_executions (org_id, workflow_definition_id, status, current_phase_id);
CREATE INDEX IF NOT EXISTS idx_workflow_executions_open_steps
  ON workflow_executions (org_id, workflow_definition_id, definition_version, current_step_id)
  WHERE status IN ('running', 'paused');
CREATE INDEX IF NOT EXISTS idx_activity_org_time ON activity_log (org_id, created_at DESC);
CREATE INDEX IF NOT EXISTS idx_activity_timeouts ON activity_log (org_id, created_at)
  WHERE action = 'step_timed_out';
CREATE INDEX IF NOT EXISTS idx_tasks_org_created ON tasks (org_id, created_at);
"""


def upgrade() -> None:
    op.execute(STATEMENTS)


def downgrade() -> None:
    raise NotImplementedError("restore from a backup instead")
