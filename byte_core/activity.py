"""The audit trail. Every business write calls `record` inside the same transaction as the write."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import func, select, union
from sqlalchemy.orm import Session

from .models import ActivityLog
from .text import search_text

_SOFT_KEYS = {"workflow_execution": "workflow_execution_id", "contact": "contact_id", "task": "task_id"}


def record(
    session: Session,
    *,
    entity_type: str,
    entity_id: uuid.UUID,
    action: str,
    details: dict[str, Any] | None = None,
    workflow_execution_id: uuid.UUID | None = None,
    contact_id: uuid.UUID | None = None,
    task_id: uuid.UUID | None = None,
    user_id: str | None = None,
) -> ActivityLog:
    """Add one activity row; the soft FK matching `entity_type` is filled in automatically."""
    links = {"workflow_execution_id": workflow_execution_id, "contact_id": contact_id, "task_id": task_id}
    own_key = _SOFT_KEYS.get(entity_type)
    if own_key and links[own_key] is None:
        links[own_key] = entity_id
    row = ActivityLog(
        org_id=session.info["org_id"],
        user_id=user_id if user_id is not None else session.info.get("user_id"),
        entity_type=entity_type,
        entity_id=entity_id,
        action=action,
        details=details or {},
        **links,
    )
    session.add(row)
    return row


# --- reading ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ActivityFilter:
    entity_type: str | None = None
    entity_id: uuid.UUID | None = None
    user_id: str | None = None
    actions: tuple[str, ...] = ()  # internal names; activity_text.actions_for_labels maps the filter's labels
    start: date | None = None
    end: date | None = None


def _conditions(filters: ActivityFilter) -> list:
    where = []
    typed = {name: search_text(getattr(filters, name)) for name in ("entity_type", "user_id")}
    for column, value in ((ActivityLog.entity_type, typed["entity_type"]), (ActivityLog.entity_id, filters.entity_id),
                          (ActivityLog.user_id, typed["user_id"])):
        if value:
            where.append(column == value)
    if filters.actions:
        where.append(ActivityLog.action.in_(filters.actions))
    # Compared as timestamptz: against a DATE the planner gives up the (org_id, created_at) index.
    if filters.start:
        where.append(ActivityLog.created_at >= _utc_midnight(filters.start))
    if filters.end:
        where.append(ActivityLog.created_at < _utc_midnight(filters.end + timedelta(days=1)))
    return where


def _utc_midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), timezone.utc)


def count(db, actor, filters: ActivityFilter) -> int:
    """Rows matching, counted up to COUNT_CAP + 1: counting millions costs more than the page itself."""
    from .access import require_role

    require_role(actor, "admin", "manager")
    with db.session(actor.org_id) as session:
        return session.scalar(select(func.count()).select_from(
            select(ActivityLog.id).where(*_conditions(filters)).limit(COUNT_CAP + 1).subquery())) or 0


@dataclass(frozen=True)
class Entry:
    """One activity row as people read it: the sentence, plus the raw row one click away."""
    id: uuid.UUID
    at: datetime
    who: str
    sentence: str
    action: str
    entity_type: str
    entity_id: uuid.UUID
    workflow_execution_id: uuid.UUID | None
    details: dict[str, Any]


def _entries(session: Session, rows: list[ActivityLog]) -> list[Entry]:
    from .activity_text import lookup_names, sentence

    names = lookup_names(session, rows)
    return [Entry(r.id, r.created_at, names.user(r.user_id), sentence(r, names), r.action, r.entity_type,
                  r.entity_id, r.workflow_execution_id, dict(r.details or {})) for r in rows]


def search(db, actor, filters: ActivityFilter, *, offset: int = 0, limit: int = 50) -> list[Entry]:
    """One page of the log, newest first, each row as a sentence."""
    from .access import require_role

    require_role(actor, "admin", "manager")
    with db.session(actor.org_id) as session:
        # The page's ids first, alone, so the (org_id, created_at) index serves the ORDER BY ... LIMIT.
        page = (select(ActivityLog.id).where(*_conditions(filters)).order_by(ActivityLog.created_at.desc())
                .offset(offset).limit(limit).subquery())
        rows = list(session.scalars(select(ActivityLog).join(page, page.c.id == ActivityLog.id)
                                    .order_by(ActivityLog.created_at.desc())))
        return _entries(session, rows)


def history(db, actor, *, execution_ids: list[uuid.UUID] = (), contact_id: uuid.UUID | None = None,
            limit: int = 200) -> list[Entry]:
    """What happened to some executions and/or a contact, newest first, as sentences (execution history and
    the contact timeline). Two index lookups joined by UNION rather than one OR, which scans the log."""
    parts = []
    if execution_ids:
        parts.append(select(ActivityLog.id).where(ActivityLog.workflow_execution_id.in_(list(execution_ids))))
    if contact_id is not None:
        parts.append(select(ActivityLog.id).where(ActivityLog.contact_id == contact_id))
    if not parts:
        return []
    ids = union(*parts).subquery() if len(parts) > 1 else parts[0].subquery()
    with db.session(actor.org_id) as session:
        rows = list(session.scalars(select(ActivityLog).join(ids, ids.c.id == ActivityLog.id)
                                    .order_by(ActivityLog.created_at.desc(), ActivityLog.id).limit(limit)))
        return _entries(session, rows)


COUNT_CAP = 10_000


ENTITY_TYPES = ("contact", "workflow_execution", "task", "workflow_definition", "user", "formstack_submission",
                "formstack_config", "organization")
