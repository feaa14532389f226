"""What people (and the UI, CLI, intake) do to executions and tasks. Each command is one transaction with
its activity row; it judges the action with `lifecycle`'s rules and writes through `store`.

A command acting on a task takes `expected_version`: the version of the row the person saw. If the task
changed since, the command is refused, saying what changed (pages always pass it; the CLI may omit it).
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .. import activity
from ..access import Actor, require_role
from ..db import Database
from ..errors import ByteError, Conflict, InvalidInput, NotFound, PermissionDenied
from ..ids import as_uuid
from ..models import Contact, Task, WorkflowDefinition, WorkflowExecution
from ..notifications import emit
from ..notifications.events import execution_event, task_event
from . import store
from .definitions import get_definition_row
from .engine import ExecutionState
from .lifecycle import TaskView, check_execution_action, check_task_action, may_hold, open_task_status
from .store import utcnow

APPROVAL_OUTCOMES = ("approved", "rejected")


# --- starting ------------------------------------------------------------------------------------------
def start_execution_in(session: Session, actor: Actor, definition: WorkflowDefinition, contact_id: uuid.UUID, *,
                       variables: dict[str, Any] | None = None, source: str = "manual", source_id: str | None = None,
                       run_now: bool = False, now: datetime | None = None) -> ExecutionState:
    """Start inside the caller's transaction (intake uses this next to its submission row)."""
    if not definition.is_active:
        raise Conflict(f"workflow {definition.name!r} is inactive: activate it before starting executions")
    moment = now or utcnow()
    steps = definition.steps["steps"] if isinstance(definition.steps, dict) else definition.steps
    first = min(steps, key=lambda s: s["order"])
    state = ExecutionState(
        id=uuid.uuid4(), org_id=actor.org_id, workflow_definition_id=definition.id,
        definition_version=definition.version, contact_id=contact_id, current_step_id=first["id"],
        current_phase_id=first.get("phase_id"), step_seq=0, source=source, source_id=source_id, metadata={},
        variables={**(variables or {}), "trigger": {"source": source, "source_id": source_id,
                                                    "started_by": actor.label, **(variables or {}).get("trigger", {})}})
    store.insert_execution(session, {
        "id": state.id, "org_id": state.org_id, "workflow_definition_id": state.workflow_definition_id,
        "contact_id": contact_id, "definition_version": state.definition_version, "status": "running",
        "current_step_id": state.current_step_id, "current_phase_id": state.current_phase_id,
        "variables": state.variables, "source": source, "source_id": source_id, "started_at": moment,
        "created_at": moment, "updated_at": moment, "next_run_at": moment, "step_seq": 0, "metadata": {}})
    activity.record(session, entity_type="workflow_execution", entity_id=state.id, action="execution_started",
                    contact_id=contact_id, details={"workflow": definition.name, "version": definition.version,
                                                    "source": source, "source_id": source_id})
    emit(session, [execution_event("execution_started", state, moment, actor_user_id=actor.user_id,
                                   workflow=definition.name, source=source)])
    if run_now:
        store.advance(session, [state], moment)
    else:
        store.wake(session)
    return state


def start_execution(db: Database, actor: Actor, workflow: str, contact: str, *,
                    variables: dict[str, Any] | None = None, source: str = "manual", run_now: bool = True
                    ) -> WorkflowExecution:
    """Start by workflow name or id and contact id or email; runs up to the first wait at once."""
    require_role(actor, "admin", "manager", "reviewer", "hr")
    with db.session(actor.org_id, user_id=actor.user_id) as session:
        definition = get_definition_row(session, workflow)
        contact_row = find_contact(session, contact)
        state = start_execution_in(session, actor, definition, contact_row.id, variables=variables, source=source,
                                   run_now=run_now)
        return session.get(WorkflowExecution, state.id)


def find_contact(session: Session, key: str) -> Contact:
    text_key = str(key).strip()
    condition = Contact.email_key == text_key.lower()
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
def _judged(session: Session, actor: Actor, task_id: Any, action: str, expected_version: int | None
            ) -> tuple[Task, TaskView]:
    task, view = store.lock_task(session, as_uuid(task_id, "task"))
    check_task_action(action, actor, view, expected_version=expected_version,
                      name_of=lambda user_id: store.user_name(session, user_id))
    return task, view


def _audit(session: Session, task: Task, action: str, details: dict[str, Any]) -> None:
    activity.record(session, entity_type="task", entity_id=task.id, action=action,
                    workflow_execution_id=task.workflow_execution_id, contact_id=task.contact_id,
                    details={"title": task.title, **details})


