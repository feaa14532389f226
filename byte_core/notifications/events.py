"""What happened, as lifecycle code tells it to `emit`: one small frozen record per event.

Lifecycle code (engine, service, notes, the reminder sweep) builds these from data it already holds;
`emit` turns them into notifications, emails and webhook deliveries in the caller's transaction.
"""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable

# Events a person can be told about (each a preference on My account), in the order the page lists them.
PERSON_KINDS = {
    "task_created": "A task is assigned to me or lands in my role's queue",
    "task_reassigned": "A task is reassigned to me or my role",
    "task_escalated": "A task escalates to me or my role",
    "task_due_soon": "A task of mine is due within 24 hours",
    "task_overdue": "A task of mine is overdue",
    "execution_failed": "An execution fails (managers and admins)",
    "note_mention": "Someone mentions me in a note (@my-email)",
}
# Events an outgoing webhook can subscribe to.
WEBHOOK_KINDS = {
    "execution_started": "Execution started",
    "execution_completed": "Execution completed",
    "execution_failed": "Execution failed",
    "execution_status_changed": "Execution paused, resumed, cancelled or retried",
    "task_created": "Task created",
    "task_claimed": "Task claimed",
    "task_reassigned": "Task reassigned",
    "task_escalated": "Task escalated",
    "task_decided": "Approval decided",
    "task_completed": "Task completed",
}
KINDS = frozenset(PERSON_KINDS) | frozenset(WEBHOOK_KINDS)
# Who hears about an execution failing: there is no assignee, so the people who run the pipeline.
FAILURE_ROLES = ("admin", "manager")

# With no preferences saved, a person hears about everything, in the app and by email at once.
DEFAULT_IN_APP = tuple(PERSON_KINDS)
DEFAULT_EMAIL = tuple(PERSON_KINDS)

# One sentence per kind, for the Notifications page and the email subject.
HEADLINES = {
    "task_created": "New task",
    "task_reassigned": "Task reassigned to you",
    "task_escalated": "Task escalated to you",
    "task_due_soon": "Due within 24 hours",
    "task_overdue": "Overdue",
    "execution_failed": "Execution failed",
    "note_mention": "You were mentioned",
}


@dataclass(frozen=True)
class LifecycleEvent:
    """One state change worth telling someone about. `assigned_to` is a user id or an email (mentions);
    with only `assigned_role`, every active holder of the role hears about it. An empty `title` is filled
    from the task (or the contact's name) by `emit`. `actor_user_id` never gets a notification of their
    own doing."""

    kind: str
    org_id: str
    at: datetime
    task_id: uuid.UUID | None = None
    execution_id: uuid.UUID | None = None
    contact_id: uuid.UUID | None = None
    assigned_to: str | None = None
    assigned_role: str | None = None
    title: str = ""
    actor_user_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown lifecycle event kind {self.kind!r}")


# --- builders the lifecycle code calls (one line each at its call site) ----------------------------------
_ACTIVITY_KINDS = {"task_created": "task_created", "task_escalated": "task_escalated",
                   "execution_completed": "execution_completed", "execution_failed": "execution_failed"}


def events_from_activity(rows: Iterable[dict[str, Any]]) -> list[LifecycleEvent]:
    """The engine's audit rows of one batch, as lifecycle events: the engine already writes one row per
    state change, so reading them back needs no second bookkeeping inside a run."""
    events = []
    for row in rows:
        kind = _ACTIVITY_KINDS.get(row["action"])
        if kind is None:
            continue
        details = row.get("details") or {}
        assigned_to = details.get("assigned_to") if kind == "task_created" else None
        role = details.get("assigned_role") if kind == "task_created" else details.get("to_role")
        events.append(LifecycleEvent(
            kind=kind, org_id=row["org_id"], at=row["created_at"], task_id=row.get("task_id"),
            execution_id=row.get("workflow_execution_id"), contact_id=row.get("contact_id"), assigned_to=assigned_to,
            assigned_role=role, title=details.get("title") or "", details=_public_details(details)))
    return events


def _public_details(details: dict[str, Any]) -> dict[str, Any]:
    keep = ("step_id", "task_type", "outcome", "error", "to_role")
    return {key: details[key] for key in keep if details.get(key) is not None}


def execution_event(kind: str, execution: Any, at: datetime, *, actor_user_id: str | None = None,
                    **details: Any) -> LifecycleEvent:
    """An event about a whole execution (started, failed, paused ...), from its row."""
    return LifecycleEvent(kind=kind, org_id=execution.org_id, at=at, execution_id=execution.id,
                          contact_id=execution.contact_id, actor_user_id=actor_user_id,
                          details={k: v for k, v in details.items() if v is not None})


def task_event(kind: str, task: Any, at: datetime, *, actor_user_id: str | None = None,
               **details: Any) -> LifecycleEvent:
    """An event about one task, from its row as it is after the change."""
    return LifecycleEvent(kind=kind, org_id=task.org_id, at=at, task_id=task.id,
                          execution_id=task.workflow_execution_id, contact_id=task.contact_id,
                          assigned_to=task.assigned_to, assigned_role=task.assigned_role, title=task.title or "",
                          actor_user_id=actor_user_id, details={k: v for k, v in details.items() if v is not None})


MENTION = re.compile(r"(?<![\w.+-])@([A-Za-z0-9._%+-]+@[A-Za-z0-9._-]+\.[A-Za-z]{2,})")


def mentioned_emails(text: str) -> list[str]:
    """`@ana@example.com` in a note mentions ana@example.com; each address once, in order."""
    return list(dict.fromkeys(match.lower().rstrip(".") for match in MENTION.findall(text or "")))


def mention_events(note: Any, at: datetime | None = None) -> list[LifecycleEvent]:
    """One event per person a note mentions; unknown addresses simply find no recipient."""
    emails = mentioned_emails(note.content)
    if not emails:
        return []
    moment = at or datetime.now(timezone.utc)
    return [LifecycleEvent(kind="note_mention", org_id=note.org_id, at=moment, task_id=note.task_id,
                           execution_id=note.workflow_execution_id, contact_id=note.contact_id, assigned_to=email,
                           actor_user_id=note.user_id, details={"body": note.content[:200]})
            for email in emails]
