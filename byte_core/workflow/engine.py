"""The engine: advances executions step by step inside the caller's transaction.

Design (DESIGN.md §4):
- An execution is due when `status = 'running' AND next_run_at <= now`; workers claim due rows with
  FOR UPDATE SKIP LOCKED and advance a whole batch in one transaction, so a crash rolls the batch
  back and another worker redoes it; nothing is half-applied.
- A run of one execution collects its writes in `Effects` and they are applied only when the run
  succeeds: a broken execution (bad template, missing step) fails alone, the rest of the batch goes on.
- Each visit to a step is a `workflow_execution_steps` row (seq 1, 2, ...); tasks are keyed by that
  row (`tasks.step_run_id` is UNIQUE), so a step re-run can never create a second task.
"""
from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from ..bulk_insert import insert_rows
from ..models import ActivityLog, Contact, Task, User, WorkflowExecution, WorkflowExecutionStep
from ..notifications import emit, events_from_activity, execution_event
from .definition import Definition, Step
from .definitions import load_version
from .templates import resolve, render

WAIT_TYPES = {"wait_for_task", "wait_for_approval", "delay"}
MAX_STEPS_PER_RUN = 500
CONTACT_FIELDS = ("id", "first_name", "last_name", "email", "phone", "address_line_1", "address_line_2", "city",
                  "state", "zip", "tags")


class StepFailed(Exception):
    """A step cannot go on; the message is shown to people as the execution's error."""


@dataclass
class Effects:
    adds: list[Any] = field(default_factory=list)
    changes: list[tuple[Any, dict[str, Any]]] = field(default_factory=list)
    # Audit rows as plain dicts: they are only ever inserted, so they skip the ORM's per-object bookkeeping
    # (a third of a batch's Python time when they were objects) and go in through insert_rows.
    activity: list[dict[str, Any]] = field(default_factory=list)

    def change(self, obj: Any, **values: Any) -> None:
        self.changes.append((obj, values))

    def apply(self, pending: list[Any]) -> None:
        for obj, values in self.changes:
            for key, value in values.items():
                setattr(obj, key, value)
        pending.extend(self.adds)


@dataclass
class NewVisit:
    """A step visit created in this run: a plain object inserted as a dict (no ORM bookkeeping), with the
    attributes the run reads on loaded `WorkflowExecutionStep` rows."""

    id: uuid.UUID
    org_id: str
    workflow_execution_id: uuid.UUID
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


@dataclass
class Batch:
    """What a batch run loads once for all its executions."""

    session: Session
    now: datetime
    contacts: dict[uuid.UUID, Contact]
    visits: dict[uuid.UUID, "WorkflowExecutionStep | NewVisit"]
    tasks: dict[uuid.UUID, Task]
    users_by_key: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    def load(cls, session: Session, executions: list[WorkflowExecution], now: datetime) -> "Batch":
        ids = [e.id for e in executions]
        contacts = {c.id: c for c in session.scalars(
            select(Contact).where(Contact.id.in_({e.contact_id for e in executions})))}
        pairs = [(e.id, e.step_seq) for e in executions if e.step_seq]
        visits = {}
        if pairs:
            visits = {v.workflow_execution_id: v for v in session.scalars(select(WorkflowExecutionStep).where(
                tuple_(WorkflowExecutionStep.workflow_execution_id, WorkflowExecutionStep.seq).in_(pairs)))}
        tasks = {t.id: t for t in session.scalars(select(Task).where(Task.workflow_execution_id.in_(ids),
                                                                     Task.step_run_id.is_not(None)))}
        return cls(session, now, contacts, visits, tasks)

    def user_id_for(self, key: str) -> str | None:
        if key not in self.users_by_key:
            self.users_by_key[key] = self.session.scalar(select(User.id).where(
                (User.id == key) | (User.email == key.lower()), User.is_active.is_(True)))
        return self.users_by_key[key]


@dataclass
class AdvanceStats:
    executions: int = 0
    steps: int = 0
    failed: int = 0