def claim_task(db: Database, actor: Actor, task_id: Any, *, expected_version: int | None = None,
               now: datetime | None = None) -> Task:
    with db.session(actor.org_id, user_id=actor.user_id) as session:
        task, _ = _judged(session, actor, task_id, "claim", expected_version)
        if task.assigned_to == actor.user_id:
            return task
        store.update_task(session, task.id, assigned_to=actor.user_id, status="in_progress", updated_at=now or utcnow())
        _audit(session, task, "task_claimed", {"by": actor.label})
        session.refresh(task)
        emit(session, [task_event("task_claimed", task, task.updated_at, actor_user_id=actor.user_id)])
        return task


def release_task(db: Database, actor: Actor, task_id: Any, *, expected_version: int | None = None) -> Task:
    with db.session(actor.org_id, user_id=actor.user_id) as session:
        task, _ = _judged(session, actor, task_id, "release", expected_version)
        if task.assigned_to is None:
            return task
        previous = task.assigned_to
        store.update_task(session, task.id, assigned_to=None, status="todo", updated_at=utcnow())
        _audit(session, task, "task_released", {"by": actor.label, "previous_holder": previous})
        session.refresh(task)
        return task


def complete_task(db: Database, actor: Actor, task_id: Any, *, outcome: str | None = None,
                  comment: str | None = None, expected_version: int | None = None,
                  now: datetime | None = None) -> Task:
    """Complete a task or decide an approval, as its holder or as someone of its role. A decision is
    recorded once: the row lock serialises concurrent clicks and the later ones are told who decided."""
    return _finish_task(db, actor, task_id, "complete", outcome=outcome, comment=comment,
                        expected_version=expected_version, now=now)


def decide_on_behalf(db: Database, actor: Actor, task_id: Any, *, outcome: str | None, comment: str | None,
                     expected_version: int | None = None, now: datetime | None = None) -> Task:
    """An admin completes or decides a task that is not theirs: a separate, explicit action that needs a
    comment saying why, recorded as such in the activity log."""
    if not (comment or "").strip():
        raise InvalidInput("say why you decide on someone else's behalf (a comment is required)")
    return _finish_task(db, actor, task_id, "decide_on_behalf", outcome=outcome, comment=comment,
                        expected_version=expected_version, now=now)


def _finish_task(db: Database, actor: Actor, task_id: Any, action: str, *, outcome: str | None,
                 comment: str | None, expected_version: int | None, now: datetime | None) -> Task:
    comment = (comment or "").strip() or None
    with db.session(actor.org_id, user_id=actor.user_id) as session:
        task, view = _judged(session, actor, task_id, action, expected_version)
        outcome = _check_outcome(task, outcome, comment)
        now = now or utcnow()
        store.update_task(session, task.id, status="done", outcome=outcome, outcome_comment=comment, completed_at=now,
                          completed_by=actor.user_id, updated_at=now, assigned_to=task.assigned_to or actor.user_id)
        is_approval = task.task_type == "approval"
        verb = "approval_decided" if is_approval else "task_completed"
        details = {"outcome": outcome, "comment": comment, "by": actor.label}
        if action == "decide_on_behalf":
            verb += "_on_behalf"
            details["on_behalf_of"] = task.assigned_to or f"the {task.assigned_role} role"
        _audit(session, task, verb, details)
        if task.workflow_execution_id is not None:
            store.nudge(session, task.workflow_execution_id, now)
        session.refresh(task)
        emit(session, [task_event("task_decided" if is_approval else "task_completed", task, now,
                                  actor_user_id=actor.user_id, outcome=outcome, comment=comment)])
        return task


def _check_outcome(task: Task, outcome: str | None, comment: str | None) -> str:
    if task.task_type == "approval":
        if outcome not in APPROVAL_OUTCOMES:
            raise InvalidInput(f"an approval needs the outcome approved or rejected, not {outcome!r}")
        options = (task.metadata_ or {}).get("approval_options", {})
        if options.get("require_comment") and not comment:
            raise InvalidInput("a comment is required to approve or reject this")
        return outcome
    if outcome not in (None, "completed"):
        raise InvalidInput(f"a task is completed with outcome 'completed', not {outcome!r}")
    return "completed"


def snooze_task(db: Database, actor: Actor, task_id: Any, until: date | None, *,
                expected_version: int | None = None, today: date | None = None) -> Task:
    """The holder hides a task from "My tasks" until `until` (None wakes it now). It stays theirs."""
    today = today or utcnow().date()
    if until is not None and not (today < until <= today + timedelta(days=365)):
        raise InvalidInput("snooze until a day after today and within a year")
    with db.session(actor.org_id, user_id=actor.user_id) as session:
        task, _ = _judged(session, actor, task_id, "snooze", expected_version)
        store.update_task(session, task.id, snoozed_until=until, updated_at=utcnow())
        _audit(session, task, "task_snoozed", {"until": until.isoformat() if until else None, "by": actor.label})
        session.refresh(task)
        return task


