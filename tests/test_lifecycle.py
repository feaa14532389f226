"""Issue [A]'s five reproductions, each now ending in a clear refusal or the right state, on the real
database: stale claims, tasks outliving their execution, retry duplicating work, reassign ignoring who
may decide, one poisoned execution stalling its organization."""
from __future__ import annotations

import json
import secrets
from pathlib import Path
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select, text

from byte_core.access import Actor
from byte_core.dashboard import recent_failures, scheduler_health
from byte_core.demo import WORKFLOW_DIR
from byte_core.errors import Conflict, InvalidInput, PermissionDenied
from byte_core.models import ActivityLog, Contact, Task, WorkflowExecution
from byte_core.users import add_user
from byte_core.workflow.commands import (change_status, claim_task, complete_task, decide_on_behalf, reassign_tasks,
                                         release_task, start_execution)
from byte_core.workflow.definitions import save_definition
from byte_core.workflow.runner import drain_org

REVIEW = json.loads((WORKFLOW_DIR / "application_review.json").read_text())
# A review whose manager approval fails the execution when it times out (no escalation).
STRICT = {**REVIEW, "name": "Strict Review", "steps": [
    {**s, "config": {**s["config"], "on_timeout": {"action": "fail"}}} if s["id"] == "step_4" else s
    for s in REVIEW["steps"]]}


@pytest.fixture
def people(database, actor):
    made = {}
    for name, roles in (("riley", "reviewer"), ("sam", "reviewer"), ("morgan", "manager"), ("ada", "admin"),
                        ("harper", "hr")):
        user = add_user(database, actor, f"{name}@{actor.org_id}.example.com", roles, password=None)
        made[name] = Actor(actor.org_id, user.id, frozenset([roles]), user.email)
    return made


def _contact(database, org_id, email="ann@example.org") -> str:
    with database.session(org_id) as s:
        s.add(Contact(org_id=org_id, first_name="Ann", last_name="Lee", email=email))
    return email


def _tasks(database, org_id, execution_id) -> list[Task]:
    with database.session(org_id) as s:
        return list(s.scalars(select(Task).where(Task.workflow_execution_id == execution_id).order_by(Task.created_at)))


def _open(database, org_id, execution_id) -> list[Task]:
    return [t for t in _tasks(database, org_id, execution_id) if t.status in ("todo", "in_progress")]


def _execution(database, org_id, execution_id) -> WorkflowExecution:
    with database.session(org_id) as s:
        return s.get(WorkflowExecution, execution_id)


def _at_manager_approval(database, actor, people, definition=REVIEW, email="ann@example.org"):
    save_definition(database, actor, definition)
    started = start_execution(database, actor, definition["name"], _contact(database, actor.org_id, email))
    review = _open(database, actor.org_id, started.id)[0]
    complete_task(database, people["riley"], review.id)
    drain_org(database, actor.org_id)
    approval = _open(database, actor.org_id, started.id)[0]
    assert approval.task_type == "approval"
    return started, approval


# --- 1. a stale view never acts on another task -------------------------------------------------------------
def test_claim_with_what_the_person_saw_is_refused_when_someone_else_claimed_first(database, actor, people):
    save_definition(database, actor, REVIEW)
    started = start_execution(database, actor, REVIEW["name"], _contact(database, actor.org_id))
    seen = _open(database, actor.org_id, started.id)[0]
    claim_task(database, people["sam"], seen.id, expected_version=seen.version)
    with pytest.raises(Conflict, match="already claimed by"):
        claim_task(database, people["riley"], seen.id, expected_version=seen.version)
    now = _open(database, actor.org_id, started.id)[0]
    assert now.assigned_to == people["sam"].user_id and now.version == seen.version + 1


def test_any_change_since_the_person_looked_refuses_the_command(database, actor, people):
    save_definition(database, actor, REVIEW)
    started = start_execution(database, actor, REVIEW["name"], _contact(database, actor.org_id))
    seen = _open(database, actor.org_id, started.id)[0]
    claim_task(database, people["sam"], seen.id)
    release_task(database, people["sam"], seen.id)
    with pytest.raises(Conflict, match="changed since you opened it"):
        complete_task(database, people["riley"], seen.id, expected_version=seen.version)
    assert _open(database, actor.org_id, started.id)[0].status == "todo"


