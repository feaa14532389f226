"""The engine, pure: a run reads a snapshot of one execution and returns what should change, as data.

It runs no SQL and creates no ORM objects, so it is unit-tested without PostgreSQL (tests/unit/).
`workflow/store.py` loads snapshots for a batch of claimed executions and applies the results in the
batch's transaction; a run that raises fails that execution alone (DESIGN.md §7).

- Each visit to a step is a `VisitState` (a `workflow_execution_steps` row, seq 1, 2, ...). Tasks are
  keyed by their visit (`tasks.step_visit_id` is UNIQUE), so a step re-run can never create a second task.
- Handlers (one per step type, in `workflow/steps/`, found through the registry) read the definition, the
  execution's variables, the current visit, the tasks the execution owns and the contact; they never wait
  on anything but data in the snapshot.
"""
from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any, Callable

from .definition import Definition, Step
from .step_results import WAIT, Finish, Next, StepFailed, _Wait
from .steps.registry import STEP_TYPES
from .templates import render

MAX_STEPS_PER_RUN = 500
CONTACT_FIELDS = ("first_name", "last_name", "email", "phone", "address_line_1", "address_line_2", "city",
                  "state", "zip")


# --- the snapshot a run reads -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ExecutionState:
    id: uuid.UUID
    org_id: str
    workflow_definition_id: uuid.UUID
    definition_version: int
    contact_id: uuid.UUID
    current_step_id: str | None
    current_phase_id: str | None
    step_seq: int
    variables: dict[str, Any]
    source: str | None
    source_id: str | None
    metadata: dict[str, Any]


@dataclass
class VisitState:
    """One visit of an execution to a step (the only name for it: a "step visit")."""

    id: uuid.UUID
    seq: int
    step_id: str
    phase_id: str | None
    step_type: str
    entered_at: datetime
    status: str = "running"
    outcome: str | None = None
    left_at: datetime | None = None
    duration_ms: int | None = None
    timeout_at: datetime | None = None
    output: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True)
class TaskState:
    id: uuid.UUID
    title: str
    status: str
    outcome: str | None = None
    outcome_comment: str | None = None
    completed_by: str | None = None
    assigned_to: str | None = None
    assigned_role: str | None = None


@dataclass(frozen=True)
class Snapshot:
    execution: ExecutionState
    visit: VisitState | None
    tasks: dict[uuid.UUID, TaskState]
    contact: dict[str, Any] | None
    #: user key (id or lower-case email) named by `assign_to: {type: user}` -> active user id, or None
    users: dict[str, str | None]


# --- what a run returns -----------------------------------------------------------------------------------------
@dataclass
class RunResult:
    execution_id: uuid.UUID
    execution: dict[str, Any] = field(default_factory=dict)
    new_visits: list[VisitState] = field(default_factory=list)
    changed_visits: list[VisitState] = field(default_factory=list)
    new_tasks: list[dict[str, Any]] = field(default_factory=list)
    #: (task id, values) for tasks that existed before the run (escalation)
    task_changes: list[tuple[uuid.UUID, dict[str, Any]]] = field(default_factory=list)
    contact_changes: dict[str, Any] = field(default_factory=dict)
    activity: list[dict[str, Any]] = field(default_factory=list)
    steps_done: int = 0
    #: set when the execution failed: (failing step id, message); then only `execution`/`activity` apply
    failure: tuple[str | None, str] | None = None
    #: "completed" or "failed" when the run ended the execution
    ended: str | None = None


