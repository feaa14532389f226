"""Notes on executions, contacts and tasks (seed 000 `notes`: exactly one parent)."""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select

from . import activity
from .access import Actor
from .db import Database
from .errors import InvalidInput, NotFound, PermissionDenied
from .models import Contact, Note, Task, WorkflowExecution
from .notifications import emit, mention_events

PARENTS = {"workflow_execution": "workflow_execution_id", "contact": "contact_id", "task": "task_id"}
PARENT_MODELS = {"workflow_execution": WorkflowExecution, "contact": Contact, "task": Task}


def add_note(db: Database, actor: Actor, entity_type: str, entity_id: uuid.UUID, content: str, *,
             is_internal: bool = True, now: datetime | None = None) -> Note:
    if entity_type not in PARENTS:
        raise InvalidInput(f"notes attach to {', '.join(PARENTS)}, not {entity_type!r}")
    content = (content or "").strip()
    if not content:
        raise InvalidInput("a note cannot be empty")
    if "\x00" in content:  # PostgreSQL text cannot hold it: refused with a message, not a DataError
        raise InvalidInput("a note cannot contain a NUL character")
    if actor.user_id is None:
        raise PermissionDenied("notes are written by people: sign in as a user")
    try:
        entity_id = uuid.UUID(str(entity_id))
    except ValueError:
        raise InvalidInput(f"{entity_id!r} is not an id") from None
    with db.session(actor.org_id, user_id=actor.user_id) as session:
        # Checked under RLS first: another organization's id and an id that exists nowhere get the same
        # answer (the composite foreign key would refuse both, but its error would tell them apart).
        if session.get(PARENT_MODELS[entity_type], entity_id) is None:
            raise NotFound(f"no {entity_type.replace('_', ' ')} with that id in this organization")
        note = Note(id=uuid.uuid4(), org_id=actor.org_id, entity_type=entity_type, entity_id=entity_id,
                    user_id=actor.user_id, content=content, is_internal=is_internal, **{PARENTS[entity_type]: entity_id})
        if now is not None:
            note.created_at = now
        session.add(note)
        entry = activity.record(session, entity_type=entity_type, entity_id=entity_id, action="note_added",
                                details={"note_id": str(note.id), "preview": content[:80]})
        if now is not None:
            entry.created_at = now
        emit(session, mention_events(note, now))  # [F] @email mentions
        return note


def list_notes(db: Database, actor: Actor, entity_type: str, entity_id: uuid.UUID) -> list[Note]:
    if entity_type not in PARENTS:
        raise InvalidInput(f"notes attach to {', '.join(PARENTS)}, not {entity_type!r}")
    with db.session(actor.org_id) as session:
        column = getattr(Note, PARENTS[entity_type])
        return list(session.scalars(select(Note).where(column == entity_id).order_by(Note.created_at.desc())))
