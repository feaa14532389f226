"""The audit trail. Every business write calls `record` inside the same transaction as the write."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .models import ActivityLog, User
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
    action: str | None = None
    start: date | None = None
    end: date | None = None


def _conditions(filters: ActivityFilter) -> list:
    where = []
    typed = {name: search_text(getattr(filters, name)) for name in ("entity_type", "user_id", "action")}
    for column, value in ((ActivityLog.entity_type, typed["entity_type"]), (ActivityLog.entity_id, filters.entity_id),
                          (ActivityLog.user_id, typed["user_id"]), (ActivityLog.action, typed["action"])):
        if value:
            where.append(column == value)
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


def search(db, actor, filters: ActivityFilter, *, offset: int = 0, limit: int = 50
           ) -> list[tuple[ActivityLog, str | None]]:
    """One page of the log, newest first, with the acting user's email."""
    from .access import require_role

    require_role(actor, "admin", "manager")
    with db.session(actor.org_id) as session:
        # The page's ids first, alone, so the (org_id, created_at) index serves the ORDER BY ... LIMIT.
        page = (select(ActivityLog.id).where(*_conditions(filters)).order_by(ActivityLog.created_at.desc())
                .offset(offset).limit(limit).subquery())
        rows = session.execute(select(ActivityLog, User.email).join(page, page.c.id == ActivityLog.id)
                               .outerjoin(User, User.id == ActivityLog.user_id)
                               .order_by(ActivityLog.created_at.desc())).all()
    return [(row, email) for row, email in rows]


COUNT_CAP = 10_000


ENTITY_TYPES = ("contact", "workflow_execution", "task", "workflow_definition", "user", "formstack_submission",
                "formstack_config", "organization")