class Run:
    """One execution's advance: walks steps until it must wait or ends."""

    def __init__(self, snapshot: Snapshot, definition: Definition, now: datetime):
        self.snapshot, self.definition, self.now = snapshot, definition, now
        self.execution = snapshot.execution
        self.result = RunResult(snapshot.execution.id)
        self.variables: dict[str, Any] = copy.deepcopy(self.execution.variables or {})
        self.step_seq = self.execution.step_seq
        self.step_id = self.execution.current_step_id
        self.phase_id = self.execution.current_phase_id
        self.visit = replace(snapshot.visit, output=dict(snapshot.visit.output or {})) if snapshot.visit else None
        self.visit_is_new = False
        self.tasks: dict[uuid.UUID, TaskState] = dict(snapshot.tasks)
        self.contact_changes: dict[str, Any] = {}
        self.next_run_at: datetime | None = None
        self.final: Finish | None = None

    # --- context ---------------------------------------------------------------------------------
    def context(self) -> dict[str, Any]:
        contact = self.snapshot.contact
        contact_data: dict[str, Any] = {}
        if contact is not None:
            contact_data = {name: contact.get(name) for name in CONTACT_FIELDS}
            contact_data["id"] = str(contact["id"])
            contact_data["metadata"] = self.contact_changes.get("metadata", contact.get("metadata")) or {}
            contact_data["tags"] = self.contact_changes.get("tags", contact.get("tags")) or []
        return {**self.variables, "variables": self.variables, "contact": contact_data,
                "trigger": self.variables.get("trigger", {}),
                "execution": {"id": str(self.execution.id), "source": self.execution.source,
                              "source_id": self.execution.source_id}}

    def render(self, text: str | None) -> str | None:
        return render(text, self.context()) if text else text

    # --- the walk ----------------------------------------------------------------------------------
    def run(self) -> RunResult:
        while True:
            if self.result.steps_done >= MAX_STEPS_PER_RUN:
                raise StepFailed(f"more than {MAX_STEPS_PER_RUN} steps without waiting; is there a loop?")
            step = self.definition.step(self.step_id) if self.step_id else None
            if step is None:
                raise StepFailed(f"step {self.step_id!r} does not exist in version "
                                 f"{self.execution.definition_version} of the definition")
            if self.visit is None or self.visit.step_id != step.id or self.visit.status not in ("running", "waiting"):
                self.enter(step)
            outcome = HANDLERS[step.type](self, step)
            if outcome is WAIT:
                break
            if isinstance(outcome, Finish):
                self.leave(step, status="completed" if outcome.status == "completed" else "failed",
                           outcome=outcome.outcome)
                self.final = outcome
                break
            self.leave(step, status=outcome.status, outcome=outcome.outcome)
            next_id = outcome.goto or self.definition.next_step_id(step.id)
            if next_id is None:
                self.final = Finish("completed", "completed")
                break
            self.step_id = next_id
        return self._result()

    def enter(self, step: Step) -> None:
        self._keep_visit()
        self.step_seq += 1
        self.visit = VisitState(id=uuid.uuid4(), seq=self.step_seq, step_id=step.id, phase_id=step.phase_id,
                                step_type=step.type, entered_at=self.now)
        self.visit_is_new = True
        self.step_id, self.phase_id = step.id, step.phase_id

    def _keep_visit(self) -> None:
        """The visit being left goes into the result, as new or as changed."""
        if self.visit is None:
            return
        if self.visit_is_new:
            self.result.new_visits.append(self.visit)
        elif self.visit != self.snapshot.visit:
            self.result.changed_visits.append(self.visit)

    def leave(self, step: Step, *, status: str = "completed", outcome: str | None = None) -> None:
        duration = max(int((self.now - self.visit.entered_at).total_seconds() * 1000), 0)
        self.visit.status, self.visit.outcome, self.visit.left_at, self.visit.duration_ms = status, outcome, self.now, duration
        self.result.steps_done += 1
        self.log("step_completed", {"step_id": step.id, "step": step.name, "type": step.type, "outcome": outcome,
                                    "status": status, "duration_ms": duration})

    def output(self, step: Step, **values: Any) -> dict[str, Any]:
        self.visit.output = {**(self.visit.output or {}), **values}
        self.variables[step.id] = {**self.variables.get(step.id, {}), **values}
        return self.visit.output

    def wait_until(self, when: datetime | None) -> _Wait:
        self.visit.status = "waiting"
        self.next_run_at = when
        return WAIT

    def log(self, action: str, details: dict[str, Any], task_id: uuid.UUID | None = None) -> None:
        self.result.activity.append(activity_row(self.execution, action, details, self.now, task_id))

    def _result(self) -> RunResult:
        self._keep_visit()
        result, execution = self.result, self.execution
        values: dict[str, Any] = {
            "variables": self.variables, "step_seq": self.step_seq, "current_step_id": self.step_id,
            "current_phase_id": self.phase_id, "updated_at": self.now, "next_run_at": self.next_run_at,
            "status": "running", "completed_at": None, "metadata": execution.metadata,
            "last_error": None, "status_reason": None}
        if self.final is not None:
            failed = self.final.status == "failed"
            values.update(status="failed" if failed else "completed", completed_at=None if failed else self.now,
                          next_run_at=None, metadata={**(execution.metadata or {}), "outcome": self.final.outcome})
            if failed:
                values["last_error"] = values["status_reason"] = (
                    f"ended at {self.step_id} with outcome {self.final.outcome}")
            result.ended = values["status"]
            self.log("execution_failed" if failed else "execution_completed",
                     {"outcome": self.final.outcome, "step_id": self.step_id})
        result.execution = values
        result.contact_changes = self.contact_changes
        return result

    # --- tasks -------------------------------------------------------------------------------------
    def create_task(self, step: Step, *, task_type: str, default_title: str) -> TaskState:
        config = step.config
        target = config.get("assign_to") or {}
        role = target.get("role") if target.get("type") == "role" else None
        user_id = None
        if target.get("type") == "user":
            user_id = self.snapshot.users.get(user_key(target.get("user")))
            if user_id is None:
                raise StepFailed(f"assign_to.user {target.get('user')!r} is not an active user of this organization")
        due_days = config.get("due_in_days")
        task_id = uuid.uuid4()
        title = self.render(config.get("title")) or default_title
        row = {
            "id": task_id, "org_id": self.execution.org_id, "workflow_execution_id": self.execution.id,
            "contact_id": self.execution.contact_id, "assigned_to": user_id, "assigned_role": role,
            "title": title, "description": self.render(config.get("description")), "task_type": task_type,
            "status": "in_progress" if user_id else "todo", "priority": config.get("priority", "medium"),
            "due_date": due_date(self.now, due_days), "created_by_step_id": step.id, "step_visit_id": self.visit.id,
            "metadata": {"approval_options": config.get("approval_options", {})} if task_type == "approval" else {},
            "created_at": self.now, "updated_at": self.now, "version": 1}
        self.result.new_tasks.append(row)
        state = TaskState(task_id, title, row["status"], assigned_to=user_id, assigned_role=role)
        self.tasks[task_id] = state
        self.log("task_created", {"step_id": step.id, "title": title, "assigned_role": role,
                                  "assigned_to": user_id, "task_type": task_type}, task_id=task_id)
        return state

    def task(self, task_id: Any) -> TaskState | None:
        try:
            key = uuid.UUID(str(task_id))
        except ValueError:
            return None
        return self.tasks.get(key)

    def wait_on_task(self, step: Step, task: TaskState, *, approval: bool) -> Any:
        if task.status == "done":
            values = {"outcome": task.outcome or "completed", "comment": task.outcome_comment,
                      ("decided_by" if approval else "completed_by"): task.completed_by, "task_id": str(task.id)}
            self.output(step, **values)
            return Next(outcome=values["outcome"])
        if task.status == "cancelled":
            raise StepFailed(f"task {task.title!r} was cancelled, so {step.id} ({step.name}) cannot finish")
        timeout_at = self.visit.timeout_at
        if timeout_at is not None and timeout_at <= self.now:
            return self.time_out(step, task)
        return self.wait_until(timeout_at)

    def time_out(self, step: Step, task: TaskState | None) -> Any:
        policy = step.config.get("on_timeout") or {"action": "fail"}
        days = step.config.get("timeout_days")
        self.log("step_timed_out", {"step_id": step.id, "step": step.name, "policy": policy["action"]})
        if policy["action"] == "goto":
            self.output(step, timed_out=True)
            return Next(goto=policy["step"], status="timed_out", outcome="timed_out")
        if policy["action"] == "escalate" and task is not None:
            changes = {"assigned_role": policy["role"], "assigned_to": None, "status": "todo", "updated_at": self.now}
            self.result.task_changes.append((task.id, changes))
            self.tasks[task.id] = replace(task, assigned_role=policy["role"], assigned_to=None, status="todo")
            self.output(step, escalated_to=policy["role"])
            self.visit.timeout_at = None
            self.log("task_escalated", {"step_id": step.id, "to_role": policy["role"]}, task_id=task.id)
            return self.wait_until(None)
        raise StepFailed(f"{step.id} ({step.name}) timed out after {days:g} days")


