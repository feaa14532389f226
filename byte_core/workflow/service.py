"""What people (and the UI, CLI, intake) do to executions and tasks. Each call is one transaction
with its activity row; anything that lets an execution move on wakes the schedulers."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from .. import activity
from ..access import Actor, require_role
from ..db import Database
from ..errors import Conflict, InvalidInput, NotFound, PermissionDenied
from ..models import Contact, Task, User, WorkflowDefinition, WorkflowExecution, WorkflowExecutionStep
from ..notifications import emit, execution_event, task_event
from .definitions import get_definition_row
from .engine import advance
from .runner import utcnow, wake

APPROVAL_OUTCOMES = ("approved", "rejected")
OPEN_TASK = ("todo", "in_progress")


def _uuid(value: Any, what: str) -> uuid.UUID:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value).strip())
    except ValueError:
        raise InvalidInput(f"{value!r} is not a valid {what} id") from None


def _locked(session: Session, model, key: Any, what: str):
    row = session.scalar(select(model).where(model.id == _uuid(key, what)).with_for_update())
    if row is None:
        raise NotFound(f"no {what} {key} in this organization")
    return row


# --- starting ------------------------------------------------------------------------------------------
def start_execution_in(session: Session, actor: Actor, definition: WorkflowDefinition, contact_id: uuid.UUID, *,
                       variables: dict[str, Any] | None = None, source: str = "manual", source_id: str | None = None,
                       run_now: bool = False, now: datetime | None = None) -> WorkflowExecution:
    """Start inside the caller's transaction (intake uses this next to its submission row)."""
    if not definition.is_active:
        raise Conflict(f"workflow {definition.name!r} is inactive: activate it before starting executions")
    moment = now or utcnow()
    first = _first_step(definition)
    execution = WorkflowExecution(
        id=uuid.uuid4(), org_id=actor.org_id, workflow_definition_id=definition.id, contact_id=contact_id,
        definition_version=definition.version, status="running", current_step_id=first["id"],
        current_phase_id=first.get("phase_id"), variables={**(variables or {}), "trigger": {
            "source": source, "source_id": source_id, "started_by": actor.label, **(variables or {}).get("trigger", {})}},
        source=source, source_id=source_id, started_at=moment, created_at=moment, updated_at=moment,
        next_run_at=moment, step_seq=0, metadata_={})
    session.add(execution)
    session.flush()
    activity.record(session, entity_type="workflow_execution", entity_id=execution.id, action="execution_started",
                    contact_id=contact_id, details={"workflow": definition.name, "version": definition.version,
                                                    "source": source, "source_id": source_id})
    emit(session, [execution_event("execution_started", execution, moment, actor_user_id=actor.user_id,
                                   workflow=definition.name, source=source)])  # [F]
    if run_now:
        advance(session, [execution], moment)
    else:
        wake(session)
    return execution


def _first_step(definition: WorkflowDefinition) -> dict[str, Any]:
    steps = definition.steps["steps"] if isinstance(definition.steps, dict) else definition.steps
    return min(steps, key=lambda s: s["order"])


def start_execution(db: Database, actor: Actor, workflow: str, contact: str, *,
                    variables: dict[str, Any] | None = None, source: str = "manual", run_now: bool = True
                    ) -> WorkflowExecution:
    """Start by workflow name or id and contact id or email; runs up to the first wait at once."""
    require_role(actor, "admin", "manager", "reviewer", "hr")
    with db.session(actor.org_id, user_id=actor.user_id) as session:
        definition = get_definition_row(session, workflow)
        contact_row = find_contact(session, contact)
        return start_execution_in(session, actor, definition, contact_row.id, variables=variables, source=source,
                                  run_now=run_now)


def find_contact(session: Session, key: str) -> Contact:
    text_key = str(key).strip()
    condition = func.lower(Contact.email) == text_key.lower()
    try:
        condition = condition | (Contact.id == uuid.UUID(text_key))
    except ValueError:
        pass
    matches = session.scalars(select(Contact).where(condition).limit(2)).all()
    if not matches:
        raise NotFound(f"no contact {text_key!r} in this organization")
    if len(matches) > 1:
        raise Conflict(f"several contacts have email {text_key!r}: use the contact id")
    return matches[0]


# --- tasks ------------------------------------------------------------------------------------------------
def _can_work_on(actor: Actor, task: Task) -> bool:
    if actor.has_any("admin", "manager"):
        return True
    if task.assigned_to is not None:
        return task.assigned_to == actor.user_id
    return task.assigned_role is not None and actor.has_any(task.assigned_role)


