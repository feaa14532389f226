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
              "formstack_submissions", "saved_task_views", "workflow_migrations", "workflow_migration_items",
              "user_sessions", "notifications", "email_outbox", "webhook_endpoints", "webhook_deliveries"]


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
        ids["saved_task_views"] = one("INSERT INTO saved_task_views (org_id, user_id, name, queue, sort) "
                                      "VALUES (:org, :u, 'mine', 'mine', 'due date') RETURNING id", u=ids["users"])
        ids["workflow_migrations"] = one(
            "INSERT INTO workflow_migrations (org_id, workflow_definition_id, from_version, to_version, created_by) "
            "VALUES (:org, :d, 1, 2, :u) RETURNING id", d=d, u=ids["users"])
        ids["workflow_migration_items"] = one(
            "INSERT INTO workflow_migration_items (org_id, migration_id, workflow_execution_id, status) "
            "VALUES (:org, :m, :e, 'migrated') RETURNING id", m=ids["workflow_migrations"], e=e)
        ids["workflow_drafts"] = one("INSERT INTO workflow_drafts (org_id, user_id, definition_name, draft) "
                                     "VALUES (:org, :u, 'wf', '{}') RETURNING id", u=ids["users"])
        ids["notification_preferences"] = one(
            "INSERT INTO notification_preferences (user_id, org_id, in_app_kinds, email_kinds) "
            "VALUES (:u, :org, '{}', '{}') RETURNING user_id", u=ids["users"])
        ids["task_reminders"] = one("INSERT INTO task_reminders (task_id, kind, org_id) "
                                    "VALUES (:t, 'task_overdue', :org) RETURNING task_id", t=ids["tasks"])
        ids["user_sessions"] = one("INSERT INTO user_sessions (org_id, user_id, token_hash, expires_at) "
                                   "VALUES (:org, :u, 'hash-' || :org, now() + interval '1 hour') RETURNING id",
                                   u=ids["users"])
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
    a_ids, b_ids = populate(database, a.id), populate(database, b.id)
    # Rows keyed by their reference (one per user, one per task and kind): org B must not already hold the row
    # an org A row would become by pointing at B's user or task, or the primary key refuses it first.
    with database.session(b.id) as s:
        s.execute(text("DELETE FROM notification_preferences"))
        s.execute(text("DELETE FROM task_reminders"))
    return a.id, a_ids, b.id, b_ids


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
    with database.owner_engine.connect() as conn:  # a copy names every column PostgreSQL does not generate
        columns = ", ".join(conn.execute(text(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = :t"
            " AND is_generated = 'NEVER' ORDER BY ordinal_position"), {"t": table}).scalars())
    with pytest.raises(sqlalchemy.exc.ProgrammingError, match="row-level security"):
        with database.session(a) as s:
            s.execute(text(f"INSERT INTO {table} ({columns}) SELECT {columns} "
                           f"FROM jsonb_populate_record(NULL::{table}, (SELECT to_jsonb(x) || {changes} "
                           f"FROM {table} x WHERE x.id = :id))"), {"id": a_ids[table], "b": b})


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


# --- organizations under RLS (issue [C] 6) ---------------------------------------------------------------------------
def test_organizations_show_a_session_only_its_own_org(database, two_orgs):
    a, _, b, _ = two_orgs
    with database.session(a) as s:
        seen = set(s.execute(text("SELECT id FROM organizations")).scalars())
        tokens_of_b = s.execute(text("SELECT count(intake_token) FROM organizations WHERE id = :b"), {"b": b}).scalar_one()
    with database.session(None) as s:
        without_org = s.execute(text("SELECT count(*) FROM organizations")).scalar_one()
    assert seen == {a} and tokens_of_b == 0 and without_org == 0


LOOKUPS = ("byte_org_by_intake_token", "byte_org_by_slug", "byte_org_ids")