def user_key(value: Any) -> str:
    return str(value).strip().lower()


def due_date(now: datetime, days: float | None) -> date | None:
    return (now + timedelta(days=days)).date() if days else None


def activity_row(execution: ExecutionState, action: str, details: dict[str, Any], now: datetime,
                 task_id: uuid.UUID | None = None) -> dict[str, Any]:
    return {"id": uuid.uuid4(), "org_id": execution.org_id, "user_id": None, "entity_type": "workflow_execution",
            "entity_id": execution.id, "workflow_execution_id": execution.id, "contact_id": execution.contact_id,
            "task_id": task_id, "action": action, "details": details, "created_at": now}


# Each step type's handler lives in its module (workflow/steps/), read once from the registry.
HANDLERS: dict[str, Callable[[Run, Step], Any]] = {name: spec.handler for name, spec in STEP_TYPES.items()}


def run_execution(snapshot: Snapshot, definition: Definition, now: datetime) -> RunResult:
    """Advance one execution as far as it can go at `now`. A step that cannot go on (or any bug in a
    handler) becomes a failure result for this execution alone; nothing else is written for it."""
    run: Run | None = None
    try:
        run = Run(snapshot, definition, now)
        return run.run()
    except Exception as exc:  # noqa: BLE001 - one broken execution must not stop the batch
        failing_step = run.step_id if run else snapshot.execution.current_step_id
        return failure_result(snapshot.execution, failing_step, describe_failure(exc, failing_step), now)


def describe_failure(exc: BaseException, failing_step: str | None) -> str:
    known = isinstance(exc, StepFailed) or type(exc).__module__.startswith("byte_core")
    message = str(exc) if known else f"unexpected {type(exc).__name__}: {exc}"
    return message if failing_step is None or message.startswith(failing_step) else f"{failing_step}: {message}"


def failure_result(execution: ExecutionState, failing_step: str | None, reason: str, now: datetime) -> RunResult:
    result = RunResult(execution.id, failure=(failing_step, reason))
    result.activity.append(activity_row(execution, "execution_failed",
                                        {"error": reason, "step_id": failing_step}, now))
    return result
