"""The demo organization: complete, consistent and idempotent."""
from __future__ import annotations

from sqlalchemy import func, select, text

from byte_core.demo import DEMO_CONTACTS, DEMO_USERS, seed_demo
from byte_core.models import Contact, Task, User, WorkflowExecution


def test_demo_seed_is_complete_consistent_and_idempotent(fresh_database):
    database = fresh_database
    first = seed_demo(database, password_rounds=4)
    assert first.contacts_created == DEMO_CONTACTS and len(first.users_created) == len(DEMO_USERS)
    assert len(first.definitions_created) == 3 and first.executions_created > 100
    second = seed_demo(database, password_rounds=4)
    assert not second.changed

    org = first.org_id
    with database.session(org) as s:
        assert s.scalar(select(func.count()).select_from(Contact)) == DEMO_CONTACTS
        roles = {r for roles in s.scalars(select(User.roles)) for r in roles}
        assert roles == {"admin", "manager", "reviewer", "hr"}
        statuses = set(s.scalars(select(WorkflowExecution.status).distinct()))
        assert statuses == {"running", "paused", "completed", "failed", "cancelled"}
        phases = set(s.scalars(select(WorkflowExecution.current_phase_id).where(
            WorkflowExecution.status == "running").distinct()))
        assert {"phase_1", "phase_3", "intake", "documents", "activate", "check", "signoff"} <= phases
        # Every running execution that waits on a person has exactly one open task for it.
        orphans = s.execute(text("""
            SELECT e.id FROM workflow_executions e
            JOIN workflow_execution_steps v ON v.workflow_execution_id = e.id AND v.seq = e.step_seq
            WHERE e.status = 'running' AND v.step_type IN ('wait_for_task', 'wait_for_approval')
              AND (SELECT count(*) FROM tasks t WHERE t.workflow_execution_id = e.id
                   AND t.status IN ('todo', 'in_progress')) <> 1""")).all()
        assert orphans == []
        # Completed executions have all their tasks done and a completion time.
        assert s.scalar(text("""SELECT count(*) FROM workflow_executions e WHERE status = 'completed'
            AND (completed_at IS NULL OR EXISTS (SELECT 1 FROM tasks t WHERE t.workflow_execution_id = e.id
                 AND t.status <> 'done'))""")) == 0
        # step_seq always equals the history length, and activity exists for every execution.
        assert s.scalar(text("""SELECT count(*) FROM workflow_executions e WHERE step_seq <>
            (SELECT count(*) FROM workflow_execution_steps v WHERE v.workflow_execution_id = e.id)""")) == 0
        assert s.scalar(text("""SELECT count(*) FROM workflow_executions e WHERE NOT EXISTS
            (SELECT 1 FROM activity_log a WHERE a.workflow_execution_id = e.id)""")) == 0
        assert s.scalar(select(func.count()).select_from(Task).where(Task.status == "done")) > 50
