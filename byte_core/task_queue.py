"""Read model for the Task queue page: one queue at a time, sorted and paginated in SQL, with the
context a reviewer needs beside a task (contact, workflow, step, what the execution waits on)."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import case, func, or_, select

from .access import Actor
from .db import Database
from .errors import InvalidInput, NotFound
from .models import Contact, Task, User, WorkflowDefinition, WorkflowExecution
from .text import search_text

OPEN = ("todo", "in_progress")
MINE = "mine"
SORTS = {
    "due date": lambda: (Task.due_date.asc().nulls_last(), Task.created_at),
    "priority": lambda: (case({"high": 0, "medium": 1, "low": 2}, value=Task.priority, else_=3), Task.due_date.asc().nulls_last()),
    "age": lambda: (Task.created_at.asc(),),
}


@dataclass(frozen=True)
class QueueRow:
    id: uuid.UUID
    title: str
    task_type: str
    status: str
    priority: str
    assigned_role: str | None
    holder: str | None
    held_by_me: bool
    due_date: date | None
    created_at: datetime
    contact: str | None
    workflow: str | None
    step_id: str | None
    execution_id: uuid.UUID | None
    require_comment: bool
    approve_label: str
    reject_label: str
    outcome: str | None


@dataclass(frozen=True)
class QueuePage:
    rows: list[QueueRow]
    total: int


def queue_names(actor: Actor) -> list[str]:
    """"mine" and the role queues this person may look at (managers and admins see every role)."""
    roles = ["reviewer", "hr", "manager", "admin"] if actor.has_any("admin", "manager") else sorted(actor.roles)
    return [MINE, *roles]


def task_queue(db: Database, actor: Actor, queue: str, *, sort: str = "due date", include_claimed: bool = False,
               search: str = "", offset: int = 0, limit: int = 25) -> QueuePage:
    """A role queue holds the unclaimed tasks of that role (with `include_claimed`, the held ones too);
    `search` narrows it to tasks whose title or contact name contains the text."""
    if queue not in queue_names(actor):
        raise InvalidInput(f"you cannot open the {queue!r} queue")
    if sort not in SORTS:
        raise InvalidInput(f"unknown sort {sort!r}: use one of {', '.join(SORTS)}")
    where = [Task.status.in_(OPEN)]
    if queue == MINE:
        where.append(Task.assigned_to == actor.user_id)
    else:
        where.append(Task.assigned_role == queue)
        if not include_claimed:
            where.append(Task.assigned_to.is_(None))
    search = search_text(search)
    if search:
        like = f"%{search.lower()}%"
        where.append(or_(func.lower(Task.title).like(like), Task.contact_id.in_(
            select(Contact.id).where(func.lower(Contact.first_name + " " + Contact.last_name).like(like)))))
    with db.session(actor.org_id) as session:
        total = session.scalar(select(func.count()).select_from(Task).where(*where))
        query = _rows_query().where(*where).order_by(*SORTS[sort]()).offset(offset).limit(limit)
        rows = [_row(actor, *r) for r in session.execute(query).all()]
    return QueuePage(rows, total or 0)


def task_list(db: Database, actor: Actor, *, role: str | None = None, mine: bool = False,
              include_done: bool = False, limit: int = 200) -> list[QueueRow]:
    """Every task of the organization, soonest due first, narrowed as asked (`byte task list`)."""
    where = [] if include_done else [Task.status.in_(OPEN)]
    if mine:
        where.append(Task.assigned_to == actor.user_id)
    if role:
        where.append(Task.assigned_role == role)
    with db.session(actor.org_id) as session:
        query = _rows_query().where(*where).order_by(*SORTS["due date"]()).limit(limit)
        return [_row(actor, *r) for r in session.execute(query).all()]


def _rows_query():
    return (select(Task, User.email, Contact.first_name, Contact.last_name, WorkflowDefinition.name)
            .outerjoin(User, User.id == Task.assigned_to)
            .outerjoin(Contact, Contact.id == Task.contact_id)
            .outerjoin(WorkflowExecution, WorkflowExecution.id == Task.workflow_execution_id)
            .outerjoin(WorkflowDefinition, WorkflowDefinition.id == WorkflowExecution.workflow_definition_id))


def _row(actor: Actor, task: Task, holder: str | None, first: str | None, last: str | None,
         workflow: str | None) -> QueueRow:
    options: dict[str, Any] = (task.metadata_ or {}).get("approval_options", {})
    return QueueRow(task.id, task.title, task.task_type or "standard", task.status, task.priority or "medium",
                    task.assigned_role, holder, task.assigned_to == actor.user_id, task.due_date, task.created_at,
                    f"{first} {last}" if first else None, workflow, task.created_by_step_id,
                    task.workflow_execution_id, bool(options.get("require_comment")),
                    options.get("approve_label") or "Approve", options.get("reject_label") or "Reject", task.outcome)


@dataclass(frozen=True)
class TaskContext:
    description: str | None
    contact: dict[str, Any] | None
    explanation: str | None
    execution_status: str | None


def task_context(db: Database, actor: Actor, task_id: uuid.UUID) -> TaskContext:
    from .workflow.inspect import explain

    with db.session(actor.org_id) as session:
        task = session.get(Task, task_id)
        if task is None:
            raise NotFound("task not found (it may have been removed)")
        contact = session.get(Contact, task.contact_id) if task.contact_id else None
        execution = session.get(WorkflowExecution, task.workflow_execution_id) if task.workflow_execution_id else None
        contact_view = None if contact is None else {
            "id": contact.id, "name": contact.full_name, "email": contact.email, "phone": contact.phone,
            "city": ", ".join(x for x in (contact.city, contact.state) if x), "tags": contact.tags or []}
        description = task.description
    text = explain(db, actor, execution.id).text if execution is not None else None
    return TaskContext(description, contact_view, text, execution.status if execution else None)


def reassign_targets(db: Database, actor: Actor) -> list[str]:
    """Emails of the active people a manager can hand tasks to."""
    with db.session(actor.org_id) as session:
        return list(session.scalars(select(User.email).where(User.is_active.is_(True)).order_by(User.email)))
