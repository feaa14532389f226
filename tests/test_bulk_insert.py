"""insert_rows: many rows in one unnest INSERT, typed per column, under row-level security."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.exc import ProgrammingError

from byte_core.bulk_insert import insert_rows
from byte_core.models import ActivityLog
from tests.conftest import new_org


def audit_row(org_id: str, **overrides):
    entity = uuid.uuid4()
    return {"id": uuid.uuid4(), "org_id": org_id, "user_id": None, "entity_type": "contact", "entity_id": entity,
            "action": "bulk_test", "details": {"n": 1, "nested": {"ok": True}}, "created_at":
            datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=timezone.utc), **overrides}


def test_rows_keep_their_types_nulls_and_json(database, actor):
    rows = [audit_row(actor.org_id), audit_row(actor.org_id, details=None, user_id=None),
            audit_row(actor.org_id, details={"text": "quote ' and \" and \\ slash", "list": [1, None]})]
    with database.session(actor.org_id) as session:
        insert_rows(session, ActivityLog, rows)
    with database.session(actor.org_id) as session:
        stored = {r.id: r for r in session.scalars(select(ActivityLog).where(ActivityLog.action == "bulk_test"))}
    assert set(stored) == {r["id"] for r in rows}
    for row in rows:
        got = stored[row["id"]]
        assert (got.details, got.entity_id, got.created_at) == (row["details"], row["entity_id"], row["created_at"])


def test_a_row_for_another_organization_is_refused(database, actor):
    other = new_org(database)
    with pytest.raises(ProgrammingError, match="row-level security"):
        with database.session(actor.org_id) as session:
            insert_rows(session, ActivityLog, [audit_row(actor.org_id), audit_row(other.id)])
    with database.session(actor.org_id) as session:  # the whole statement was refused, not half of it
        assert session.scalars(select(ActivityLog.id).where(ActivityLog.action == "bulk_test")).all() == []
