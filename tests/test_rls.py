"""Row-level security matrix: for every org table, another organization's rows cannot be read,
changed, deleted or created, even by a query that forgets its org filter."""
from __future__ import annotations

import pytest
import sqlalchemy
from sqlalchemy import text

from byte_core.config import APP_ROLE
from tests.conftest import new_org

ORG_TABLES = ["users", "contacts", "workflow_definitions", "workflow_definition_versions", "workflow_executions",
              "workflow_execution_steps", "tasks", "notes", "activity_log", "formstack_config",
              "formstack_submissions", "notifications", "email_outbox", "webhook_endpoints", "webhook_deliveries"]


def populate(database, org_id: str) -> dict[str, object]:
    """One row in every org table, linked the way real data is."""
    ids: dict[str, object] = {}
    with database.session(org_id) as s:
        def one(sql: str, **params) -> object:
            return s.execute(text(sql), {"org": org_id, **params}).scalar_one()

        ids["users"] = one("INSERT INTO users (id, org_id, email) VALUES (:org || '_u', :org, :org || '@example.com') "
                           "RETURNING id")
        ids["contacts"] = one("INSERT INTO contacts (org_id, first_name, last_name) VALUES (:org, 'A', 'B') RETURNING id")
        ids["workflow_definitions"] = one(
            "INSERT INTO workflow_definitions (org_id, name) VALUES (:org, 'wf') RETURNING id")
        d = ids["workflow_definitions"]
        ids["workflow_definition_versions"] = one(
            "INSERT INTO workflow_definition_versions (org_id, workflow_definition_id, version, steps) "
            "VALUES (:org, :d, 1, '[]') RETURNING id", d=d)
        ids["workflow_executions"] = one(
            "INSERT INTO workflow_executions (org_id, workflow_definition_id, contact_id) VALUES (:org, :d, :c) "
            "RETURNING id", d=d, c=ids["contacts"])
        e = ids["workflow_executions"]
        ids["workflow_execution_steps"] = one(
            "INSERT INTO workflow_execution_steps (org_id, workflow_execution_id, seq, step_id, step_type) "
            "VALUES (:org, :e, 1, 'step_1', 'trigger') RETURNING id", e=e)
        ids["tasks"] = one("INSERT INTO tasks (org_id, workflow_execution_id, title) VALUES (:org, :e, 't') RETURNING id",
                           e=e)
        ids["notes"] = one("INSERT INTO notes (org_id, entity_type, entity_id, contact_id, user_id, content) "
                           "VALUES (:org, 'contact', :c, :c, :u, 'hello') RETURNING id", c=ids["contacts"],
                           u=ids["users"])
        ids["activity_log"] = one("INSERT INTO activity_log (org_id, entity_type, entity_id, action) "
                                  "VALUES (:org, 'contact', :c, 'created') RETURNING id", c=ids["contacts"])
        ids["formstack_config"] = one("INSERT INTO formstack_config (org_id) VALUES (:org) RETURNING id")
        ids["formstack_submissions"] = one(
            "INSERT INTO formstack_submissions (org_id, form_id, submission_id, raw_payload) "
            "VALUES (:org, 'f', 's1', '{}') RETURNING id")
        ids["notifications"] = one("INSERT INTO notifications (org_id, user_id, kind, title, task_id) "
                                   "VALUES (:org, :u, 'task_created', 't', :t) RETURNING id", u=ids["users"], t=ids["tasks"])
        ids["email_outbox"] = one("INSERT INTO email_outbox (org_id, user_id, to_address, kind) "
                                  "VALUES (:org, :u, 'a@example.com', 'test') RETURNING id", u=ids["users"])
        ids["webhook_endpoints"] = one("INSERT INTO webhook_endpoints (org_id, url, secret, events) "
                                       "VALUES (:org, 'https://example.com/h', 'whsec_0123456789abcdef', "
                                       "'{task_created}') RETURNING id")
        ids["webhook_deliveries"] = one("INSERT INTO webhook_deliveries (org_id, endpoint_id, event, payload) "
                                        "VALUES (:org, :w, 'ping', '{}') RETURNING id", w=ids["webhook_endpoints"])
    return ids


