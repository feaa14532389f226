"""Test harness: one embedded PostgreSQL per test process, in a temporary directory.

Tests are isolated by organization: each test that writes gets a fresh org, and row-level
security keeps every other test's rows out of its sight.
"""
from __future__ import annotations

import os
import uuid

import pytest

from byte_core import db as db_module
from byte_core.access import Actor
from byte_core.config import Settings
from byte_core.embedded import EmbeddedServer


@pytest.fixture(scope="session")
def database(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("byte-data")
    server = EmbeddedServer(data_dir)
    server.start(fast_unsafe=True)
    settings = Settings(data_dir=data_dir, database_url=None, app_database_url=None)
    database = db_module.build_database(settings)
    db_module.migrate(database)
    # Code that asks for the process-wide database (CLI, pages, scheduler) gets this one.
    db_module._database = database
    os.environ["BYTE_DATA_DIR"] = str(data_dir)
    os.environ.pop("DATABASE_URL", None)
    yield database
    database.dispose()
    server.stop()


def new_org(database, prefix: str = "t"):
    from byte_core.orgs import create_org

    return create_org(database, f"{prefix}-{uuid.uuid4().hex[:12]}", "Test organization")


@pytest.fixture
def org(database):
    return new_org(database)


@pytest.fixture
def actor(org) -> Actor:
    return Actor.system(org.id, label="test")


@pytest.fixture
def fresh_database(database):
    """A new, empty, migrated database on the same server, for tests that need a pristine demo org
    (other test modules add to the shared one). Dropped afterwards."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    from byte_core.embedded import OWNER_ROLE, SUPERUSER

    name = f"byte_fresh_{uuid.uuid4().hex[:8]}"
    server = EmbeddedServer(database.settings.data_dir)
    admin = create_engine(make_url(server.url(SUPERUSER)).set(database="postgres", drivername="postgresql+psycopg"),
                          isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" OWNER {OWNER_ROLE}'))
    url = make_url(database.owner_url).set(database=name).render_as_string(hide_password=False)
    settings = Settings(data_dir=database.settings.data_dir, database_url=url, app_database_url=None)
    fresh = db_module.build_database(settings, start_embedded=False)
    db_module.migrate(fresh)
    yield fresh
    fresh.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()