@dataclass(frozen=True)
class BulkClaim:
    claimed: int
    refused: list[str]  # one sentence per task left as it was: "<title>: <why>"


def claim_tasks(db: Database, actor: Actor, seen: list[tuple[Any, int | None]], titles: dict[Any, str]
                ) -> BulkClaim:
    """Claim each (task id, version seen) on its own: a task someone else took since is reported, the
    others are still claimed (unlike reassign, a claim of one task never depends on another)."""
    claimed, refused = 0, []
    for task_id, version in seen:
        try:
            claim_task(db, actor, task_id, expected_version=version)
            claimed += 1
        except ByteError as exc:
            refused.append(f"{titles.get(task_id, task_id)}: {exc}")
    return BulkClaim(claimed, refused)


def reassign_tasks(db: Database, actor: Actor, tasks: list[Any], *, to_user: str | None = None,
                   to_role: str | None = None) -> int:
    """Managers move open tasks to a person who may hold them, or to a role queue (bulk). `tasks` holds
    task ids or (task id, version seen) pairs. All or nothing: one task that cannot go refuses the lot."""
    require_role(actor, "admin", "manager")
    if bool(to_user) == bool(to_role):
        raise InvalidInput("reassign to exactly one of a user or a role")
    from ..access import ROLES
    if to_role and to_role not in ROLES:
        raise InvalidInput(f"unknown role {to_role!r}: use one of {', '.join(ROLES)}")
    wanted = [(t if isinstance(t, tuple) else (t, None)) for t in tasks]
    with db.session(actor.org_id, user_id=actor.user_id) as session:
        target = None
        if to_user:
            from ..users import find_user

            target = find_user(session, to_user)
            if not target.is_active:
                raise Conflict(f"{target.email} is deactivated")
        moved = 0
        for task_id, version in sorted(wanted, key=lambda pair: str(pair[0])):  # one lock order: no deadlocks
            task, view = _judged(session, actor, task_id, "reassign", version)
            if target is not None and not may_hold(frozenset(target.roles or ()), target.id, view):
                raise PermissionDenied(f"{target.display_name} cannot take {task.title!r}: it needs the "
                                       f"{task.assigned_role} role. Nothing was reassigned.")
            before = {"assigned_to": task.assigned_to, "assigned_role": task.assigned_role}
            if target is not None:
                store.update_task(session, task.id, assigned_to=target.id, status="in_progress", updated_at=utcnow())
            else:
                store.update_task(session, task.id, assigned_to=None, assigned_role=to_role, status="todo",
                                  updated_at=utcnow())
            _audit(session, task, "task_reassigned", {"before": before, "to_user": target.id if target else None,
                                                      "to_role": to_role, "by": actor.label})
            session.refresh(task)
            emit(session, [task_event("task_reassigned", task, task.updated_at, actor_user_id=actor.user_id)])
            moved += 1
        return moved


# --- execution control ---------------------------------------------------------------------------------------
def change_status(db: Database, actor: Actor, execution_id: Any, action: str, reason: str) -> WorkflowExecution:
    """pause | resume | cancel | retry, each with a reason, audited; open tasks follow (lifecycle table)."""
    reason = (reason or "").strip()
    if action not in ("pause", "resume", "cancel", "retry"):
        raise InvalidInput(f"unknown action {action!r}: use pause, resume, cancel or retry")
    require_role(actor, "admin", "manager")
    if not reason:
        raise InvalidInput(f"give a reason to {action} an execution")
    with db.session(actor.org_id, user_id=actor.user_id) as session:
        execution = store.lock_execution(session, as_uuid(execution_id, "execution"))
        target = check_execution_action(action, actor, execution.status)
        now = utcnow()
        before = execution.status
        details: dict[str, Any] = {"from": before, "to": target, "reason": reason, "by": actor.label}
        if action == "retry":
            details["reopened_tasks"] = [str(i) for i in store.reopen_after_failure(session, execution, now)]
        if action == "cancel":
            store.close_open_tasks(session, [execution.id], f"the execution was cancelled: {reason}", now)
            store.cancel_open_visits(session, execution.id, now)
        store.set_execution_status(session, execution, target, reason, now)
        activity.record(session, entity_type="workflow_execution", entity_id=execution.id,
                        action={"pause": "execution_paused", "resume": "execution_resumed",
                                "cancel": "execution_cancelled", "retry": "execution_retried"}[action],
                        contact_id=execution.contact_id, details=details)
        emit(session, [execution_event("execution_status_changed", execution, now, actor_user_id=actor.user_id,
                                       action=action, reason=reason, **{"from": before, "to": target})])
        return execution


__all__ = ["start_execution", "start_execution_in", "claim_task", "release_task", "complete_task", "decide_on_behalf",
           "reassign_tasks", "snooze_task", "change_status", "find_contact"]