class Run:
    """One execution's advance: walks steps until it must wait or ends."""

    def __init__(self, batch: Batch, execution: WorkflowExecution, definition: Definition):
        self.batch, self.execution, self.definition = batch, execution, definition
        self.now = batch.now
        self.fx = Effects()
        self.variables: dict[str, Any] = copy.deepcopy(execution.variables or {})
        self.step_seq = execution.step_seq
        self.step_id = execution.current_step_id
        self.phase_id = execution.current_phase_id
        self.visit = batch.visits.get(execution.id)
        self.visit_is_new = False
        self.new_tasks: dict[uuid.UUID, Task] = {}
        self.steps_done = 0
        self.contact_changes: dict[str, Any] = {}
        self.next_run_at: datetime | None = None
        self.final: Finish | None = None

    # --- context ---------------------------------------------------------------------------------
    def context(self) -> dict[str, Any]:
        contact = self.batch.contacts.get(self.execution.contact_id)
        contact_data = {name: getattr(contact, name) for name in CONTACT_FIELDS} if contact else {}
        if contact is not None:
            contact_data["id"] = str(contact.id)
            contact_data["metadata"] = self.contact_changes.get("metadata_", contact.metadata_) or {}
            contact_data["tags"] = self.contact_changes.get("tags", contact.tags) or []
        return {**self.variables, "variables": self.variables, "contact": contact_data,
                "trigger": self.variables.get("trigger", {}),
                "execution": {"id": str(self.execution.id), "source": self.execution.source,
                              "source_id": self.execution.source_id}}

    def render(self, text: str | None) -> str | None:
        return render(text, self.context()) if text else text

    # --- the walk ----------------------------------------------------------------------------------
    def run(self) -> None:
        while True:
            if self.steps_done >= MAX_STEPS_PER_RUN:
                raise StepFailed(f"more than {MAX_STEPS_PER_RUN} steps without waiting; is there a loop?")
            step = self.definition.step(self.step_id) if self.step_id else None
            if step is None:
                raise StepFailed(f"step {self.step_id!r} does not exist in version "
                                 f"{self.execution.definition_version} of the definition")
            if self.visit is None or self.visit.step_id != step.id or self.visit.status not in ("running", "waiting"):
                self.enter(step)
            outcome = HANDLERS[step.type](self, step)
            if outcome is WAIT:
                return
            if isinstance(outcome, Finish):
                self.finish(outcome)
                return
            self.leave(step, status=outcome.status, outcome=outcome.outcome)
            next_id = outcome.goto or self.definition.next_step_id(step.id)
            if next_id is None:
                self.finish(Finish("completed", "completed"))
                return
            self.step_id = next_id

    def enter(self, step: Step) -> None:
        self.step_seq += 1
        self.visit = NewVisit(
            id=uuid.uuid4(), org_id=self.execution.org_id, workflow_execution_id=self.execution.id, seq=self.step_seq,
            step_id=step.id, phase_id=step.phase_id, step_type=step.type, entered_at=self.now)
        self.visit_is_new = True
        self.fx.adds.append(self.visit)
        self.step_id, self.phase_id = step.id, step.phase_id

    def set_visit(self, **values: Any) -> None:
        if self.visit_is_new:
            for key, value in values.items():
                setattr(self.visit, key, value)
        else:
            self.fx.change(self.visit, **values)

    def leave(self, step: Step, *, status: str = "completed", outcome: str | None = None) -> None:
        duration = int((self.now - self.visit.entered_at).total_seconds() * 1000)
        self.set_visit(status=status, outcome=outcome, left_at=self.now, duration_ms=max(duration, 0))
        self.steps_done += 1
        self.log("step_completed", {"step_id": step.id, "step": step.name, "type": step.type, "outcome": outcome,
                                    "status": status, "duration_ms": max(duration, 0)})

    def output(self, step: Step, **values: Any) -> dict[str, Any]:
        merged = {**(self.visit.output or {}), **values}
        self.set_visit(output=merged)
        self.variables[step.id] = {**self.variables.get(step.id, {}), **values}
        return merged

    def wait_until(self, when: datetime | None) -> "_Wait":
        self.set_visit(status="waiting")
        self.next_run_at = when
        return WAIT

    def finish(self, result: "Finish") -> None:
        step = self.definition.step(self.step_id)
        self.leave(step, status="completed" if result.status == "completed" else "failed", outcome=result.outcome)
        self.final = result

    def log(self, action: str, details: dict[str, Any], task_id: uuid.UUID | None = None) -> None:
        self.fx.activity.append(_activity_row(self.execution, action, details, self.now, task_id))

    # --- tasks -------------------------------------------------------------------------------------
    def create_task(self, step: Step, *, task_type: str, default_title: str) -> Task:
        config = step.config
        target = config.get("assign_to") or {}
        role = target.get("role") if target.get("type") == "role" else None
        user_id = None
        if target.get("type") == "user":
            user_id = self.batch.user_id_for(str(target.get("user")))
            if user_id is None:
                raise StepFailed(f"assign_to.user {target.get('user')!r} is not an active user of this organization")
        due_days = config.get("due_in_days")
        task = Task(
            id=uuid.uuid4(), org_id=self.execution.org_id, workflow_execution_id=self.execution.id,
            contact_id=self.execution.contact_id, assigned_to=user_id, assigned_role=role,
            title=self.render(config.get("title")) or default_title,
            description=self.render(config.get("description")), task_type=task_type, status="todo",
            priority=config.get("priority", "medium"),
            due_date=(self.now + timedelta(days=due_days)).date() if due_days else None,
            created_by_step_id=step.id, step_run_id=self.visit.id,
            metadata_={"approval_options": config.get("approval_options", {})} if task_type == "approval" else {},
            created_at=self.now, updated_at=self.now)
        self.fx.adds.append(task)
        self.new_tasks[task.id] = task
        self.log("task_created", {"step_id": step.id, "title": task.title, "assigned_role": role,
                                  "assigned_to": user_id, "task_type": task_type}, task_id=task.id)
        return task

    def task(self, task_id: Any) -> Task | None:
        try:
            key = uuid.UUID(str(task_id))
        except ValueError:
            return None
        return self.new_tasks.get(key) or self.batch.tasks.get(key)

    def wait_on_task(self, step: Step, task: Task, *, approval: bool) -> Any:
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

    def time_out(self, step: Step, task: Task | None) -> Any:
        policy = step.config.get("on_timeout") or {"action": "fail"}
        days = step.config.get("timeout_days")
        self.log("step_timed_out", {"step_id": step.id, "step": step.name, "policy": policy["action"]})
        if policy["action"] == "goto":
            self.output(step, timed_out=True)
            return Next(goto=policy["step"], status="timed_out", outcome="timed_out")
        if policy["action"] == "escalate" and task is not None:
            self.fx.change(task, assigned_role=policy["role"], assigned_to=None, status="todo", updated_at=self.now)
            self.output(step, escalated_to=policy["role"])
            self.set_visit(timeout_at=None)
            self.log("task_escalated", {"step_id": step.id, "to_role": policy["role"]}, task_id=task.id)
            return self.wait_until(None)
        raise StepFailed(f"{step.id} ({step.name}) timed out after {days:g} days")


