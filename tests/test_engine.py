"""The engine end to end on the real database: the seed's Application Review Workflow, timeouts,
pinned versions, idempotence, broken executions, concurrent decisions."""
from __future__ import annotations

import copy
import json
import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select, text

from byte_core.access import Actor
from byte_core.demo import WORKFLOW_DIR
from byte_core.errors import Conflict, InvalidInput, PermissionDenied
from byte_core.models import ActivityLog, Contact, Task, WorkflowExecution, StepVisit
from byte_core.users import add_user
from byte_core.workflow.definitions import save_definition
from byte_core.workflow.inspect import explain, get_execution
from byte_core.workflow.runner import drain_org, tick
from byte_core.workflow.commands import change_status, claim_task, complete_task, start_execution

REVIEW = json.loads((WORKFLOW_DIR / "application_review.json").read_text())


@pytest.fixture
def people(database, actor):
    made = {}
    for role in ("reviewer", "manager", "hr"):
        user = add_user(database, actor, f"{role}@{actor.org_id}.example.com", role, password=None)
        made[role] = Actor(actor.org_id, user.id, frozenset([role]), user.email)
    return made


@pytest.fixture
def contact(database, actor):
    with database.session(actor.org_id) as s:
        row = Contact(org_id=actor.org_id, first_name="Ada", last_name="Lovelace", email="ada@example.org")
        s.add(row)
    return row


def open_task(database, org_id, execution_id, step_id) -> Task:
    with database.session(org_id) as s:
        return s.scalar(select(Task).where(Task.workflow_execution_id == execution_id,
                                           Task.created_by_step_id == step_id, Task.status != "done"))


def execution(database, org_id, execution_id) -> WorkflowExecution:
    with database.session(org_id) as s:
        return s.get(WorkflowExecution, execution_id)


def test_application_review_approve_path(database, actor, people, contact):
    save_definition(database, actor, REVIEW)
    started = start_execution(database, actor, REVIEW["name"], "ada@example.org", variables={"position": "Driver"})
    assert started.current_step_id == "step_3"  # trigger and assign ran at once; now waiting for the review
    review = open_task(database, actor.org_id, started.id, "step_2")
    assert review.title == "Review application: Ada Lovelace" and review.assigned_role == "reviewer"

    claim_task(database, people["reviewer"], review.id)
    with pytest.raises(Conflict, match="already claimed by"):
        claim_task(database, people["hr"], review.id)
    complete_task(database, people["reviewer"], review.id)
    drain_org(database, actor.org_id)
    assert execution(database, actor.org_id, started.id).current_step_id == "step_4"

    approval = open_task(database, actor.org_id, started.id, "step_4")
    assert approval.task_type == "approval" and approval.assigned_role == "manager"
    with pytest.raises(InvalidInput, match="comment is required"):
        complete_task(database, people["manager"], approval.id, outcome="approved")
    with pytest.raises(PermissionDenied):
        complete_task(database, people["reviewer"], approval.id, outcome="approved", comment="ok")
    complete_task(database, people["manager"], approval.id, outcome="approved", comment="Great fit")
    drain_org(database, actor.org_id)

    current = execution(database, actor.org_id, started.id)
    assert current.current_step_id == "step_7" and current.current_phase_id == "phase_3"
    assert current.variables["step_4"]["outcome"] == "approved"
    assert current.variables["step_4"]["comment"] == "Great fit"
    assert current.variables["step_4"]["decided_by"] == people["manager"].user_id
    letter = open_task(database, actor.org_id, started.id, "step_6")
    assert letter.description == "Manager's comment: Great fit" and letter.assigned_role == "hr"
    complete_task(database, people["hr"], letter.id)
    drain_org(database, actor.org_id)

    done = get_execution(database, actor, started.id)
    assert done.execution.status == "completed" and done.execution.metadata_["outcome"] == "approved"
    assert [s.step_id for s in done.steps] == ["step_1", "step_2", "step_3", "step_4", "step_5", "step_6",
                                               "step_7", "step_8"]
    assert all(s.status == "completed" and s.left_at is not None and s.duration_ms >= 0 for s in done.steps)
    assert done.explanation.text.startswith("completed with outcome approved")
    with database.session(actor.org_id) as s:
        actions = s.scalars(select(ActivityLog.action).where(ActivityLog.workflow_execution_id == started.id)).all()
    assert actions.count("step_completed") == 8 and "approval_decided" in actions
    assert "execution_completed" in actions and "execution_started" in actions


