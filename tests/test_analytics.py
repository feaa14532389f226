"""Analytics read models on known executions: exact figures, roles enforced, one organization only."""
from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from byte_core.access import Actor
from byte_core.analytics import (AnalyticsFilter, approval_rates, cycle_time_per_phase, overdue_and_late,
                                 phase_funnel, reviewer_workload, started_completed_over_time)
from byte_core.contacts import save_contact
from byte_core.demo import WORKFLOW_DIR
from byte_core.errors import PermissionDenied
from byte_core.task_queue import task_queue
from byte_core.users import add_user
from byte_core.workflow.definitions import save_definition
from byte_core.workflow.runner import drain_org
from byte_core.workflow.commands import complete_task, start_execution
from tests.conftest import new_org

REVIEW = json.loads((WORKFLOW_DIR / "application_review.json").read_text())


def person(database, actor, role):
    user = add_user(database, actor, f"{role}@{actor.org_id}.example.com", role, password=None)
    return Actor(actor.org_id, user.id, frozenset([role]), user.email)


def finish_task(database, org_id, who, queue, contact, **decision):
    row = next(r for r in task_queue(database, who, queue, limit=500).rows if r.contact == contact)
    complete_task(database, who, row.id, **decision)
    drain_org(database, org_id)


@pytest.fixture
def scene(database, actor):
    """Three applications: one approved, one rejected, one still waiting for its review."""
    save_definition(database, actor, REVIEW)
    reviewer, manager = person(database, actor, "reviewer"), person(database, actor, "manager")
    names = ["Ann Approved", "Rex Rejected", "Wes Waiting"]
    for name in names:
        first, last = name.split()
        save_contact(database, actor, {"first_name": first, "last_name": last, "email": f"{first.lower()}@example.org"})
        start_execution(database, actor, REVIEW["name"], f"{first.lower()}@example.org")
    for name, outcome in (("Ann Approved", "approved"), ("Rex Rejected", "rejected")):
        finish_task(database, actor.org_id, reviewer, "reviewer", name)
        finish_task(database, actor.org_id, manager, "manager", name, outcome=outcome, comment="ok")
    return manager, reviewer


def window(**kw) -> AnalyticsFilter:
    return AnalyticsFilter(date.today() - timedelta(days=1), date.today(), **kw)


def test_figures_match_the_executions(database, actor, scene):
    manager, reviewer = scene
    funnel = {r["phase"]: r for r in phase_funnel(database, manager, window())}
    assert funnel["Initial Review"]["reached"] == 3 and funnel["Initial Review"]["in_phase_now"] == 1
    assert funnel["Decision"]["reached"] == 2
    assert sum(r["started"] for r in started_completed_over_time(database, manager, window())) == 3
    [rates] = approval_rates(database, manager, window())
    assert (rates["step"], rates["approved"], rates["rejected"], rates["approval_rate"]) == ("Manager Approval", 1, 1, 0.5)
    workload = {r["person"]: r for r in reviewer_workload(database, manager, window())}
    assert workload[reviewer.email]["completed"] == 2 and workload[manager.email]["completed"] == 2
    phases = {r["phase"] for r in cycle_time_per_phase(database, manager, window())}
    assert "Initial Review" in phases
    assert all(r["p50_hours"] <= r["p90_hours"] for r in cycle_time_per_phase(database, manager, window()))
    assert overdue_and_late(database, manager, window(), today=date.today()) == []
    late = overdue_and_late(database, manager, window(), today=date.today() + timedelta(days=30))
    assert sum(r["overdue_open"] for r in late) == 3  # two HR letters and one review, all open


def test_a_reviewer_is_refused_and_another_org_sees_nothing(database, actor, scene):
    _, reviewer = scene
    with pytest.raises(PermissionDenied):
        phase_funnel(database, reviewer, window())
    stranger = Actor.system(new_org(database).id)
    assert phase_funnel(database, stranger, window()) == []
    assert approval_rates(database, stranger, window()) == []
    assert reviewer_workload(database, stranger, window()) == []


def test_held_and_late_tasks_are_counted_per_person_and_all_charts_agree(database, actor, scene):
    from sqlalchemy import select, update

    from byte_core.analytics import CHARTS, all_charts
    from byte_core.models import Task
    from byte_core.workflow.commands import claim_task

    manager, reviewer = scene
    waiting = next(r for r in task_queue(database, reviewer, "reviewer", limit=500).rows if r.contact == "Wes Waiting")
    claim_task(database, reviewer, waiting.id)
    with database.session(actor.org_id) as session:  # one of the reviewer's finished reviews was due last week
        late_id = session.scalars(select(Task.id).where(Task.completed_by == reviewer.user_id).limit(1)).one()
        session.execute(update(Task).where(Task.id == late_id).values(due_date=date.today() - timedelta(days=7)))
    workload = {r["person"]: r for r in reviewer_workload(database, manager, window())}
    assert (workload[reviewer.email]["open_held"], workload[reviewer.email]["completed"]) == (1, 2)
    assert workload[reviewer.email]["median_hours_to_done"] is not None
    late = {(r["role"], r["person"]): r for r in overdue_and_late(database, manager, window(), today=date.today())}
    assert late[("reviewer", reviewer.email)]["finished_late"] == 1
    assert sum(r["overdue_open"] for r in late.values()) == 0
    charts = all_charts(database, manager, window())
    assert set(charts) == set(CHARTS)
    assert charts["reviewer_workload"] == reviewer_workload(database, manager, window())
    with pytest.raises(PermissionDenied):
        all_charts(database, reviewer, window())


