"""Unpublished drafts of workflow definitions (issue [E]): one per admin and definition, so a half-built
workflow survives a page reload until it is published (`definitions.save_definition`) or discarded.

A draft is the admin's scratch space, not a business change: keeping it up to date writes no activity row
(it would log every keystroke); discarding one does, since it throws work away.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert

from .. import activity
from ..access import Actor, require_role
from ..db import Database
from ..models import WorkflowDraft

NEW_DEFINITION = ""  # the draft of a definition that has no name in the database yet


def load_draft(db: Database, actor: Actor, definition_name: str) -> dict[str, Any] | None:
    require_role(actor, "admin")
    with db.session(actor.org_id) as session:
        return session.scalar(select(WorkflowDraft.draft).where(WorkflowDraft.user_id == actor.user_id,
                                                                WorkflowDraft.definition_name == definition_name))


def save_draft(db: Database, actor: Actor, definition_name: str, draft: dict[str, Any]) -> None:
    """Keep the admin's current draft (insert or replace)."""
    require_role(actor, "admin")
    with db.session(actor.org_id, user_id=actor.user_id) as session:
        statement = insert(WorkflowDraft).values(org_id=actor.org_id, user_id=actor.user_id,
                                                 definition_name=definition_name, draft=draft)
        session.execute(statement.on_conflict_do_update(
            constraint="workflow_drafts_owner_name", set_={"draft": statement.excluded.draft, "updated_at": func.now()}))


def discard_draft(db: Database, actor: Actor, definition_name: str, *, published: bool = False) -> bool:
    """Drop the admin's draft; True if there was one. `published`: it became a version (no separate log row)."""
    require_role(actor, "admin")
    with db.session(actor.org_id, user_id=actor.user_id) as session:
        gone = session.scalar(delete(WorkflowDraft).where(WorkflowDraft.user_id == actor.user_id,
                                                          WorkflowDraft.definition_name == definition_name)
                              .returning(WorkflowDraft.id))
        if gone is not None and not published:
            activity.record(session, entity_type="workflow_draft", entity_id=gone, action="draft_discarded",
                            details={"name": definition_name or "(new definition)"})
    return gone is not None


__all__ = ["NEW_DEFINITION", "load_draft", "save_draft", "discard_draft"]
