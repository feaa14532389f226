"""Connections: one owner engine (migrations) and one app engine (everything else) per process.

Every app transaction is scoped to one organization: the session's `info["org_id"]` is written
into `app.org_id` by an `after_begin` event, and row-level security filters on it. A session
without an org sees no tenant rows at all.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from .config import APP_ROLE, Settings, load_settings
from .errors import ByteError


class DatabaseUnavailable(ByteError):
    pass


@dataclass
class Database:
    settings: Settings
    owner_url: str
    app_url: str
    set_role: bool  # the app logs in with the owner's credentials and drops to byte_app

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._owner: Engine | None = None
        self._app: Engine | None = None
        self._sessions: sessionmaker | None = None

    @property
    def owner_engine(self) -> Engine:
        with self._lock:
            if self._owner is None:
                self._owner = create_engine(self.owner_url, pool_pre_ping=True, pool_size=2)
            return self._owner

    @property
    def app_engine(self) -> Engine:
        with self._lock:
            if self._app is None:
                self._app = create_engine(self.app_url, pool_pre_ping=True, pool_size=10, max_overflow=20)
                if self.set_role:
                    event.listen(self._app, "connect", _drop_to_app_role)
            return self._app

    def sessions(self) -> sessionmaker:
        if self._sessions is None:
            self._sessions = sessionmaker(self.app_engine, expire_on_commit=False)
        return self._sessions

    @contextmanager
    def session(self, org_id: str | None, *, user_id: str | None = None, login_email: str | None = None
                ) -> Iterator[Session]:
        """One transaction for one organization: committed on success, rolled back on error."""
        session: Session = self.sessions()()
        session.info.update(org_id=org_id, user_id=user_id, login_email=login_email)
        try:
            with session.begin():
                yield session
        finally:
            session.close()

    def dispose(self) -> None:
        for engine in (self._owner, self._app):
            if engine is not None:
                engine.dispose()


def _drop_to_app_role(dbapi_connection, _record) -> None:
    autocommit = dbapi_connection.autocommit
    dbapi_connection.autocommit = True
    with dbapi_connection.cursor() as cursor:
        cursor.execute(f"SET ROLE {APP_ROLE}")
    dbapi_connection.autocommit = autocommit


@event.listens_for(Session, "after_begin")
def _scope_transaction(session: Session, _transaction, connection) -> None:
    org_id = session.info.get("org_id")
    login_email = session.info.get("login_email")
    connection.exec_driver_sql(
        "SELECT set_config('app.org_id', %(org)s, true), set_config('app.login_email', %(email)s, true)",
        {"org": org_id or "", "email": (login_email or "").lower()},
    )


_database: Database | None = None
_database_lock = threading.Lock()


def get_database(settings: Settings | None = None, *, start_embedded: bool = True) -> Database:
    """The process-wide database; starts the embedded server first when no DATABASE_URL is set."""
    global _database
    with _database_lock:
        if _database is None:
            _database = build_database(settings or load_settings(), start_embedded=start_embedded)
        return _database


def reset_database() -> None:
    global _database
    with _database_lock:
        if _database is not None:
            _database.dispose()
        _database = None


def build_database(settings: Settings, *, start_embedded: bool = True) -> Database:
    if settings.embedded:
        from .embedded import OWNER_ROLE, EmbeddedServer

        server = EmbeddedServer(settings.data_dir)
        if start_embedded:
            server.start()
        return Database(settings, server.url(OWNER_ROLE), server.url(APP_ROLE), set_role=False)
    owner = _psycopg_url(settings.database_url)
    if settings.app_database_url:
        return Database(settings, owner, _psycopg_url(settings.app_database_url), set_role=False)
    return Database(settings, owner, owner, set_role=True)


def _psycopg_url(url: str) -> str:
    parsed = make_url(url)
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def check_reachable(database: Database) -> None:
    try:
        with database.owner_engine.connect() as conn:
            version = conn.execute(text("SHOW server_version_num")).scalar_one()
    except OperationalError as exc:
        where = make_url(database.owner_url).set(password="***").render_as_string()
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise DatabaseUnavailable(
            f"cannot reach PostgreSQL at {where}: {reason}. Check DATABASE_URL, or unset it to use the embedded server"
        ) from None
    if int(version) < 150000:  # 15: ON DELETE SET NULL (column) keeps org_id in composite keys (migration 0008)
        raise DatabaseUnavailable(f"PostgreSQL {int(version) // 10000} is too old: BYTE needs 15 or newer")


MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(database: Database):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = database.owner_engine
    return config


def migrate(database: Database) -> str:
    from alembic import command

    check_reachable(database)
    command.upgrade(alembic_config(database), "head")
    return current_revision(database)


def current_revision(database: Database) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with database.owner_engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