def test_cross_org_lookups_are_narrow_security_definer_functions(database, two_orgs):
    _, _, b, _ = two_orgs
    with database.owner_engine.connect() as conn:
        functions = {row.proname: row for row in conn.execute(text(
            "SELECT proname, prosecdef, proconfig, pg_get_userbyid(proowner) AS owner, "
            "pg_get_function_result(oid) AS result, has_function_privilege(:app, oid, 'EXECUTE') AS app_may, "
            "has_function_privilege('public', oid, 'EXECUTE') AS public_may "
            "FROM pg_proc WHERE proname = ANY(:names)"), {"app": APP_ROLE, "names": list(LOOKUPS)})}
        owner = conn.execute(text("SELECT current_user")).scalar_one()
        token, slug = conn.execute(text("SELECT intake_token, slug FROM organizations WHERE id = :b"), {"b": b}).one()
    assert sorted(functions) == sorted(LOOKUPS)
    for row in functions.values():
        assert row.prosecdef and row.owner == owner and row.app_may and not row.public_may
        assert any(setting.startswith("search_path=") for setting in row.proconfig)
        assert row.result in ("text", "SETOF text")  # ids only: never a token, a name or settings
    with database.session(None) as s:  # as the app role, before any tenant is known
        assert s.execute(text("SELECT byte_org_by_intake_token(:t)"), {"t": token}).scalar_one() == b
        assert s.execute(text("SELECT byte_org_by_slug(:s)"), {"s": slug}).scalar_one() == b
        assert s.execute(text("SELECT byte_org_by_intake_token('no-such-token')")).scalar_one() is None
        assert b in set(s.execute(text("SELECT byte_org_ids()")).scalars())


def test_org_services_work_through_the_lookups(database, two_orgs):
    from byte_core.orgs import count_orgs, get_org, list_orgs
    from byte_core.workflow.runner import org_ids

    a, _, b, _ = two_orgs
    with database.session(b) as s:
        slug = s.execute(text("SELECT slug FROM organizations WHERE id = :b"), {"b": b}).scalar_one()
    assert get_org(database, slug).id == b
    assert {a, b} <= {org.id for org in list_orgs(database)} and count_orgs(database) >= 2
    assert {a, b} <= set(org_ids(database))


# --- composite org-scoped foreign keys (issue [C] 7) -----------------------------------------------------------------
ORG_FOREIGN_KEYS = text("""
    SELECT c.conname, c.conrelid::regclass::text AS child, c.confrelid::regclass::text AS parent,
           ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY k(n, i)
                 JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.i) AS columns,
           NOT EXISTS (SELECT 1 FROM unnest(c.conkey) k(n) JOIN pg_attribute a ON a.attrelid = c.conrelid
                       AND a.attnum = k.n WHERE a.attnotnull AND a.attname <> 'org_id') AS nullable
    FROM pg_constraint c
    WHERE c.contype = 'f' AND c.connamespace = 'public'::regnamespace
      AND EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = c.conrelid AND attname = 'org_id' AND NOT attisdropped)
      AND EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = c.confrelid AND attname = 'org_id' AND NOT attisdropped)
    ORDER BY 1""")


def org_foreign_keys(database) -> list:
    """Every foreign key from an org-scoped table to another org-scoped table, read from the catalog: a
    relation added later is covered without touching this test."""
    with database.owner_engine.connect() as conn:
        return conn.execute(ORG_FOREIGN_KEYS).all()


def test_every_org_scoped_foreign_key_is_composite(database):
    keys = org_foreign_keys(database)
    assert len(keys) >= 21
    single = [f"{k.child}.{k.columns}" for k in keys if "org_id" not in k.columns or len(k.columns) < 2]
    assert not single, f"not (org_id, x_id): {single}"


def _changes_that_leave_only_the_key(s, table: str, column: str, nullable_refs: set[str]) -> dict[str, str] | None:
    """SQL expressions (over row `x`) so that a copy of a row, or the row itself, with `column` changed can be
    refused only by that foreign key, and one column of each unique constraint is altered. None when no copy can be unique (a
    table holding one row per organization)."""
    types = dict(s.execute(text("SELECT column_name, data_type FROM information_schema.columns "
                                "WHERE table_schema = 'public' AND table_name = :t"), {"t": table}).all())
    # A nullable reference is one of several alternatives (a note has one parent): clear the others.
    changes = {other: "NULL" for other in nullable_refs - {column}} if column in nullable_refs else {}
    constraints = s.execute(text(
        "SELECT ARRAY(SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = c.conrelid "
        "AND a.attnum = ANY(c.conkey)) FROM pg_constraint c WHERE c.conrelid = CAST(:t AS regclass) "
        "AND c.contype = 'u'"), {"t": table}).scalars().all()
    for columns in constraints:
        if column in columns and set(columns) <= {column, "org_id"}:
            continue  # it holds the other org's id: unique already
        if set(columns) == {"org_id"}:
            return None
        name = next((c for c in columns if types[c] in ("integer", "bigint", "text") and c != "org_id"), None)
        if name is not None:
            changes[name] = f"x.{name} + 100000" if types[name] != "text" else f"x.{name} || '-copy'"
    return changes


