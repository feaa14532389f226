"""The lifecycle of an execution, its step visits and its tasks: one table of states and transitions,
and the pure rules that decide whether a person may act. `docs/lifecycle.md` is the same table in
prose; `workflow/commands.py` and `workflow/store.py` enforce it; tests/test_lifecycle_stateful.py
checks its invariants against the real database.

Nothing here touches the database, so every rule has a unit test without PostgreSQL.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..access import Actor
from ..errors import Conflict, PermissionDenied

# --- states ------------------------------------------------------------------------------------------------------
EXECUTION_STATES = ("running", "paused", "completed", "failed", "cancelled")
EXECUTION_ENDED = ("completed", "failed", "cancelled")
VISIT_STATES = ("running", "waiting", "completed", "failed", "timed_out", "cancelled")
VISIT_OPEN = ("running", "waiting")
TASK_STATES = ("todo", "in_progress", "done", "cancelled")
#: The one definition of an open task: unclaimed (todo) or claimed (in_progress).
TASK_OPEN = ("todo", "in_progress")

# --- transitions: action -> (from states, to state, who may) ------------------------------------------------------
EXECUTION_TRANSITIONS: dict[str, tuple[tuple[str, ...], str, tuple[str, ...]]] = {
    "start": ((), "running", ("admin", "manager", "reviewer", "hr")),
    "pause": (("running",), "paused", ("admin", "manager")),
    "resume": (("paused",), "running", ("admin", "manager")),
    "cancel": (("running", "paused", "failed"), "cancelled", ("admin", "manager")),
    "retry": (("failed",), "running", ("admin", "manager")),
    "complete": (("running",), "completed", ()),   # the engine only: an `end` step or the last step
    "fail": (("running",), "failed", ()),          # the engine only: a step that cannot go on, a timeout
}

#: What happens to the open tasks of an execution when it changes state.
TASKS_ON_EXECUTION = {
    "pause": "frozen: still listed, marked paused, nobody can claim, release or decide them",
    "resume": "thawed",
    "cancel": "closed (cancelled) with the reason, in the same transaction",
    "fail": "closed (cancelled) with the error, remembered on the execution",
    "complete": "closed (cancelled): nothing waits on them any more",
    "retry": "the tasks the failure closed are re-opened; the failed visit is re-opened with a fresh timer",
}

TASK_ACTIONS = ("claim", "release", "complete", "decide", "decide_on_behalf", "reassign", "snooze")


@dataclass(frozen=True)
class TaskView:
    """What the rules need to know about a task and its execution (read under a row lock)."""

    id: object
    title: str
    task_type: str
    status: str
    version: int
    assigned_to: str | None
    assigned_role: str | None
    updated_at: datetime | None
    completed_at: datetime | None = None
    completed_by: str | None = None
    outcome: str | None = None
    closed_reason: str | None = None
    execution_status: str | None = None
    execution_reason: str | None = None
    execution_since: datetime | None = None


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "earlier"


def may_hold(user_roles: frozenset[str] | set[str], user_id: str | None, task: TaskView) -> bool:
    """Whether a person may hold (claim, be given, decide) this task: the named user, or anyone with its role."""
    if task.assigned_role is None:
        return task.assigned_to is not None and task.assigned_to == user_id
    return task.assigned_role in user_roles


def check_task_action(action: str, actor: Actor, task: TaskView, *, expected_version: int | None,
                      name_of=lambda user_id: user_id or "nobody") -> None:
    """Raise Conflict or PermissionDenied with one sentence if `actor` may not `action` this task now.

    `expected_version` is the version the person saw; None (the command line, scripts) skips that check.
    `name_of` turns a user id into a name for the message.
    """
    if task.status == "done":
        verb = "decided" if task.task_type == "approval" else "completed"
        raise Conflict(f"This task was already {verb} by {name_of(task.completed_by)} at {_when(task.completed_at)}"
                       + (f" ({task.outcome})." if task.outcome else "."))
    if task.status == "cancelled":
        raise Conflict(f"This task is closed: {task.closed_reason or 'cancelled'}.")
    if task.execution_status == "paused":
        reason = f" ({task.execution_reason})" if task.execution_reason else ""
        raise Conflict(f"This execution is paused since {_when(task.execution_since)}{reason}; resume it first.")
    if task.execution_status not in (None, "running"):
        raise Conflict(f"This execution is {task.execution_status}; its tasks can no longer be worked on.")
    if expected_version is not None and expected_version != task.version:
        raise Conflict(_what_changed(task, name_of, actor))
    if action == "claim":
        if task.assigned_to is not None and task.assigned_to != actor.user_id:
            raise Conflict(f"This task is already claimed by {name_of(task.assigned_to)} at {_when(task.updated_at)}.")
        if actor.user_id is None or not may_hold(actor.roles, actor.user_id, task):
            raise PermissionDenied(f"This task is for the {task.assigned_role or 'named'} "
                                   f"{'role' if task.assigned_role else 'person'}; you cannot claim it.")
    elif action == "release":
        if task.assigned_to is not None and task.assigned_to != actor.user_id and not actor.has_any("admin", "manager"):
            raise PermissionDenied(f"Only {name_of(task.assigned_to)} or a manager can release this task.")
    elif action in ("complete", "decide"):
        if task.assigned_to is not None:
            if task.assigned_to != actor.user_id:
                raise PermissionDenied(f"This task is held by {name_of(task.assigned_to)}; "
                                       "an admin can decide on their behalf.")
        elif not may_hold(actor.roles, actor.user_id, task):
            raise PermissionDenied(f"This task is for the {task.assigned_role} role; "
                                   "an admin can decide on its behalf.")
    elif action == "decide_on_behalf":
        if not actor.has_any("admin"):
            raise PermissionDenied("Only an admin can decide on behalf of someone else.")
    elif action == "snooze":
        if task.assigned_to is None or task.assigned_to != actor.user_id:
            raise PermissionDenied("Only the person holding a task can snooze it; claim it first.")
    elif action == "reassign":
        if not actor.has_any("admin", "manager"):
            raise PermissionDenied("Only a manager or an admin can reassign tasks.")
    else:
        raise ValueError(f"unknown task action {action!r}")


def _what_changed(task: TaskView, name_of, actor: Actor) -> str:
    if task.assigned_to is not None and task.assigned_to != actor.user_id:
        return (f"This task was already claimed by {name_of(task.assigned_to)} at {_when(task.updated_at)}; "
                "nothing was done.")
    if task.assigned_to is not None:
        return (f"This task changed since you opened it: it is now held by {name_of(task.assigned_to)} "
                f"(since {_when(task.updated_at)}). Nothing was done; look again and retry.")
    return (f"This task changed since you opened it: it is now unclaimed in the {task.assigned_role or 'named'} "
            f"queue (since {_when(task.updated_at)}). Nothing was done; look again and retry.")


def check_execution_action(action: str, actor: Actor, status: str) -> str:
    """The state `action` moves an execution to, or a refusal."""
    if action not in EXECUTION_TRANSITIONS or not EXECUTION_TRANSITIONS[action][2]:
        raise ValueError(f"unknown action {action!r}: use pause, resume, cancel or retry")
    allowed, target, roles = EXECUTION_TRANSITIONS[action]
    if not actor.has_any(*roles):
        raise PermissionDenied(f"only a manager or an admin can {action} an execution")
    if status not in allowed:
        raise Conflict(f"cannot {action} an execution that is {status}")
    return target


def open_task_status(assigned_to: str | None) -> str:
    """The open state a task returns to (release, re-open, reassign): claimed when someone holds it."""
    return "in_progress" if assigned_to else "todo"