def _holder_label(session: Session, user_id: str | None) -> str:
    if user_id is None:
        return "nobody"
    user = session.get(User, user_id)
    return user.display_name if user else user_id


def claim_task(db: Database, actor: Actor, task_id: Any, *, now: datetime | None = None) -> Task:
    with db.session(actor.org_id, user_id=actor.user_id) as session:
        task = _locked(session, Task, task_id, "task")
        if task.status not in OPEN_TASK:
            raise Conflict(f"task {task.title!r} is already {task.status}")
        if task.assigned_to == actor.user_id:
            return task
        if task.assigned_to is not None:
            raise Conflict(f"task {task.title!r} is already claimed by {_holder_label(session, task.assigned_to)}")
        if not _can_work_on(actor, task) or actor.user_id is None:
            raise PermissionDenied(f"task {task.title!r} is for the {task.assigned_role} role")
        task.assigned_to, task.status, task.updated_at = actor.user_id, "in_progress", now or utcnow()
        activity.record(session, entity_type="task", entity_id=task.id, action="task_claimed",
                        workflow_execution_id=task.workflow_execution_id, contact_id=task.contact_id,
                        details={"by": actor.label})
        emit(session, [task_event("task_claimed", task, task.updated_at, actor_user_id=actor.user_id)])  # [F]
        return task


def release_task(db: Database, actor: Actor, task_id: Any) -> Task:
    with db.session(actor.org_id, user_id=actor.user_id) as session:
        task = _locked(session, Task, task_id, "task")
        if task.status not in OPEN_TASK:
            raise Conflict(f"task {task.title!r} is already {task.status}")
        if task.assigned_to is None:
            return task
        if task.assigned_to != actor.user_id and not actor.has_any("admin", "manager"):
            raise PermissionDenied(f"only {_holder_label(session, task.assigned_to)} or a manager can release it")
        previous = task.assigned_to
        task.assigned_to, task.status = None, "todo"
        activity.record(session, entity_type="task", entity_id=task.id, action="task_released",
                        workflow_execution_id=task.workflow_execution_id, contact_id=task.contact_id,
                        details={"by": actor.label, "previous_holder": previous})
        return task


def complete_task(db: Database, actor: Actor, task_id: Any, *, outcome: str | None = None,
                  comment: str | None = None, now: datetime | None = None) -> Task:
    """Complete a task or decide an approval. A decision is recorded once: the row lock serialises
    concurrent clicks and the later ones are told who decided."""
    comment = (comment or "").strip() or None
    with db.session(actor.org_id, user_id=actor.user_id) as session:
        task = _locked(session, Task, task_id, "task")
        if task.status == "done":
            when = task.completed_at.strftime("%Y-%m-%d %H:%M UTC") if task.completed_at else "earlier"
            raise Conflict(f"already {'decided' if task.task_type == 'approval' else 'completed'} by "
                           f"{_holder_label(session, task.completed_by)} at {when}"
                           + (f" ({task.outcome})" if task.outcome else ""))
        if task.status == "cancelled":
            raise Conflict(f"task {task.title!r} was cancelled")
        if not _can_work_on(actor, task):
            holder = task.assigned_to and _holder_label(session, task.assigned_to)
            raise PermissionDenied(f"task {task.title!r} is held by {holder}" if holder
                                   else f"task {task.title!r} is for the {task.assigned_role} role")
        outcome = _check_outcome(task, outcome, comment)
        now = now or utcnow()
        task.status, task.outcome, task.outcome_comment = "done", outcome, comment
        task.completed_at, task.completed_by, task.updated_at = now, actor.user_id, now
        task.assigned_to = task.assigned_to or actor.user_id
        is_approval = task.task_type == "approval"
        activity.record(session, entity_type="task", entity_id=task.id,
                        action="approval_decided" if is_approval else "task_completed",
                        workflow_execution_id=task.workflow_execution_id, contact_id=task.contact_id,
                        details={"outcome": outcome, "comment": comment, "by": actor.label, "title": task.title})
        emit(session, [task_event("task_decided" if is_approval else "task_completed", task, now,
                                  actor_user_id=actor.user_id, outcome=outcome, comment=comment)])  # [F]
        if task.workflow_execution_id is not None:
            _nudge(session, task.workflow_execution_id, now)
        return task


