"""insert_rows and update_rows: many rows in one unnest statement, typed per column, under row-level security."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.exc import ProgrammingError

from byte_core.bulk_rows import insert_rows, update_rows
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


def test_update_sets_each_row_its_own_values_including_nulls_and_json(database, actor):
    rows = [audit_row(actor.org_id, details={"before": i}) for i in range(3)]
    with database.session(actor.org_id) as session:
        insert_rows(session, ActivityLog, rows)
    later = datetime(2026, 5, 6, 7, 8, 9, tzinfo=timezone.utc)
    changes = [{"id": rows[0]["id"], "details": {"after": "quote ' \" \\"}, "user_id": None, "created_at": later},
               {"id": rows[1]["id"], "details": None, "user_id": None, "created_at": later}]
    with database.session(actor.org_id) as session:
        update_rows(session, ActivityLog, changes)
        update_rows(session, ActivityLog, [])  # nothing to do is not an error
    with database.session(actor.org_id) as session:
        stored = {r.id: r for r in session.scalars(select(ActivityLog).where(ActivityLog.action == "bulk_test"))}
    assert stored[rows[0]["id"]].details == {"after": "quote ' \" \\"}
    assert stored[rows[1]["id"]].details is None
    assert stored[rows[0]["id"]].created_at == stored[rows[1]["id"]].created_at == later
    assert stored[rows[2]["id"]].details == {"before": 2}  # not named, not touched
    assert stored[rows[2]["id"]].created_at == rows[2]["created_at"]


def test_update_cannot_reach_another_organizations_rows(database, actor):
    other = new_org(database)
    theirs = audit_row(other.id, details={"theirs": True})
    with database.session(other.id) as session:
        insert_rows(session, ActivityLog, [theirs])
    with database.session(actor.org_id) as session:
        update_rows(session, ActivityLog, [{"id": theirs["id"], "details": {"changed": True}}])
    with database.session(other.id) as session:
        assert session.get(ActivityLog, theirs["id"]).details == {"theirs": True}
