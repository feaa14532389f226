"""A person's saved views of the task queue: a name for a queue, a search and a sort. Owner of the
`saved_task_views` table; each person sees and changes only their own."""
from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import delete, select

from . import activity
from .access import Actor
from .db import Database
from .errors import Conflict, InvalidInput, NotFound
from .models import SavedTaskView
from .task_queue import SORTS, queue_names


@dataclass(frozen=True)
class TaskView:
    id: uuid.UUID
    name: str
    queue: str
    search: str
    sort: str
    include_claimed: bool


def _person(actor: Actor) -> str:
    if actor.user_id is None:
        raise InvalidInput("saved views belong to a signed-in person")
    return actor.user_id


def list_views(db: Database, actor: Actor) -> list[TaskView]:
    with db.session(actor.org_id) as session:
        rows = session.scalars(select(SavedTaskView).where(SavedTaskView.user_id == _person(actor))
                               .order_by(SavedTaskView.name))
        return [TaskView(r.id, r.name, r.queue, r.search, r.sort, r.include_claimed) for r in rows]


def save_view(db: Database, actor: Actor, name: str, *, queue: str, search: str = "", sort: str = "due date",
              include_claimed: bool = False) -> TaskView:
    name = (name or "").strip()
    if not 1 <= len(name) <= 80:
        raise InvalidInput("give the view a name of 1 to 80 characters")
    if queue not in queue_names(actor):
        raise InvalidInput(f"you cannot open the {queue!r} queue")
    if sort not in SORTS:
        raise InvalidInput(f"unknown sort {sort!r}: use one of {', '.join(SORTS)}")
    user_id = _person(actor)
    with db.session(actor.org_id, user_id=user_id) as session:
        if session.scalar(select(SavedTaskView.id).where(SavedTaskView.user_id == user_id,
                                                         SavedTaskView.name == name)):
            raise Conflict(f"you already have a view named {name!r}: pick another name or delete that one")
        row = SavedTaskView(id=uuid.uuid4(), org_id=actor.org_id, user_id=user_id, name=name, queue=queue,
                            search=search.strip(), sort=sort, include_claimed=include_claimed)
        session.add(row)
        session.flush()
        activity.record(session, entity_type="saved_task_view", entity_id=row.id, action="task_view_saved",
                        details={"name": name, "queue": queue, "search": row.search, "sort": sort})
        return TaskView(row.id, name, queue, row.search, sort, include_claimed)


def delete_view(db: Database, actor: Actor, view_id: uuid.UUID) -> None:
    user_id = _person(actor)
    with db.session(actor.org_id, user_id=user_id) as session:
        removed = session.execute(delete(SavedTaskView).where(SavedTaskView.id == view_id,
                                                              SavedTaskView.user_id == user_id)
                                  .returning(SavedTaskView.name)).scalar()
        if removed is None:
            raise NotFound("that saved view no longer exists")
        activity.record(session, entity_type="saved_task_view", entity_id=view_id, action="task_view_deleted",
                        details={"name": removed})