def _check_outcome(task: Task, outcome: str | None, comment: str | None) -> str:
    if task.task_type == "approval":
        if outcome not in APPROVAL_OUTCOMES:
            raise InvalidInput(f"an approval needs --outcome approved or rejected, not {outcome!r}")
        options = (task.metadata_ or {}).get("approval_options", {})
        if options.get("require_comment") and not comment:
            raise InvalidInput("a comment is required to approve or reject this")
        return outcome
    if outcome not in (None, "completed"):
        raise InvalidInput(f"a task is completed with outcome 'completed', not {outcome!r}")
    return "completed"


def _nudge(session: Session, execution_id: uuid.UUID, now: datetime) -> None:
    """Make a running execution due now so the scheduler re-checks what it waits on."""
    result = session.execute(update(WorkflowExecution).where(
        WorkflowExecution.id == execution_id, WorkflowExecution.status == "running").values(next_run_at=now))
    if result.rowcount:
        wake(session)


def reassign_tasks(db: Database, actor: Actor, task_ids: list[Any], *, to_user: str | None = None,
                   to_role: str | None = None) -> int:
    """Managers move open tasks to a person or a role queue (bulk)."""
    require_role(actor, "admin", "manager")
    if bool(to_user) == bool(to_role):
        raise InvalidInput("reassign to exactly one of a user or a role")
    with db.session(actor.org_id, user_id=actor.user_id) as session:
        user_id = None
        if to_user:
            from ..users import find_user

            user = find_user(session, to_user)
            if not user.is_active:
                raise Conflict(f"{user.email} is deactivated")
            user_id = user.id
        tasks = session.scalars(select(Task).where(Task.id.in_([_uuid(t, "task") for t in task_ids]),
                                                   Task.status.in_(OPEN_TASK)).with_for_update()).all()
        for task in tasks:
            before = {"assigned_to": task.assigned_to, "assigned_role": task.assigned_role}
            if user_id:
                task.assigned_to, task.status = user_id, "in_progress"
            else:
                task.assigned_to, task.assigned_role, task.status = None, to_role, "todo"
            activity.record(session, entity_type="task", entity_id=task.id, action="task_reassigned",
                            workflow_execution_id=task.workflow_execution_id, contact_id=task.contact_id,
                            details={"before": before, "to_user": user_id, "to_role": to_role})
        emit(session, [task_event("task_reassigned", t, utcnow(), actor_user_id=actor.user_id) for t in tasks])  # [F]
        return len(tasks)


# --- execution control ---------------------------------------------------------------------------------------
def change_status(db: Database, actor: Actor, execution_id: Any, action: str, reason: str) -> WorkflowExecution:
    """pause | resume | cancel | retry, each with a reason, audited."""
    transitions = {"pause": (("running",), "paused"), "resume": (("paused",), "running"),
                   "cancel": (("running", "paused", "failed"), "cancelled"), "retry": (("failed",), "running")}
    if action not in transitions:
        raise InvalidInput(f"unknown action {action!r}: use pause, resume, cancel or retry")
    require_role(actor, "admin", "manager")
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(f"give a reason to {action} an execution")
    allowed, target = transitions[action]
    with db.session(actor.org_id, user_id=actor.user_id) as session:
        execution = _locked(session, WorkflowExecution, execution_id, "execution")
        if execution.status not in allowed:
            raise Conflict(f"cannot {action} an execution that is {execution.status}")
        now = utcnow()
        before = execution.status
        execution.status, execution.status_reason, execution.updated_at = target, reason, now
        if target == "running":
            execution.next_run_at, execution.last_error = now, None
            wake(session)
        if target == "cancelled":
            execution.next_run_at = None
            _cancel_open_work(session, execution, now)
        activity.record(session, entity_type="workflow_execution", entity_id=execution.id,
                        action=f"execution_{action}d" if action != "cancel" else "execution_cancelled",
                        contact_id=execution.contact_id,
                        details={"from": before, "to": target, "reason": reason, "by": actor.label})
        emit(session, [execution_event("execution_status_changed", execution, now, actor_user_id=actor.user_id,
                                       action=action, reason=reason, **{"from": before, "to": target})])  # [F]
        return execution


def _cancel_open_work(session: Session, execution: WorkflowExecution, now: datetime) -> None:
    session.execute(update(Task).where(Task.workflow_execution_id == execution.id, Task.status.in_(OPEN_TASK))
                    .values(status="cancelled", updated_at=now))
    session.execute(update(WorkflowExecutionStep).where(
        WorkflowExecutionStep.workflow_execution_id == execution.id,
        WorkflowExecutionStep.status.in_(("running", "waiting"))).values(status="cancelled", left_at=now))


__all__ = ["start_execution", "start_execution_in", "claim_task", "release_task", "complete_task", "reassign_tasks",
           "change_status", "find_contact"]
