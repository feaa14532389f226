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
