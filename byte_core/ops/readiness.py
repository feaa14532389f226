"""Readiness: may a load balancer send people to this server? Three checks, each answered in JSON.

- database: a fresh connection (never the pool, whose connections can outlive the server) answers
  within `timeout` seconds;
- migrations: the schema is at this code's head revision (a server of a newer release waits for
  `byte db migrate`);
- scheduler: some scheduler process wrote its heartbeat within `scheduler_max_age` seconds (0 turns the
  check off, e.g. while schedulers are deliberately stopped).
"""
from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass
from functools import lru_cache

import psycopg

from ..db import MIGRATIONS_DIR, Database

DEFAULT_TIMEOUT = 2.0
DEFAULT_SCHEDULER_MAX_AGE = 30.0  # six missed heartbeats at the scheduler's 5 s interval


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class Readiness:
    checks: list[Check]
    seconds: float

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def as_json(self) -> dict:
        return {"ok": self.ok, "seconds": round(self.seconds, 3), "checks": {c.name: asdict(c) for c in self.checks}}


def scheduler_max_age() -> float:
    return float(os.environ.get("BYTE_READY_SCHEDULER_SECONDS") or DEFAULT_SCHEDULER_MAX_AGE)


@lru_cache(maxsize=1)
def head_revision() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return ScriptDirectory.from_config(config).get_current_head()


def libpq_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def check_readiness(database: Database, *, timeout: float = DEFAULT_TIMEOUT,
                    max_heartbeat_age: float | None = None) -> Readiness:
    started = time.monotonic()
    max_age = scheduler_max_age() if max_heartbeat_age is None else max_heartbeat_age
    try:
        # The owner's login: the app role may not read alembic_version (it only needs tenant tables).
        conn = psycopg.connect(libpq_url(database.owner_url), connect_timeout=max(1, round(timeout)), autocommit=True,
                               options=f"-c statement_timeout={int(timeout * 1000)}")
    except psycopg.Error as exc:
        failed = "not checked: the database is unreachable"
        return Readiness([Check("database", False, _first_line(exc)), Check("migrations", False, failed),
                          Check("scheduler", max_age <= 0, failed if max_age > 0 else "check turned off")],
                         time.monotonic() - started)
    with conn:
        checks = [Check("database", True, "reachable"), _migrations(conn), _scheduler(conn, max_age)]
    return Readiness(checks, time.monotonic() - started)


def _migrations(conn: psycopg.Connection) -> Check:
    head = head_revision()
    try:
        current = [row[0] for row in conn.execute("SELECT version_num FROM alembic_version")]
    except psycopg.Error as exc:
        return Check("migrations", False, f"cannot read the schema revision: {_first_line(exc)}")
    if current == [head]:
        return Check("migrations", True, f"at head {head}")
    return Check("migrations", False, f"schema at {', '.join(current) or 'nothing'}, code expects {head}: "
                                      "run `byte db migrate`")


def _scheduler(conn: psycopg.Connection, max_age: float) -> Check:
    if max_age <= 0:
        return Check("scheduler", True, "check turned off (BYTE_READY_SCHEDULER_SECONDS=0)")
    try:
        age, alive = conn.execute(
            "SELECT extract(epoch FROM now() - max(last_tick_at))::float8,"
            " count(*) FILTER (WHERE last_tick_at > now() - make_interval(secs => %s))"
            " FROM scheduler_heartbeats", (max_age,)).fetchone()
    except psycopg.Error as exc:
        return Check("scheduler", False, f"cannot read heartbeats: {_first_line(exc)}")
    if alive:
        return Check("scheduler", True, f"{alive} scheduler(s) beat within {max_age:.0f}s")
    if age is None:
        return Check("scheduler", False, "no scheduler has ever run: start `byte scheduler run`")
    return Check("scheduler", False, f"last scheduler heartbeat {age:.0f}s ago (limit {max_age:.0f}s)")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
