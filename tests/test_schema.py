"""The schema against seed 000, the models against the migrations, and migrations run twice."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from byte_core.db import alembic_config, current_revision
from byte_core.models import Base

# A copy of ../shared/seeds/000 lives in tests/data so a clean checkout (CI) checks against it too;
# when shared/ sits beside the checkout, the two must not have drifted apart.
SEED = Path(__file__).resolve().parent / "data" / "000_ce1eba6a6fe916bb.txt"
SHARED_SEED = Path(__file__).resolve().parents[2] / "shared" / "seeds" / SEED.name
MVP_TABLES = ["users", "contacts", "workflow_definitions", "workflow_executions", "tasks", "notes", "activity_log",
              "formstack_config", "formstack_submissions"]


def seed_sql() -> str:
    if SHARED_SEED.exists() and SHARED_SEED.read_text() != SEED.read_text():
        pytest.fail(f"{SEED} differs from {SHARED_SEED}: copy the shared seed into tests/data")
    return SEED.read_text()


def seed_columns() -> dict[str, list[str]]:
    tables = {}
    for name, body in re.findall(r"CREATE TABLE (\w+) \((.*?)\n\);", seed_sql(), re.S):
        columns = []
        for line in body.splitlines():
            line = line.split("--")[0].strip()
            match = re.match(r"^([a-z_0-9]+)\s+(UUID|TEXT|JSONB|BOOLEAN|TIMESTAMPTZ|INTEGER|DATE)", line)
            if match:
                columns.append(match.group(1))
        tables[name] = columns
    return tables


def test_seed_lists_the_nine_mvp_tables():
    assert sorted(seed_columns()) == sorted(MVP_TABLES)


@pytest.mark.parametrize("table", MVP_TABLES)
def test_every_seed_column_exists(database, table):
    inspector = inspect(database.owner_engine)
    actual = {column["name"] for column in inspector.get_columns(table)}
    missing = [c for c in seed_columns()[table] if c not in actual]
    assert not missing, f"{table} lacks seed columns {missing}"


# Seed indexes migration 0015 dropped because a wider index begins with the same columns (every write
# paid for both): seed index -> the index that serves its queries now.
COVERED_SEED_INDEXES = {
    "idx_workflow_executions_org": "idx_workflow_executions_status",
    "idx_workflow_executions_definition": "idx_workflow_executions_definition_created",
    "idx_activity_org": "idx_activity_org_time",
    "idx_activity_time": "idx_activity_org_time",  # every read of the log is one organization's (RLS)
}


def _index_columns(conn, name: str) -> list[str]:
    return list(conn.execute(text(
        "SELECT a.attname FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n) "
        "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
        "WHERE i.indexrelid = CAST(:name AS regclass) ORDER BY k.n"), {"name": name}).scalars())


def test_every_seed_index_exists_or_is_covered(database):
    seed = dict(re.findall(r"CREATE INDEX (\w+) ON \w+\(([^)]*)\)", seed_sql()))
    assert len(seed) >= 30
    with database.owner_engine.connect() as conn:
        present = set(conn.execute(text("SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")).scalars())
        assert not [n for n in seed if n not in present and n not in COVERED_SEED_INDEXES]
        for name, cover in COVERED_SEED_INDEXES.items():
            assert name not in present and cover in present
            wanted = [c.split()[0] for c in seed[name].split(",")]
            if wanted != ["created_at"]:  # idx_activity_time: org_id first, then created_at
                assert _index_columns(conn, cover)[:len(wanted)] == wanted, f"{cover} does not cover {name}"
            else:
                assert _index_columns(conn, cover) == ["org_id", "created_at"]


def test_seed_constraints_hold(database):
    with database.owner_engine.connect() as conn:
        constraints = dict(conn.execute(text(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE connamespace = 'public'::regnamespace"
        )).all())
    assert "one_parent_only" in constraints
    assert any(d == "UNIQUE (org_id, submission_id)" for d in constraints.values())
    assert any(d == "UNIQUE (org_id)" for d in constraints.values())  # formstack_config.org_id


def test_models_match_migrations(database):
    with database.owner_engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diff == []


def test_every_updated_at_has_its_trigger(database):
    with database.owner_engine.connect() as conn:
        with_column = set(conn.execute(text(
            "SELECT table_name FROM information_schema.columns WHERE table_schema = 'public' "
            "AND column_name = 'updated_at'")).scalars())
        with_trigger = set(conn.execute(text(
            "SELECT event_object_table FROM information_schema.triggers WHERE trigger_name LIKE 'trg_%_updated_at'"
        )).scalars())
    assert with_column and with_column == with_trigger


def test_updated_at_moves_on_update(database, org):
    with database.session(org.id) as session:
        session.execute(text("UPDATE organizations SET updated_at = now() - interval '1 day' WHERE id = :id"),
                        {"id": org.id})
    with database.session(org.id) as session:
        session.execute(text("UPDATE organizations SET name = 'Renamed' WHERE id = :id"), {"id": org.id})
        age = session.execute(text("SELECT now() - updated_at FROM organizations WHERE id = :id"),
                              {"id": org.id}).scalar_one()
    assert age.total_seconds() < 60


def test_migrations_run_twice_without_harm(database, org):
    config = alembic_config(database)
    command.stamp(config, "base")  # forget that 0001 ran, so it runs again over the live schema
    command.upgrade(config, "head")
    command.upgrade(config, "head")
    from byte_core.ops.readiness import head_revision

    assert current_revision(database) == head_revision()
    with database.session(org.id) as session:  # data written before survives
        assert session.execute(text("SELECT name FROM organizations WHERE id = :id"), {"id": org.id}).scalar_one()
    test_models_match_migrations(database)
