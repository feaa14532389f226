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


# Columns that hold a moment still to come by design (a timer, a due date, an expiry), not a record of the past.
SCHEDULED = {"next_run_at", "timeout_at", "due_date", "expires_at", "locked_until", "run_at", "snoozed_until",
             "next_attempt_at", "lease_expires_at"}


def assert_nothing_dated_after(session, moment) -> None:
    """Every date/time column of every table holds nothing later than `moment`, scheduled columns apart."""
    columns = session.execute(text("""
        SELECT c.table_name, c.column_name FROM information_schema.columns c
        JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
        WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'
          AND c.data_type IN ('timestamp with time zone', 'timestamp without time zone', 'date')""")).all()
    late = {}
    for table, column in columns:
        if column in SCHEDULED:
            continue
        latest = session.execute(text(f'SELECT max("{column}")::timestamptz FROM "{table}"')).scalar()
        if latest is not None and latest > moment:
            late[f"{table}.{column}"] = latest
    assert not late, late


def assert_history_in_time_order(session) -> None:
    """Each execution's visits follow each other: entered in seq order, left no earlier than entered, and
    the execution started before its first step and its contact existed before it started."""
    out_of_order = session.execute(text("""
        SELECT workflow_execution_id, seq FROM (
          SELECT workflow_execution_id, seq, entered_at, left_at,
                 lag(entered_at) OVER (PARTITION BY workflow_execution_id ORDER BY seq) AS previous
          FROM workflow_execution_steps) v
        WHERE entered_at < previous OR left_at < entered_at""")).all()
    assert out_of_order == []
    assert session.scalar(text("""SELECT count(*) FROM workflow_executions e
        WHERE e.started_at > (SELECT min(entered_at) FROM workflow_execution_steps v WHERE v.workflow_execution_id = e.id)
           OR e.started_at < (SELECT created_at FROM contacts c WHERE c.id = e.contact_id)""")) == 0


def test_demo_history_is_a_past_quarter_with_a_weekday_rhythm(fresh_database):
    from datetime import datetime, timedelta, timezone

    from byte_core.demo_executions import DAYS

    report = seed_demo(fresh_database, password_rounds=4)
    now = datetime.now(timezone.utc)
    with fresh_database.session(report.org_id) as s:
        assert_nothing_dated_after(s, now)
        assert_history_in_time_order(s)
        starts = list(s.scalars(select(WorkflowExecution.started_at)))
    assert now - timedelta(days=DAYS + 1) <= min(starts) <= now - timedelta(days=DAYS - 3)
    by_day: dict = {}
    for moment in starts:
        by_day[moment.date()] = by_day.get(moment.date(), 0) + 1
    # A steady flow: most working days of the quarter have new executions, and working days are busier.
    days = [now.date() - timedelta(days=n) for n in range(DAYS)]
    working = [by_day.get(d, 0) for d in days if d.weekday() < 5]
    weekend = [by_day.get(d, 0) for d in days if d.weekday() >= 5]
    assert sum(1 for n in working if n) >= 0.8 * len(working)
    assert sum(working) / len(working) > 3 * sum(weekend) / len(weekend)
    assert max(by_day.values()) <= 4 * sum(working) / len(working)  # no spike on one day