def test_application_review_reject_path(database, actor, people, contact):
    save_definition(database, actor, REVIEW)
    started = start_execution(database, actor, REVIEW["name"], str(contact.id))
    complete_task(database, people["reviewer"], open_task(database, actor.org_id, started.id, "step_2").id)
    drain_org(database, actor.org_id)
    approval = open_task(database, actor.org_id, started.id, "step_4")
    complete_task(database, people["manager"], approval.id, outcome="rejected", comment="Out of area")
    drain_org(database, actor.org_id)
    notice = open_task(database, actor.org_id, started.id, "step_9")
    assert notice.description == "Reason given: Out of area"
    complete_task(database, people["hr"], notice.id)
    drain_org(database, actor.org_id)
    final = execution(database, actor.org_id, started.id)
    assert final.status == "completed" and final.metadata_["outcome"] == "rejected"
    assert final.current_step_id == "step_11"


def test_second_decision_says_who_decided(database, actor, people, contact):
    save_definition(database, actor, REVIEW)
    started = start_execution(database, actor, REVIEW["name"], "ada@example.org")
    complete_task(database, people["reviewer"], open_task(database, actor.org_id, started.id, "step_2").id)
    drain_org(database, actor.org_id)
    approval = open_task(database, actor.org_id, started.id, "step_4")
    complete_task(database, people["manager"], approval.id, outcome="approved", comment="yes")
    with pytest.raises(Conflict, match=r"already decided by .* \(approved\)"):
        complete_task(database, people["manager"], approval.id, outcome="rejected", comment="no")


