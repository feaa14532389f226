"""Reading executions: detail with history, and `explain`: what it waits on, who holds it, what fires next."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import func, select

from ..access import Actor, queue_label
from ..db import Database
from ..errors import InvalidInput, NotFound
from ..ids import as_uuid
from ..models import Contact, Note, Task, User, WorkflowDefinition, WorkflowExecution, StepVisit
from .definition import Definition
from .definitions import load_version
from .store import utcnow
from .steps.base import Waiting
from .steps.registry import spec_of


@dataclass(frozen=True)
class Explanation:
    text: str
    waiting_on: str | None = None
    held_by: str | None = None
    next_timer_at: datetime | None = None


@dataclass
class ExecutionDetail:
    execution: WorkflowExecution
    workflow_name: str
    definition: Definition
    contact: Contact | None
    steps: list[StepVisit]
    tasks: list[Task]
    notes: list[Note]
    explanation: Explanation
    users: dict[str, str] = field(default_factory=dict)

    @property
    def phase_progress(self) -> tuple[int, int]:
        """(index of the current phase, number of phases), 1-based, for a progress bar."""
        phases = [p.id for p in self.definition.phases]
        current = self.execution.current_phase_id
        done = self.execution.status == "completed"
        index = len(phases) if done else (phases.index(current) + 1 if current in phases else 0)
        return index, len(phases)


def humanize(delta_seconds: float) -> str:
    seconds = abs(delta_seconds)
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return "less than a minute"


def get_execution(db: Database, actor: Actor, execution_id: Any) -> ExecutionDetail:
    key = as_uuid(execution_id, "execution")
    with db.session(actor.org_id) as session:
        return load_execution(session, key)


def load_execution(session, key: uuid.UUID) -> ExecutionDetail:
    """The execution with its history, inside the caller's (org-scoped) transaction."""
    execution = session.get(WorkflowExecution, key)
    if execution is None:
        raise NotFound(f"no execution {key} in this organization")
    definition = load_version(session, execution.workflow_definition_id, execution.definition_version)
    name = session.scalar(select(WorkflowDefinition.name).where(
        WorkflowDefinition.id == execution.workflow_definition_id))
    steps = list(session.scalars(select(StepVisit).where(
        StepVisit.workflow_execution_id == key).order_by(StepVisit.seq)))
    tasks = list(session.scalars(select(Task).where(Task.workflow_execution_id == key).order_by(Task.created_at)))
    notes = list(session.scalars(select(Note).where(Note.workflow_execution_id == key)
                                 .order_by(Note.created_at.desc())))
    user_ids = {t.assigned_to for t in tasks} | {t.completed_by for t in tasks} | {n.user_id for n in notes}
    users = {u.id: u.display_name for u in session.scalars(select(User).where(User.id.in_(user_ids - {None})))}
    contact = session.get(Contact, execution.contact_id)
    explanation = _explain(execution, definition, steps, tasks, users)
    return ExecutionDetail(execution, name or "?", definition, contact, steps, tasks, notes, explanation, users)


def explain(db: Database, actor: Actor, execution_id: Any) -> Explanation:
    return get_execution(db, actor, execution_id).explanation


def _explain(execution: WorkflowExecution, definition: Definition, steps: list[StepVisit],
             tasks: list[Task], users: dict[str, str]) -> Explanation:
    now = utcnow()
    step = definition.step(execution.current_step_id) if execution.current_step_id else None
    step_label = f"{step.name} ({step.id})" if step else str(execution.current_step_id)
    status = execution.status
    if status == "completed":
        outcome = (execution.metadata_ or {}).get("outcome", "completed")
        when = execution.completed_at.strftime("%Y-%m-%d %H:%M") if execution.completed_at else "?"
        return Explanation(f"completed with outcome {outcome} on {when}")
    if status == "failed":
        return Explanation(f"failed: {execution.last_error or 'no reason recorded'}; retry re-runs {step_label}")
    if status == "cancelled":
        return Explanation(f"cancelled: {execution.status_reason or 'no reason recorded'}")
    if status == "paused":
        return Explanation(f"paused at {step_label}: {execution.status_reason or 'no reason recorded'}")
    visit = steps[-1] if steps else None
    spec = spec_of(step.type) if step is not None else None
    if visit is None or visit.status not in ("waiting", "running") or spec is None or spec.waiting_for is None:
        due = execution.next_run_at
        when = "now" if due is None or due <= now else f"in {humanize((due - now).total_seconds())}"
        return Explanation(f"due {when}: the scheduler advances it at its next tick", next_timer_at=due)
    timer = visit.timeout_at
    timer_text = ""
    if timer is not None:
        left = (timer - now).total_seconds()
        timer_text = (f", {spec.timer_verb} in {humanize(left)}" if left > 0
                      else f", {spec.timer_verb} now (overdue {humanize(left)})")
    task = _task_waited_on(execution, step, spec, visit, tasks)
    held_by = None
    if task is not None:
        held_by = (users.get(task.assigned_to, "a former user") if task.assigned_to
                   else f"the {queue_label(task.assigned_role)}")
    waiting = Waiting(step_label=step_label, step_name=step.name, held_by=held_by,
                      age=humanize((now - visit.entered_at).total_seconds()), timer_text=timer_text,
                      has_timeout=timer is not None or step.config.get("timeout_days") is not None)
    return Explanation(spec.waiting_for(waiting), waiting_on=step.id, held_by=held_by, next_timer_at=timer)