def test_the_home_pipeline_names_phases_in_their_order(database, actor, scene):
    from byte_core.dashboard import pipeline

    manager, _ = scene
    rows = pipeline(database, manager)
    assert sum(r["count"] for r in rows) == 3
    running = [r for r in rows if r["status"] == "running"]
    # Wes waits for his review; the two decided ones wait on their HR letters in Notify.
    assert [(r["workflow"], r["phase"], r["count"]) for r in running] == [
        (REVIEW["name"], "Initial Review", 1), (REVIEW["name"], "Notify", 2)]
    orders = [r["phase_order"] for r in rows]
    assert orders == sorted(orders)


def test_the_execution_list_names_steps_and_phases_of_the_pinned_version(database, actor, scene):
    from byte_core.workflow.inspect import ExecutionFilter, count_executions, list_executions, phases_of

    manager, _ = scene
    everything = ExecutionFilter(None, None, None, None, None)
    rows = list_executions(database, manager, everything)
    assert count_executions(database, manager, everything) == len(rows) == 3
    waiting = next(r for r in rows if r.contact == "Wes Waiting")
    steps = {s["id"]: s["name"] for s in REVIEW["steps"]}
    assert (waiting.phase, waiting.step) == ("Initial Review", steps["step_3"])
    assert phases_of(database, manager) == {"phase_1": "Initial Review", "phase_2": "Decision", "phase_3": "Notify"}


BACKGROUND = json.loads((WORKFLOW_DIR / "background_check.json").read_text())


def test_timed_out_waits_agree_with_executions_failed_by_timeout(database, actor, scene):
    """Two background checks whose wait fails after 7 days, one review whose wait escalates after 3: the chart
    counts every one, and its 'failed' figure is the number of executions that failed by timeout."""
    from datetime import datetime, timezone

    from sqlalchemy import func, select

    from byte_core.analytics import timeouts
    from byte_core.models import WorkflowExecution as E
    from byte_core.workflow.runner import run_execution

    manager, _ = scene
    save_definition(database, actor, BACKGROUND)
    checks = []
    for n in range(2):
        save_contact(database, actor, {"first_name": "Tim", "last_name": f"Out{n}", "email": f"tim{n}@example.org"})
        checks.append(start_execution(database, actor, BACKGROUND["name"], f"tim{n}@example.org").id)
    drain_org(database, actor.org_id)
    later = datetime.now(timezone.utc) + timedelta(days=8)
    for execution_id in checks:
        run_execution(database, actor.org_id, execution_id, later)
    with database.session(actor.org_id) as session:
        waiting_review = session.scalar(select(E.id).where(E.current_step_id == "step_3", E.status == "running"))
        failed_by_timeout = session.scalar(select(func.count()).select_from(E).where(
            E.status == "failed", E.last_error.like("%timed out%")))
    run_execution(database, actor.org_id, waiting_review, datetime.now(timezone.utc) + timedelta(days=4))
    rows = timeouts(database, manager, window())
    failed = [r for r in rows if r["what_followed"] == "failed the execution"]
    assert failed_by_timeout == 2
    assert sum(r["timeouts"] for r in failed) == failed_by_timeout
    assert {(r["workflow"], r["what_followed"]) for r in rows} == {
        (BACKGROUND["name"], "failed the execution"), (REVIEW["name"], "escalated")}
    steps = {s["id"]: s["name"] for s in BACKGROUND["steps"]}
    assert failed[0]["step"] == steps["s3"]
    # Executions started before the range are not counted.
    assert timeouts(database, manager, AnalyticsFilter(date.today() - timedelta(days=30),
                                                       date.today() - timedelta(days=2))) == []


def test_pipeline_board_counts_running_and_overdue_per_phase(database, actor, scene):
    from sqlalchemy import update

    from byte_core.analytics import pipeline_board
    from byte_core.models import Task

    manager, _ = scene
    board = pipeline_board(database, manager)
    review = [r for r in board if r["workflow"] == REVIEW["name"]]
    assert [r["phase"] for r in review] == ["Initial Review", "Decision", "Notify"]
    assert [r["running"] for r in review] == [1, 0, 2]
    assert all(r["overdue"] == 0 for r in review)
    with database.session(actor.org_id) as session:
        session.execute(update(Task).where(Task.status.in_(("todo", "in_progress")), Task.assigned_role == "hr")
                        .values(due_date=date.today() - timedelta(days=1)))
    review = [r for r in pipeline_board(database, manager) if r["workflow"] == REVIEW["name"]]
    assert [r["overdue"] for r in review] == [0, 0, 2]


def test_week_over_week_counts_this_week_and_the_one_before(database, actor, scene):
    from sqlalchemy import update

    from byte_core.analytics import week_over_week
    from byte_core.models import WorkflowExecution as E

    manager, _ = scene
    this_week, last_week = week_over_week(database, manager)
    assert (this_week.started, last_week.started) == (3, 0)
    assert this_week.finished == 0 and this_week.median_cycle_hours is None
    with database.session(actor.org_id) as session:  # one execution started 10 days ago, finished 2 days later
        from datetime import datetime, timezone

        ten_days_ago = datetime.now(timezone.utc) - timedelta(days=10)
        first = session.scalar(select_first_execution())
        session.execute(update(E).where(E.id == first).values(
            started_at=ten_days_ago, status="completed", completed_at=ten_days_ago + timedelta(hours=48)))
    this_week, last_week = week_over_week(database, manager)
    assert (this_week.started, last_week.started) == (2, 1)
    assert (last_week.finished, last_week.median_cycle_hours) == (1, 48.0)


def select_first_execution():
    from sqlalchemy import select

    from byte_core.models import WorkflowExecution as E

    return select(E.id).order_by(E.started_at).limit(1)