def test_twenty_threads_approving_record_one_decision(database, actor, people, contact):
    save_definition(database, actor, REVIEW)
    started = start_execution(database, actor, REVIEW["name"], "ada@example.org")
    complete_task(database, people["reviewer"], open_task(database, actor.org_id, started.id, "step_2").id)
    drain_org(database, actor.org_id)
    approval = open_task(database, actor.org_id, started.id, "step_4")
    results: list[str] = []
    barrier = threading.Barrier(20)

    def decide(i: int) -> None:
        barrier.wait()
        try:
            complete_task(database, people["manager"], approval.id, outcome="approved" if i % 2 else "rejected",
                          comment=f"click {i}")
            results.append("ok")
        except Conflict:
            results.append("conflict")

    threads = [threading.Thread(target=decide, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count("ok") == 1 and results.count("conflict") == 19
    with database.session(actor.org_id) as s:
        decisions = s.scalar(select(func.count()).select_from(ActivityLog).where(
            ActivityLog.task_id == approval.id, ActivityLog.action == "approval_decided"))
    assert decisions == 1


def test_wait_timeout_escalates_then_tick_now_fires_it(database, actor, people, contact):
    save_definition(database, actor, REVIEW)
    started = start_execution(database, actor, REVIEW["name"], "ada@example.org")
    review = open_task(database, actor.org_id, started.id, "step_2")
    assert "times out in 2 days" in explain(database, actor, started.id).text or \
        "times out in 3 days" in explain(database, actor, started.id).text
    tick(database, datetime.now(timezone.utc) + timedelta(days=3, minutes=1))
    escalated = open_task(database, actor.org_id, started.id, "step_2")
    assert escalated.id == review.id and escalated.assigned_role == "manager"
    assert execution(database, actor.org_id, started.id).status == "running"
    assert "held by the Manager queue" in explain(database, actor, started.id).text


def test_approval_timeout_without_policy_fails_naming_the_step(database, actor, people, contact):
    save_definition(database, actor, REVIEW)
    started = start_execution(database, actor, REVIEW["name"], "ada@example.org")
    complete_task(database, people["reviewer"], open_task(database, actor.org_id, started.id, "step_2").id)
    drain_org(database, actor.org_id)
    tick(database, datetime.now(timezone.utc) + timedelta(days=5, minutes=5))
    failed = execution(database, actor.org_id, started.id)
    assert failed.status == "failed"
    assert "step_4 (Manager Approval) timed out after 5 days" in failed.last_error


def goto_on_timeout_definition() -> dict:
    return {
        "name": "Timeout goto",
        "phases": [{"id": "p", "name": "Only", "order": 1}],
        "steps": [
            {"id": "t", "order": 1, "phase_id": "p", "type": "trigger", "name": "Start", "config": {}},
            {"id": "a", "order": 2, "phase_id": "p", "type": "assign_task", "name": "Ask",
             "config": {"title": "Ask {{contact.email}}", "assign_to": {"type": "role", "role": "reviewer"}}},
            {"id": "w", "order": 3, "phase_id": "p", "type": "wait_for_task", "name": "Wait",
             "config": {"task_from_step": "a", "timeout_days": 1, "on_timeout": {"action": "goto", "step": "late"}}},
            {"id": "ok", "order": 4, "phase_id": "p", "type": "end", "name": "In time", "config": {"outcome": "in_time"}},
            {"id": "late", "order": 5, "phase_id": "p", "type": "end", "name": "Late", "config": {"outcome": "late"}},
        ],
    }


def test_timeout_goto_policy(database, actor, contact):
    save_definition(database, actor, goto_on_timeout_definition())
    started = start_execution(database, actor, "Timeout goto", "ada@example.org")
    tick(database, datetime.now(timezone.utc) + timedelta(days=1, minutes=1))
    final = get_execution(database, actor, started.id)
    assert final.execution.status == "completed" and final.execution.metadata_["outcome"] == "late"
    assert [s.status for s in final.steps if s.step_id == "w"] == ["timed_out"]


def test_running_execution_stays_on_its_version(database, actor, people, contact):
    save_definition(database, actor, REVIEW)
    started = start_execution(database, actor, REVIEW["name"], "ada@example.org")
    changed = copy.deepcopy(REVIEW)
    changed["steps"][1]["config"]["title"] = "NEW TITLE {{contact.email}}"
    assert save_definition(database, actor, changed).version == 2
    assert save_definition(database, actor, changed).changed is False  # unchanged: no version 3
    second = start_execution(database, actor, REVIEW["name"], "ada@example.org")
    assert execution(database, actor.org_id, started.id).definition_version == 1
    assert open_task(database, actor.org_id, second.id, "step_2").title == "NEW TITLE ada@example.org"
    complete_task(database, people["reviewer"], open_task(database, actor.org_id, started.id, "step_2").id)
    drain_org(database, actor.org_id)
    assert execution(database, actor.org_id, started.id).current_step_id == "step_4"


def test_rerunning_a_step_never_creates_a_second_task(database, actor, contact):
    save_definition(database, actor, REVIEW)
    started = start_execution(database, actor, REVIEW["name"], "ada@example.org")
    with database.session(actor.org_id) as s:
        task = s.scalar(select(Task).where(Task.workflow_execution_id == started.id))
    # The database itself refuses a second task for the same step run.
    with pytest.raises(Exception, match="tasks_one_per_step_visit"):
        with database.session(actor.org_id) as s:
            s.execute(text("INSERT INTO tasks (org_id, title, step_visit_id) VALUES (:o, 'dup', :r)"),
                      {"o": actor.org_id, "r": task.step_visit_id})
    # Re-advancing the waiting execution many times adds nothing.
    for _ in range(3):
        with database.session(actor.org_id) as s:
            s.execute(text("UPDATE workflow_executions SET next_run_at = now() WHERE id = :id"), {"id": started.id})
        drain_org(database, actor.org_id)
    with database.session(actor.org_id) as s:
        assert s.scalar(select(func.count()).select_from(Task).where(Task.workflow_execution_id == started.id)) == 1
        assert s.scalar(select(func.count()).select_from(StepVisit).where(
            StepVisit.workflow_execution_id == started.id)) == 3


def broken_definition() -> dict:
    return {
        "name": "Broken template",
        "phases": [{"id": "p", "name": "Only", "order": 1}],
        "steps": [
            {"id": "t", "order": 1, "phase_id": "p", "type": "trigger", "name": "Start", "config": {}},
            {"id": "c", "order": 2, "phase_id": "p", "type": "set_variable", "name": "Copy",
             "config": {"name": "x", "value": "{{variables.missing_value}}"}},
            {"id": "e", "order": 3, "phase_id": "p", "type": "end", "name": "End", "config": {}},
        ],
    }


def test_broken_execution_fails_alone(database, actor, contact):
    save_definition(database, actor, broken_definition())
    save_definition(database, actor, REVIEW)
    broken = start_execution(database, actor, "Broken template", "ada@example.org", run_now=False)
    healthy = start_execution(database, actor, REVIEW["name"], "ada@example.org", run_now=False)
    drain_org(database, actor.org_id)
    failed = execution(database, actor.org_id, broken.id)
    assert failed.status == "failed" and failed.last_error.startswith("c:")
    assert "missing_value" in failed.last_error
    assert execution(database, actor.org_id, healthy.id).current_step_id == "step_3"
    # retry after the data is fixed: the execution resumes
    with database.session(actor.org_id) as s:
        s.execute(text("UPDATE workflow_executions SET variables = variables || '{\"missing_value\": 5}' "
                       "WHERE id = :id"), {"id": broken.id})
    change_status(database, actor, broken.id, "retry", "value supplied")
    drain_org(database, actor.org_id)
    assert execution(database, actor.org_id, broken.id).status == "completed"


def test_pause_resume_cancel(database, actor, people, contact):
    save_definition(database, actor, REVIEW)
    started = start_execution(database, actor, REVIEW["name"], "ada@example.org")
    with pytest.raises(InvalidInput, match="reason"):
        change_status(database, actor, started.id, "pause", " ")
    change_status(database, actor, started.id, "pause", "waiting on policy")
    assert "paused at Wait for Review" in explain(database, actor, started.id).text
    with pytest.raises(Conflict):
        change_status(database, actor, started.id, "pause", "again")
    with pytest.raises(PermissionDenied):
        change_status(database, people["reviewer"], started.id, "resume", "me")
    change_status(database, actor, started.id, "resume", "policy settled")
    change_status(database, actor, started.id, "cancel", "withdrew")
    assert execution(database, actor.org_id, started.id).status == "cancelled"
    with database.session(actor.org_id) as s:
        statuses = set(s.scalars(select(Task.status).where(Task.workflow_execution_id == started.id)))
    assert statuses == {"cancelled"}


def test_delay_set_variable_update_contact(database, actor, people, contact):
    onboarding = json.loads((WORKFLOW_DIR / "client_onboarding.json").read_text())
    save_definition(database, actor, onboarding)
    started = start_execution(database, actor, onboarding["name"], "ada@example.org")
    complete_task(database, people["hr"], open_task(database, actor.org_id, started.id, "call").id)
    drain_org(database, actor.org_id)
    complete_task(database, people["reviewer"], open_task(database, actor.org_id, started.id, "docs").id,
                  outcome="approved")
    drain_org(database, actor.org_id)
    assert execution(database, actor.org_id, started.id).current_step_id == "cooling"
    tick(database, datetime.now(timezone.utc) + timedelta(days=1, minutes=1))
    final = execution(database, actor.org_id, started.id)
    assert final.status == "completed" and final.variables["activated_by_workflow"] == str(started.id)
    with database.session(actor.org_id) as s:
        updated = s.get(Contact, contact.id)
    assert {"client", "active"} <= set(updated.tags) and updated.metadata_["onboarded"] is True
