"""The audit trail. Every business write calls `record` inside the same transaction as the write."""
from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from .models import ActivityLog

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
