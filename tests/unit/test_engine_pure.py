"""Unit tier: the pure engine and its step handlers, without PostgreSQL. A run reads a snapshot and
returns its effects as data; these tests feed snapshots and read results."""
from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import datetime, timedelta, timezone

from byte_core.demo import WORKFLOW_DIR
from byte_core.workflow.definition import parse_definition
from byte_core.workflow.engine import ExecutionState, Snapshot, TaskState, VisitState, run_execution

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=timezone.utc)
REVIEW = parse_definition(json.loads((WORKFLOW_DIR / "application_review.json").read_text()))
CONTACT = {"id": uuid.uuid4(), "first_name": "Ann", "last_name": "Lee", "email": "ann@example.org", "tags": [],
           "metadata": {}}


def _execution(**changes) -> ExecutionState:
    base = ExecutionState(uuid.uuid4(), "org_x", uuid.uuid4(), 1, CONTACT["id"], "step_1", "phase_1", 0, {}, "manual",
                          None, {})
    return replace(base, **changes)


def _snapshot(execution: ExecutionState, visit=None, tasks=None, users=None) -> Snapshot:
    return Snapshot(execution, visit, tasks or {}, CONTACT, users or {})


def test_a_new_execution_runs_to_its_first_wait_and_returns_rows_not_objects():
    result = run_execution(_snapshot(_execution()), REVIEW, NOW)
    assert result.failure is None and result.ended is None
    assert [v.step_id for v in result.new_visits] == ["step_1", "step_2", "step_3"]
    assert [v.status for v in result.new_visits] == ["completed", "completed", "waiting"]
    (task,) = result.new_tasks
    assert task["title"] == "Review application: Ann Lee" and task["assigned_role"] == "reviewer"
    assert task["step_visit_id"] == result.new_visits[1].id and task["version"] == 1
    assert result.execution["current_step_id"] == "step_3" and result.execution["next_run_at"] is not None
    assert result.new_visits[2].timeout_at == NOW + timedelta(days=3)
    assert {row["action"] for row in result.activity} == {"step_completed", "task_created"}


def _waiting_on_approval(task_status="todo", **task_fields):
    task_id = uuid.uuid4()
    visit = VisitState(uuid.uuid4(), 4, "step_4", "phase_1", "wait_for_approval", NOW - timedelta(days=1),
                       status="waiting", timeout_at=NOW + timedelta(days=4), output={"task_id": str(task_id)})
    task = TaskState(task_id, "Approve application: Ann Lee", task_status, **task_fields)
    execution = _execution(current_step_id="step_4", step_seq=4,
                           variables={"step_4": {"task_id": str(task_id)}})
    return _snapshot(execution, visit, {task_id: task}), task


def test_an_approved_decision_takes_the_approved_branch():
    snapshot, _ = _waiting_on_approval("done", outcome="approved", outcome_comment="Strong file",
                                       completed_by="user_m")
    result = run_execution(snapshot, REVIEW, NOW)
    assert result.execution["current_step_id"] == "step_7"
    assert result.execution["variables"]["step_4"]["comment"] == "Strong file"
    assert result.changed_visits[0].status == "completed" and result.changed_visits[0].outcome == "approved"


def test_an_open_approval_waits_and_changes_nothing():
    snapshot, _ = _waiting_on_approval()
    result = run_execution(snapshot, REVIEW, NOW)
    assert result.new_visits == [] and result.changed_visits == [] and result.new_tasks == []
    assert result.execution["next_run_at"] == NOW + timedelta(days=4)


def test_a_timed_out_review_escalates_its_task_to_the_manager_role():
    task_id = uuid.uuid4()
    visit = VisitState(uuid.uuid4(), 3, "step_3", "phase_1", "wait_for_task", NOW - timedelta(days=4),
                       status="waiting", timeout_at=NOW - timedelta(hours=1))
    execution = _execution(current_step_id="step_3", step_seq=3, variables={"step_2": {"task_id": str(task_id)}})
    snapshot = _snapshot(execution, visit, {task_id: TaskState(task_id, "Review", "todo", assigned_role="reviewer")})
    result = run_execution(snapshot, REVIEW, NOW)
    assert result.task_changes == [(task_id, {"assigned_role": "manager", "assigned_to": None, "status": "todo",
                                              "updated_at": NOW})]
    assert result.execution["next_run_at"] is None and result.changed_visits[0].timeout_at is None


def test_a_failing_step_becomes_a_failure_result_for_that_execution_only():
    broken = parse_definition({**json.loads((WORKFLOW_DIR / "application_review.json").read_text())})
    snapshot = _snapshot(_execution(current_step_id="nope"))
    result = run_execution(snapshot, broken, NOW)
    assert result.failure == ("nope", "nope: step 'nope' does not exist in version 1 of the definition")
    assert result.new_visits == [] and result.new_tasks == []
    assert [row["action"] for row in result.activity] == ["execution_failed"]


def test_a_task_for_a_named_user_reads_the_preloaded_users_and_fails_clearly_without_one():
    data = json.loads((WORKFLOW_DIR / "application_review.json").read_text())
    data["steps"][1]["config"]["assign_to"] = {"type": "user", "user": "Riley@Example.com"}
    named = parse_definition(data)
    ok = run_execution(_snapshot(_execution(), users={"riley@example.com": "user_riley"}), named, NOW)
    assert ok.new_tasks[0]["assigned_to"] == "user_riley" and ok.new_tasks[0]["status"] == "in_progress"
    missing = run_execution(_snapshot(_execution(), users={"riley@example.com": None}), named, NOW)
    assert missing.failure is not None and "not an active user" in missing.failure[1]


def test_a_retried_visit_restarts_its_timer_from_the_retry():
    snapshot, _ = _waiting_on_approval()
    visit = replace(snapshot.visit, status="running", timeout_at=None,
                    output={**snapshot.visit.output, "timer_restarted_at": NOW.isoformat()})
    result = run_execution(replace(snapshot, visit=visit), REVIEW, NOW)
    assert result.changed_visits[0].timeout_at == NOW + timedelta(days=5)
    assert result.new_tasks == []  # the re-opened task is waited on again, never duplicated