def _task_waited_on(execution: WorkflowExecution, step, spec, visit: StepVisit, tasks: list[Task]
                    ) -> Task | None:
    """The task a waiting step waits on: the one it created itself (in its visit's output), or the one the
    step it names created (in the execution's variables)."""
    source = spec.task_source(step.id, step.config)
    if source is None:
        return None
    if source == step.id:
        task_id = (visit.output or {}).get("task_id")
    else:
        task_id = ((execution.variables or {}).get(source) or {}).get("task_id")
    return next((t for t in tasks if str(t.id) == str(task_id)), None)


# --- listing ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ExecutionFilter:
    definition_id: uuid.UUID | None = None
    status: str | None = None
    phase: str | None = None
    started_from: date | None = None
    started_to: date | None = None
    overdue: bool = False  # only those with an open task past its due date


@dataclass(frozen=True)
class ExecutionRow:
    id: uuid.UUID
    workflow: str
    contact: str
    status: str
    phase: str | None
    step: str | None
    started_at: datetime | None
    updated_at: datetime | None
    last_error: str | None


COUNT_CAP = 10_000


def _execution_conditions(filters: ExecutionFilter) -> list:
    e = WorkflowExecution
    where = []
    if filters.definition_id:
        where.append(e.workflow_definition_id == filters.definition_id)
    if filters.status:
        where.append(e.status == filters.status)
    if filters.phase:
        where.append(e.current_phase_id == filters.phase)
    if filters.overdue:
        where.append(e.id.in_(select(Task.workflow_execution_id).where(
            Task.status.in_(("todo", "in_progress")), Task.due_date < datetime.now(timezone.utc).date())))
    # Compared as timestamptz (a DATE operand keeps the planner off the (org_id, started_at) index).
    if filters.started_from:
        where.append(e.started_at >= datetime.combine(filters.started_from, datetime.min.time(), timezone.utc))
    if filters.started_to:
        where.append(e.started_at < datetime.combine(filters.started_to + timedelta(days=1), datetime.min.time(),
                                                     timezone.utc))
    return where


def count_executions(db: Database, actor: Actor, filters: ExecutionFilter) -> int:
    """How many match, counted up to COUNT_CAP + 1 (a page picker needs no exact figure past that)."""
    with db.session(actor.org_id) as session:
        return session.scalar(select(func.count()).select_from(
            select(WorkflowExecution.id).where(*_execution_conditions(filters)).limit(COUNT_CAP + 1).subquery())) or 0


def list_executions(db: Database, actor: Actor, filters: ExecutionFilter, *, offset: int = 0, limit: int = 25
                    ) -> list[ExecutionRow]:
    """One page of executions, newest first."""
    e = WorkflowExecution
    # The page's ids first, alone: joined, the planner sorts every match before taking 25 of them.
    page = (select(e.id).where(*_execution_conditions(filters)).order_by(e.started_at.desc())
            .offset(offset).limit(limit).subquery())
    with db.session(actor.org_id) as session:
        rows = session.execute(
            select(e, WorkflowDefinition.name, Contact.first_name, Contact.last_name)
            .join(page, page.c.id == e.id)
            .join(WorkflowDefinition, WorkflowDefinition.id == e.workflow_definition_id)
            .join(Contact, Contact.id == e.contact_id).order_by(e.started_at.desc())).all()
        labels = {key: _step_and_phase_names(session, *key)
                  for key in {(x.workflow_definition_id, x.definition_version) for x, *_ in rows}}
    result = []
    for x, name, first, last in rows:
        steps, phases = labels[(x.workflow_definition_id, x.definition_version)]
        result.append(ExecutionRow(x.id, name, f"{first} {last}", x.status,
                                   phases.get(x.current_phase_id, x.current_phase_id),
                                   steps.get(x.current_step_id, x.current_step_id), x.started_at, x.updated_at,
                                   x.last_error))
    return result


def _step_and_phase_names(session, definition_id: uuid.UUID, version: int) -> tuple[dict[str, str], dict[str, str]]:
    """Names from the version the executions are pinned to (cached: versions never change)."""
    try:
        definition = load_version(session, definition_id, version)
    except NotFound:
        return {}, {}
    return {s.id: s.name for s in definition.steps}, {p.id: p.name for p in definition.phases}


def phases_of(db: Database, actor: Actor) -> dict[str, str]:
    """Phase ids in use across the organization's definitions with their names, for filters (one id named
    differently by two workflows shows both names)."""
    with db.session(actor.org_id) as session:
        rows = session.scalars(select(WorkflowDefinition.phases)).all()
    names: dict[str, list[str]] = {}
    for phases in rows:
        for phase in phases or []:
            if phase.get("id"):
                label = phase.get("name") or phase["id"]
                if label not in names.setdefault(phase["id"], []):
                    names[phase["id"]].append(label)
    return {phase_id: " / ".join(labels) for phase_id, labels in names.items()}


# --- names for people ------------------------------------------------------------------------------------------
PERSON_KEYS = ("decided_by", "completed_by", "assigned_to", "holder")


def readable_variables(variables: Any, users: dict[str, str], tasks: dict[str, str]) -> Any:
    """An execution's variables as a person reads them: user ids become names, task ids become task titles
    (the ids stay in the activity log's raw details)."""
    if isinstance(variables, dict):
        result = {}
        for key, value in variables.items():
            if key in PERSON_KEYS and isinstance(value, str):
                result[key] = users.get(value, value if not value.startswith("user_") else "a former user")
            elif key == "task_id" and isinstance(value, str):
                result["task"] = tasks.get(value, "a task of another execution")
            else:
                result[key] = readable_variables(value, users, tasks)
        return result
    if isinstance(variables, list):
        return [readable_variables(v, users, tasks) for v in variables]
    return variables