# --- 2. tasks never outlive their execution; paused tasks are frozen ----------------------------------------
def test_a_failed_execution_closes_its_open_tasks(database, actor, people):
    started, approval = _at_manager_approval(database, actor, people, STRICT)
    drain_org(database, actor.org_id, now=datetime.now(timezone.utc) + timedelta(days=6))
    execution = _execution(database, actor.org_id, started.id)
    assert execution.status == "failed" and "timed out after 5 days" in execution.last_error
    assert _open(database, actor.org_id, started.id) == []
    closed = next(t for t in _tasks(database, actor.org_id, started.id) if t.id == approval.id)
    assert closed.status == "cancelled" and "timed out" in closed.closed_reason
    with pytest.raises(Conflict, match="closed"):
        complete_task(database, people["morgan"], approval.id, outcome="approved", comment="late")


def test_a_paused_execution_freezes_its_tasks_until_resumed(database, actor, people):
    started, approval = _at_manager_approval(database, actor, people)
    change_status(database, actor, started.id, "pause", "Waiting for a policy decision")
    with pytest.raises(Conflict, match="paused since .*Waiting for a policy decision.*resume it first"):
        complete_task(database, people["morgan"], approval.id, outcome="approved", comment="ok")
    with pytest.raises(Conflict, match="paused"):
        claim_task(database, people["morgan"], approval.id)
    assert [t.id for t in _open(database, actor.org_id, started.id)] == [approval.id]  # still visible
    change_status(database, actor, started.id, "resume", "Policy decided")
    complete_task(database, people["morgan"], approval.id, outcome="approved", comment="ok")
    drain_org(database, actor.org_id)
    assert _execution(database, actor.org_id, started.id).current_step_id == "step_7"


def test_cancelling_closes_open_tasks_with_the_reason(database, actor, people):
    started, approval = _at_manager_approval(database, actor, people)
    change_status(database, actor, started.id, "cancel", "Applicant withdrew")
    closed = next(t for t in _tasks(database, actor.org_id, started.id) if t.id == approval.id)
    assert closed.status == "cancelled" and closed.closed_reason == "the execution was cancelled: Applicant withdrew"
    with database.session(actor.org_id) as s:
        assert s.scalar(select(func.count()).select_from(ActivityLog).where(
            ActivityLog.task_id == approval.id, ActivityLog.action == "task_closed")) == 1


# --- 3. retry never duplicates ------------------------------------------------------------------------------
def test_retry_reopens_the_failed_steps_task_instead_of_adding_one(database, actor, people):
    started, approval = _at_manager_approval(database, actor, people, STRICT)
    late = datetime.now(timezone.utc) + timedelta(days=6)
    drain_org(database, actor.org_id, now=late)
    change_status(database, actor, started.id, "retry", "Manager is back")
    drain_org(database, actor.org_id)
    open_now = _open(database, actor.org_id, started.id)
    assert [t.id for t in open_now] == [approval.id]  # the same task, open again: no second approval
    execution = _execution(database, actor.org_id, started.id)
    assert execution.status == "running" and execution.current_step_id == "step_4"
    complete_task(database, people["morgan"], approval.id, outcome="approved", comment="Fine")
    drain_org(database, actor.org_id)
    assert _execution(database, actor.org_id, started.id).current_step_id == "step_7"
    with database.session(actor.org_id) as s:
        approvals = s.scalar(select(func.count()).select_from(Task).where(
            Task.workflow_execution_id == started.id, Task.task_type == "approval"))
    assert approvals == 1


# --- 4. reassign and decide respect who may decide ----------------------------------------------------------
def test_reassign_refuses_a_person_without_the_tasks_role(database, actor, people):
    started, approval = _at_manager_approval(database, actor, people)
    with pytest.raises(PermissionDenied, match="needs the manager role"):
        reassign_tasks(database, people["morgan"], [approval.id], to_user=people["riley"].email)
    assert _open(database, actor.org_id, started.id)[0].assigned_to is None
    with pytest.raises(PermissionDenied):
        complete_task(database, people["riley"], approval.id, outcome="approved", comment="sneaky")


def test_reassign_to_a_role_moves_the_queue_and_then_that_role_decides(database, actor, people):
    started, approval = _at_manager_approval(database, actor, people)
    assert reassign_tasks(database, people["morgan"], [(approval.id, approval.version)], to_role="hr") == 1
    with pytest.raises(PermissionDenied):
        complete_task(database, people["morgan"], approval.id, outcome="approved", comment="mine")
    complete_task(database, people["harper"], approval.id, outcome="approved", comment="HR decided")