def _row_key(s, table: str) -> str:
    """The column that names a row: `id`, or for a table keyed otherwise, the first column of its primary key."""
    return s.execute(text(
        "SELECT coalesce((SELECT 'id' FROM information_schema.columns WHERE table_schema = 'public' "
        "AND table_name = :t AND column_name = 'id'), (SELECT a.attname FROM pg_index i JOIN pg_attribute a "
        "ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] WHERE i.indrelid = CAST(:t AS regclass) "
        "AND i.indisprimary))"), {"t": table}).scalar_one()


def _attempt(s, attempt: str, table: str, column: str, row_id, target_id, changes: dict[str, str]) -> None:
    params = {"id": str(row_id), "target": str(target_id)}
    key = _row_key(s, table)
    if attempt == "insert":
        values = {**changes, column: "CAST(:target AS text)"}
        if key == "id":
            id_type = s.execute(text("SELECT data_type FROM information_schema.columns WHERE table_schema = 'public' "
                                     "AND table_name = :t AND column_name = 'id'"), {"t": table}).scalar_one()
            values["id"] = "gen_random_uuid()" if id_type == "uuid" else "'copy-' || x.id"
        pairs = ", ".join(f"'{name}', {expr}" for name, expr in values.items())
        s.execute(text(f"INSERT INTO {table} SELECT (jsonb_populate_record(NULL::{table}, "
                       f"to_jsonb(x) || jsonb_build_object({pairs}))).* FROM {table} x "
                       f"WHERE CAST(x.{key} AS text) = :id"), params)
    else:
        sets = ", ".join(f"{name} = {expr}" for name, expr in {**changes, column: ":target"}.items())
        s.execute(text(f"UPDATE {table} AS x SET {sets} WHERE CAST(x.{key} AS text) = :id"), params)


def test_a_cross_org_reference_is_refused_for_every_org_scoped_relation(database, two_orgs):
    """For each foreign key: org A's session inserts a row pointing at org B's row (and, where a table holds one
    row per org, moves its own row to point there). The database refuses every one."""
    a, a_ids, b, b_ids = two_orgs
    problems = []
    keys = org_foreign_keys(database)
    for key in keys:
        column = next(c for c in key.columns if c != "org_id")
        if key.child not in a_ids or key.parent not in b_ids:
            problems.append(f"{key.conname}: populate() has no row of {key.child} or {key.parent}: add one")
            continue
        nullable_refs = {next(c for c in k.columns if c != "org_id") for k in keys if k.child == key.child
                         and k.nullable}
        tried = 0
        for attempt in ("insert", "update"):
            with database.session(a) as s:
                changes = _changes_that_leave_only_the_key(s, key.child, column, nullable_refs)
            if changes is None and attempt == "insert":
                continue  # one row per organization: a copy cannot exist, the update below proves the key
            tried += 1
            try:
                with database.session(a) as s:
                    _attempt(s, attempt, key.child, column, a_ids[key.child], b_ids[key.parent], changes or {})
            except sqlalchemy.exc.IntegrityError as exc:
                if exc.orig.sqlstate != "23503":  # foreign_key_violation, not another constraint
                    problems.append(f"{key.conname} {attempt}: refused for another reason: {exc.orig}")
            else:
                problems.append(f"{key.conname} {attempt}: a reference into another organization was stored")
        assert tried
    assert not problems, "\n".join(problems)
def test_session_lookup_reveals_only_the_token_asked_for(database, two_orgs):
    """A browser's cookie is looked up before its organization is known: only the row with that hash shows."""
    a, a_ids, b, b_ids = two_orgs
    with database.session(None) as s:
        s.execute(text("SELECT set_config('app.session_lookup', :hash, true)"), {"hash": f"hash-{b}"})
        rows = s.execute(text("SELECT id FROM user_sessions")).scalars().all()
        changed = s.execute(text("UPDATE user_sessions SET revoked_at = now(), revoked_reason = 'x'")).rowcount
    assert rows == [b_ids["user_sessions"]] and changed == 0