@dataclass(frozen=True)
class Next:
    goto: str | None = None
    status: str = "completed"
    outcome: str | None = None


@dataclass(frozen=True)
class Finish:
    status: str
    outcome: str


class _Wait:
    pass


WAIT = _Wait()


# --- step handlers ---------------------------------------------------------------------------------
def _trigger(run: Run, step: Step) -> Next:
    run.output(step, trigger_type=step.config.get("trigger_type", "manual"), source=run.execution.source)
    return Next(outcome="triggered")


def _assign_task(run: Run, step: Step) -> Next:
    task = run.create_task(step, task_type="standard", default_title=step.name)
    run.output(step, task_id=str(task.id))
    return Next(outcome="assigned")


def _wait_for_task(run: Run, step: Step) -> Any:
    source_step = step.config["task_from_step"]
    task = run.task((run.variables.get(source_step) or {}).get("task_id"))
    if task is None:
        raise StepFailed(f"{step.id}: no task from {source_step} to wait for ({source_step} has not run)")
    _start_timer(run, step, step.config.get("timeout_days"))
    return run.wait_on_task(step, task, approval=False)


def _wait_for_approval(run: Run, step: Step) -> Any:
    task = run.task((run.visit.output or {}).get("task_id"))
    if task is None:
        task = run.create_task(step, task_type="approval", default_title=step.name)
        run.output(step, task_id=str(task.id))
    _start_timer(run, step, step.config.get("timeout_days"))
    return run.wait_on_task(step, task, approval=True)