@pytest.fixture(scope="module")
def two_orgs(database):
    a, b = new_org(database, "rls-a"), new_org(database, "rls-b")
    return a.id, populate(database, a.id), b.id, populate(database, b.id)


@pytest.mark.parametrize("table", ORG_TABLES)
def test_select_without_filter_sees_only_own_rows(database, two_orgs, table):
    a, a_ids, b, b_ids = two_orgs
    with database.session(a) as s:
        orgs = set(s.execute(text(f"SELECT DISTINCT org_id FROM {table}")).scalars())
        seen_b = s.execute(text(f"SELECT count(*) FROM {table} WHERE id = :id"), {"id": b_ids[table]}).scalar_one()
    assert orgs == {a} and seen_b == 0


@pytest.mark.parametrize("table", ORG_TABLES)
def test_update_and_delete_of_other_org_touch_nothing(database, two_orgs, table):
    a, a_ids, b, b_ids = two_orgs
    with database.session(a) as s:
        updated = s.execute(text(f"UPDATE {table} SET org_id = org_id WHERE id = :id"), {"id": b_ids[table]}).rowcount
        deleted = s.execute(text(f"DELETE FROM {table} WHERE id = :id"), {"id": b_ids[table]}).rowcount
    assert (updated, deleted) == (0, 0)
    with database.session(b) as s:
        assert s.execute(text(f"SELECT count(*) FROM {table} WHERE id = :id"), {"id": b_ids[table]}).scalar_one() == 1


@pytest.mark.parametrize("table", ORG_TABLES)
def test_insert_into_other_org_is_refused(database, two_orgs, table):
    a, a_ids, b, _ = two_orgs
    new_id = "'copy-' || (x.id)::text" if table == "users" else "gen_random_uuid()"
    changes = f"jsonb_build_object('id', {new_id}, 'org_id', CAST(:b AS text))"
    if table == "users":
        changes += " || jsonb_build_object('email', 'copy-' || x.email)"
    with pytest.raises(sqlalchemy.exc.ProgrammingError, match="row-level security"):
        with database.session(a) as s:
            s.execute(text(f"INSERT INTO {table} SELECT (jsonb_populate_record(NULL::{table}, to_jsonb(x) || {changes})).* "
                           f"FROM {table} x WHERE x.id = :id"), {"id": a_ids[table], "b": b})


@pytest.mark.parametrize("table", ORG_TABLES)
def test_moving_own_row_to_other_org_is_refused(database, two_orgs, table):
    a, a_ids, b, _ = two_orgs
    with pytest.raises(sqlalchemy.exc.ProgrammingError, match="row-level security"):
        with database.session(a) as s:
            s.execute(text(f"UPDATE {table} SET org_id = :b WHERE id = :id"), {"id": a_ids[table], "b": b})


@pytest.mark.parametrize("table", ORG_TABLES)
def test_session_without_org_sees_nothing(database, two_orgs, table):
    with database.session(None) as s:
        assert s.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() == 0


def test_owner_is_forced_through_rls_too(database, two_orgs):
    with database.owner_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM contacts")).scalar_one() == 0


def test_app_role_owns_nothing_and_cannot_bypass(database):
    with database.app_engine.connect() as conn:
        assert conn.execute(text("SELECT current_user")).scalar_one() == APP_ROLE
        role = conn.execute(text("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")).one()
        owned = conn.execute(text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public' "
                                  "AND tableowner = current_user")).scalar_one()
        forced = conn.execute(text("SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace "
                                   "AND relkind = 'r' AND relrowsecurity AND relforcerowsecurity")).scalar_one()
    assert tuple(role) == (False, False) and owned == 0
    assert forced >= len(ORG_TABLES) + 2  # + organizations, login_attempts


def test_login_lookup_reveals_only_the_email_asked_for(database, two_orgs):
    a, a_ids, b, b_ids = two_orgs
    with database.session(None, login_email=f"{b}@example.com") as s:
        rows = s.execute(text("SELECT id FROM users")).scalars().all()
    assert rows == [b_ids["users"]]
