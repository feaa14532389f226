"""Read model for the Task queue page: one queue at a time, sorted and paginated in SQL, with the
context a reviewer needs beside a task (contact, workflow, step, what the execution waits on)."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import case, func, or_, select

from .access import Actor
from .db import Database
from .errors import InvalidInput, NotFound
from .models import Contact, Task, User, WorkflowDefinition, WorkflowExecution
from .text import search_text

from .workflow.lifecycle import TASK_OPEN as OPEN
MINE = "mine"
_PRIORITY_RANK = lambda: case({"high": 0, "medium": 1, "low": 2}, value=Task.priority, else_=3)  # noqa: E731
# Every sort ends with the same tie-breakers (due, priority, created, id), so a page never reshuffles.
SORTS = {
    "due date": lambda: (Task.due_date.asc().nulls_last(), _PRIORITY_RANK(), Task.created_at, Task.id),
    "priority": lambda: (_PRIORITY_RANK(), Task.due_date.asc().nulls_last(), Task.created_at, Task.id),
    "age": lambda: (Task.created_at.asc(), Task.due_date.asc().nulls_last(), _PRIORITY_RANK(), Task.id),
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
    #: what the person saw, passed back to every command (refused if the task changed since)
    version: int
    #: the execution's status: a task of a paused execution is listed but frozen
    execution_status: str | None
    snoozed_until: date | None = None
    contact_id: uuid.UUID | None = None

    @property
    def frozen(self) -> bool:
        return self.execution_status == "paused"


@dataclass(frozen=True)
class QueuePage:
    rows: list[QueueRow]
    total: int


def queue_names(actor: Actor) -> list[str]:
    """"mine" and the role queues this person may look at (managers and admins see every role)."""
    roles = ["reviewer", "hr", "manager", "admin"] if actor.has_any("admin", "manager") else sorted(actor.roles)
    return [MINE, *roles]


def _queue_conditions(actor: Actor, queue: str, include_claimed: bool, include_snoozed: bool,
                      today: date) -> list:
    where = [Task.status.in_(OPEN)]
    if queue == MINE:
        where.append(Task.assigned_to == actor.user_id)
        if not include_snoozed:
            where.append(or_(Task.snoozed_until.is_(None), Task.snoozed_until <= today))
    else:
        where.append(Task.assigned_role == queue)
        if not include_claimed:
            where.append(Task.assigned_to.is_(None))
    return where


def queue_counts(db: Database, actor: Actor, today: date | None = None) -> dict[str, int]:
    """How many tasks each queue this person may open holds right now (for the queue selector)."""
    today = today or datetime.now(timezone.utc).date()
    counts = {}
    with db.session(actor.org_id) as session:
        for queue in queue_names(actor):  # each one an index-only count (idx_tasks_open_queues)
            counts[queue] = session.scalar(select(func.count()).select_from(Task).where(
                *_queue_conditions(actor, queue, False, False, today))) or 0
    return counts


def task_queue(db: Database, actor: Actor, queue: str, *, sort: str = "due date", include_claimed: bool = False,
               search: str = "", offset: int = 0, limit: int = 25, include_snoozed: bool = False,
               today: date | None = None, page: int | None = None) -> QueuePage:
    """A role queue holds the unclaimed tasks of that role (with `include_claimed`, the held ones too);
    "mine" leaves out tasks snoozed past today; `search` narrows to tasks whose title or contact name
    contains the text. `limit=0` only counts. With `page` (1-based, `limit` rows a page) the offset follows
    from the count, the page clamped to the last one: one count and one page of rows in one transaction."""
    if queue not in queue_names(actor):
        raise InvalidInput(f"you cannot open the {queue!r} queue")
    if sort not in SORTS:
        raise InvalidInput(f"unknown sort {sort!r}: use one of {', '.join(SORTS)}")
    where = _queue_conditions(actor, queue, include_claimed, include_snoozed,
                              today or datetime.now(timezone.utc).date())
    search = search_text(search)
    if search:
        like = f"%{search.lower()}%"
        # No index can serve a substring match here: under row-level security a filter with lower() or
        # LIKE (not leakproof) runs after the organization's rows are found. The queue's open tasks are
        # read from idx_tasks_open_queues alone (title and contact included), the contacts once (hashed).
        where.append(or_(func.lower(Task.title).like(like), Task.contact_id.in_(
            select(Contact.id).where(Contact.name_key.like(like)))))
    with db.session(actor.org_id) as session:
        matched = None
        if search:
            # A search reads every candidate anyway: its matches, in order, from the index alone (all
            # the sort keys are in idx_tasks_open_queues), then one page of rows by id. Walking the due
            # date index instead and stopping at a page, as without a search, reads every open task of
            # the organization when the search matches few (0.9 s at the large seed).
            matched = list(session.scalars(select(Task.id).where(*where).order_by(*SORTS[sort]())))
            total = len(matched)
        else:
            total = session.scalar(select(func.count()).select_from(Task).where(*where)) or 0
        if page is not None and limit:
            offset = (min(max(page, 1), max(1, -(-total // limit))) - 1) * limit
        rows = []
        if limit:
            query = _rows_query().order_by(*SORTS[sort]())
            if matched is None:
                query = query.where(*where).offset(offset).limit(limit)
            else:
                query = query.where(Task.id.in_(matched[offset:offset + limit]))
            rows = [_row(actor, *r) for r in session.execute(query).all()]
    return QueuePage(rows, total)


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
    return (select(Task, User.email, Contact.first_name, Contact.last_name, WorkflowDefinition.name,
                   WorkflowExecution.status)
            .outerjoin(User, User.id == Task.assigned_to)
            .outerjoin(Contact, Contact.id == Task.contact_id)
            .outerjoin(WorkflowExecution, WorkflowExecution.id == Task.workflow_execution_id)
            .outerjoin(WorkflowDefinition, WorkflowDefinition.id == WorkflowExecution.workflow_definition_id))


def _row(actor: Actor, task: Task, holder: str | None, first: str | None, last: str | None,
         workflow: str | None, execution_status: str | None) -> QueueRow:
    options: dict[str, Any] = (task.metadata_ or {}).get("approval_options", {})
    return QueueRow(task.id, task.title, task.task_type or "standard", task.status, task.priority or "medium",
                    task.assigned_role, holder, task.assigned_to == actor.user_id, task.due_date, task.created_at,
                    f"{first} {last}" if first else None, workflow, task.created_by_step_id,
                    task.workflow_execution_id, bool(options.get("require_comment")),
                    options.get("approve_label") or "Approve", options.get("reject_label") or "Reject", task.outcome,
                    task.version, execution_status, task.snoozed_until, task.contact_id)


@dataclass(frozen=True)
class TaskDetail:
    """Everything a reviewer needs beside one task to decide it: the task as it is now (with its version),
    its description, the contact, and its execution (phase progress, history, earlier decisions, notes)."""

    row: QueueRow
    description: str | None
    contact: dict[str, Any] | None
    execution: Any  # workflow.inspect.ExecutionDetail, or None for a task without a workflow


def task_detail(db: Database, actor: Actor, task_id: uuid.UUID) -> TaskDetail:
    """One transaction (the inbox reads this on every click); the contact is read once, with the execution
    when the task has one."""
    from .workflow.inspect import load_execution

    with db.session(actor.org_id) as session:
        found = session.execute(_rows_query().where(Task.id == task_id)).first()
        if found is None:
            raise NotFound("This task does not exist in this organization (it may have been removed).")
        row = _row(actor, *found)
        task = found[0]
        execution = load_execution(session, row.execution_id) if row.execution_id else None
        contact = None
        if task.contact_id:
            same = execution is not None and execution.contact is not None and execution.contact.id == task.contact_id
            contact = execution.contact if same else session.get(Contact, task.contact_id)
        contact_view = None if contact is None else {
            "id": contact.id, "name": contact.full_name, "email": contact.email, "phone": contact.phone,
            "city": ", ".join(x for x in (contact.city, contact.state) if x), "tags": contact.tags or []}
        return TaskDetail(row, task.description, contact_view, execution)


def reassign_targets(db: Database, actor: Actor) -> list[str]:
    """Emails of the active people a manager can hand tasks to."""
    with db.session(actor.org_id) as session:
        return list(session.scalars(select(User.email).where(User.is_active.is_(True)).order_by(User.email)))