def _start_timer(run: Run, step: Step, days: float | None) -> None:
    if days and run.visit.timeout_at is None and not (run.visit.output or {}).get("escalated_to"):
        run.set_visit(timeout_at=run.visit.entered_at + timedelta(days=days))


def _delay(run: Run, step: Step) -> Any:
    if run.visit.timeout_at is None:
        config = step.config
        span = timedelta(days=config.get("days", 0), hours=config.get("hours", 0), minutes=config.get("minutes", 0))
        run.set_visit(timeout_at=run.visit.entered_at + span)
    if run.visit.timeout_at <= run.now:
        return Next(outcome="elapsed")
    return run.wait_until(run.visit.timeout_at)


def _condition(run: Run, step: Step) -> Next:
    value = resolve(step.config["field"], run.context())
    text = "" if value is None else str(value)
    for branch in step.config["branches"]:
        if str(branch["if"]) == text:
            run.output(step, value=text, branch=branch["then_goto"])
            return Next(goto=branch["then_goto"], outcome=text)
    default = step.config.get("default_goto")
    run.output(step, value=text, branch=default)
    return Next(goto=default, outcome=text or "default")


def _set_variable(run: Run, step: Step) -> Next:
    value = _resolve_deep(step.config.get("value"), run.context())
    run.variables[step.config["name"]] = value
    run.output(step, value=value)
    return Next(outcome="set")


def _resolve_deep(value: Any, context: dict[str, Any]) -> Any:
    if isinstance(value, str):
        return resolve(value, context)
    if isinstance(value, list):
        return [_resolve_deep(item, context) for item in value]
    if isinstance(value, dict):
        return {key: _resolve_deep(item, context) for key, item in value.items()}
    return value


def _update_contact(run: Run, step: Step) -> Next:
    contact = run.batch.contacts.get(run.execution.contact_id)
    if contact is None:
        raise StepFailed(f"{step.id}: the execution's contact no longer exists")
    config = step.config
    tags = list(run.contact_changes.get("tags", contact.tags) or [])
    tags = [t for t in tags if t not in set(config.get("remove_tags", []))]
    tags += [t for t in config.get("add_tags", []) if t not in tags]
    metadata = {**(run.contact_changes.get("metadata_", contact.metadata_) or {}),
                **_resolve_deep(config.get("metadata", {}), run.context())}
    run.contact_changes.update(tags=tags, metadata_=metadata)
    run.output(step, tags=tags)
    run.log("contact_updated", {"step_id": step.id, "tags": tags, "metadata_keys": sorted(config.get("metadata", {}))})
    return Next(outcome="updated")


def _end(run: Run, step: Step) -> Finish:
    return Finish(step.config.get("status", "completed"), step.config.get("outcome", "completed"))


HANDLERS = {
    "trigger": _trigger, "assign_task": _assign_task, "wait_for_task": _wait_for_task,
    "wait_for_approval": _wait_for_approval, "delay": _delay, "condition": _condition,
    "set_variable": _set_variable, "update_contact": _update_contact, "end": _end,
}


# --- batch driver --------------------------------------------------------------------------------------
def advance(session: Session, executions: list[WorkflowExecution], now: datetime) -> AdvanceStats:
    """Advance every given (locked, running) execution as far as it can go at `now`."""
    stats = AdvanceStats()
    if not executions:
        return stats
    batch = Batch.load(session, executions, now)
    pending: list[Any] = []
    activity_rows: list[dict[str, Any]] = []
    failures = []  # [F] notifications: executions that failed in this batch
    for execution in executions:
        stats.executions += 1
        run: Run | None = None
        try:
            definition = load_version(session, execution.workflow_definition_id, execution.definition_version)
            run = Run(batch, execution, definition)
            run.run()
        except Exception as exc:  # noqa: BLE001 - one broken execution must not stop the batch
            _fail(session, execution, batch, exc, now, failing_step=run.step_id if run else execution.current_step_id)
            stats.failed += 1
            failures.append(execution_event("execution_failed", execution, now, error=execution.last_error))  # [F]
            continue
        _apply(run, batch, pending, activity_rows)
        stats.steps += run.steps_done
    _insert_in_dependency_order(session, pending, activity_rows)
    emit(session, events_from_activity(activity_rows) + failures)  # [F] notifications for the whole batch
    return stats