def test_an_admin_decides_on_behalf_only_explicitly_and_it_is_recorded(database, actor, people):
    started, approval = _at_manager_approval(database, actor, people)
    with pytest.raises(PermissionDenied, match="on its behalf"):
        complete_task(database, people["ada"], approval.id, outcome="approved", comment="ok")
    with pytest.raises(InvalidInput, match="say why"):
        decide_on_behalf(database, people["ada"], approval.id, outcome="approved", comment="")
    with pytest.raises(PermissionDenied, match="Only an admin"):
        decide_on_behalf(database, people["riley"], approval.id, outcome="approved", comment="because")
    decide_on_behalf(database, people["ada"], approval.id, outcome="approved", comment="Manager on leave")
    with database.session(actor.org_id) as s:
        row = s.scalar(select(ActivityLog).where(ActivityLog.task_id == approval.id,
                                                 ActivityLog.action == "approval_decided_on_behalf"))
    assert row is not None and row.details["on_behalf_of"] == "the manager role"


# --- 5. one poisoned execution fails alone ----------------------------------------------------------------
def test_a_step_the_database_refuses_fails_that_execution_alone(database, actor, people):
    """A definition stored before validation existed, with a 5,001-character step id: the btree index on
    step visits refuses it. The batch goes on; that execution fails with a readable error."""
    long_id = "s" + secrets.token_urlsafe(3800)[:5000]  # random, so compression cannot shrink it under the limit
    poisoned = {"name": "Poisoned", "phases": [{"id": "p", "name": "P", "order": 1}], "variables": {},
                "steps": [{"id": "start", "order": 1, "phase_id": "p", "type": "trigger", "name": "Start", "config": {}},
                          {"id": long_id, "order": 2, "phase_id": "p", "type": "delay", "name": "Wait",
                           "config": {"days": 1}}]}
    save_definition(database, actor, {**poisoned, "steps": [poisoned["steps"][0]]})
    with database.session(actor.org_id) as s:  # what an older, unvalidated version could hold
        s.execute(text("UPDATE workflow_definition_versions SET steps = CAST(:steps AS jsonb) WHERE "
                       "workflow_definition_id = (SELECT id FROM workflow_definitions WHERE name = 'Poisoned')"),
                  {"steps": json.dumps({"steps": poisoned["steps"]})})
    save_definition(database, actor, REVIEW)
    good = start_execution(database, actor, REVIEW["name"], _contact(database, actor.org_id), run_now=False)
    bad = start_execution(database, actor, "Poisoned", _contact(database, actor.org_id, "bo@example.org"),
                          run_now=False)
    drain_org(database, actor.org_id)
    assert _execution(database, actor.org_id, good.id).current_step_id == "step_3"
    failed = _execution(database, actor.org_id, bad.id)
    assert failed.status == "failed" and "the database refused this step's data" in failed.last_error
    total, latest = recent_failures(database, actor)
    assert total == 1 and latest[0].execution_id == bad.id


def test_scheduler_health_carries_no_error_text_from_any_organization(database):
    assert all(not hasattr(worker, "last_error") for worker in scheduler_health(database))


def test_a_stale_claim_click_in_the_task_queue_claims_nothing_else(database, actor, people):
    """The page's Claim button carries the task and version drawn on screen: when another reviewer took
    that task meanwhile, the click is refused with who took it, and the new top row stays unclaimed."""
    from streamlit.testing.v1 import AppTest

    save_definition(database, actor, REVIEW)
    first = start_execution(database, actor, REVIEW["name"], _contact(database, actor.org_id, "a@example.org"))
    second = start_execution(database, actor, REVIEW["name"], _contact(database, actor.org_id, "b@example.org"))
    riley = people["riley"]
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "pages" / "tasks.py"), default_timeout=30)
    at.session_state["actor"] = riley
    at.run()
    at.segmented_control(key="tq_queue").set_value("reviewer").run()
    shown = at.session_state["tq_open"]  # the first task of the queue opens by itself
    claim_task(database, people["sam"], shown)  # someone else, while riley looks at it
    at.button(key="tq_claim").click().run()
    assert any("already claimed by" in e.value for e in at.error)
    others = [t for e in (first, second) for t in _open(database, actor.org_id, e.id) if t.id != shown]
    assert len(others) == 1 and others[0].assigned_to is None
