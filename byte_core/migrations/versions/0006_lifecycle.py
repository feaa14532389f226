"""One owner for workflow state (issue [A]): tasks carry a version (optimistic concurrency: a command
names the version the person saw) and the reason they were closed; a step visit has one name, so
`tasks.step_run_id` becomes `tasks.step_visit_id`.

Revision ID: 0006
"""
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE tasks ADD COLUMN IF NOT EXISTS version INTEGER NOT NULL DEFAULT 1")
    op.execute("ALTER TABLE tasks ADD COLUMN IF NOT EXISTS closed_reason TEXT")
    op.execute("""
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name = 'tasks' AND column_name = 'step_run_id') THEN
    ALTER TABLE tasks RENAME COLUMN step_run_id TO step_visit_id;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'tasks_one_per_step_run') THEN
    ALTER TABLE tasks RENAME CONSTRAINT tasks_one_per_step_run TO tasks_one_per_step_visit;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'tasks_step_run_id_fkey') THEN
    ALTER TABLE tasks RENAME CONSTRAINT tasks_step_run_id_fkey TO tasks_step_visit_id_fkey;
  END IF;
END $$""")
    # Open tasks of executions that already ended (the bug this revision fixes) are closed once.
    op.execute("""
UPDATE tasks t SET status = 'cancelled', closed_reason = 'execution ' || e.status, version = t.version + 1,
                   updated_at = now()
  FROM workflow_executions e
 WHERE e.id = t.workflow_execution_id AND t.status IN ('todo', 'in_progress')
   AND e.status IN ('completed', 'failed', 'cancelled')""")


def downgrade() -> None:
    raise NotImplementedError("restore from a backup instead")