def _insert_in_dependency_order(session: Session, pending: list[Any], activity_rows: list[dict[str, Any]]) -> None:
    """Tasks reference step rows and activity references tasks, so each kind goes in on its own, parents
    first: new visits and audit rows as one unnest INSERT each, tasks (read back later in the run) through
    the ORM."""
    insert_rows(session, WorkflowExecutionStep, [vars(row) for row in pending if isinstance(row, NewVisit)])
    tasks = [row for row in pending if isinstance(row, Task)]
    if tasks:
        session.add_all(tasks)
        session.flush()
    insert_rows(session, ActivityLog, activity_rows)


def _activity_row(execution: WorkflowExecution, action: str, details: dict[str, Any], now: datetime,
                  task_id: uuid.UUID | None = None) -> dict[str, Any]:
    return {"id": uuid.uuid4(), "org_id": execution.org_id, "user_id": None, "entity_type": "workflow_execution",
            "entity_id": execution.id, "workflow_execution_id": execution.id, "contact_id": execution.contact_id,
            "task_id": task_id, "action": action, "details": details, "created_at": now}


def _apply(run: Run, batch: Batch, pending: list[Any], activity_rows: list[dict[str, Any]]) -> None:
    run.fx.apply(pending)
    activity_rows.extend(run.fx.activity)
    execution = run.execution
    if run.contact_changes:
        contact = batch.contacts[execution.contact_id]
        for key, value in run.contact_changes.items():
            setattr(contact, key, value)
    execution.variables = run.variables
    execution.step_seq = run.step_seq
    execution.current_step_id, execution.current_phase_id = run.step_id, run.phase_id
    execution.updated_at = run.now
    if run.final is not None:
        failed = run.final.status == "failed"
        execution.status = "failed" if failed else "completed"
        execution.completed_at = None if failed else run.now
        execution.next_run_at = None
        execution.metadata_ = {**(execution.metadata_ or {}), "outcome": run.final.outcome}
        if failed:
            execution.last_error = execution.status_reason = f"ended at {run.step_id} with outcome {run.final.outcome}"
        activity_rows.append(_activity_row(execution, "execution_failed" if failed else "execution_completed",
                                           {"outcome": run.final.outcome, "step_id": run.step_id}, run.now))
    else:
        execution.next_run_at = run.next_run_at
    if run.visit is not None:
        batch.visits[execution.id] = run.visit


def _fail(session: Session, execution: WorkflowExecution, batch: Batch, exc: Exception, now: datetime,
          failing_step: str | None) -> None:
    """Record the failure; the run's other writes were never applied, so the execution stays resumable
    from its last persisted step (what `retry` re-runs)."""
    known = isinstance(exc, StepFailed) or type(exc).__module__.startswith("byte_core")
    message = str(exc) if known else f"unexpected {type(exc).__name__}: {exc}"
    reason = message if failing_step is None or message.startswith(failing_step) else f"{failing_step}: {message}"
    visit = batch.visits.get(execution.id)
    if visit is not None and visit.status in ("running", "waiting") and visit.step_id == failing_step:
        visit.status, visit.error, visit.left_at = "failed", reason, now
    else:
        execution.step_seq += 1
        session.add(WorkflowExecutionStep(
            id=uuid.uuid4(), org_id=execution.org_id, workflow_execution_id=execution.id, seq=execution.step_seq,
            step_id=failing_step or "?", phase_id=execution.current_phase_id, step_type="unknown", status="failed",
            entered_at=now, left_at=now, duration_ms=0, output={}, error=reason))
    execution.status, execution.last_error, execution.status_reason = "failed", reason, reason
    execution.next_run_at = None
    execution.updated_at = now
    _log_execution(session, execution, "execution_failed", {"error": reason, "step_id": failing_step}, now)


def _log_execution(session: Session, execution: WorkflowExecution, action: str, details: dict, now: datetime) -> None:
    session.add(ActivityLog(**_activity_row(execution, action, details, now)))
