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
from byte_core.workflow.service import complete_task, start_execution
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
