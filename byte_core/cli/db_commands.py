"""`byte db ...`: where the data lives and what state the schema is in."""
from __future__ import annotations

import click
from sqlalchemy import text

from .base import cli, database, emit, json_option, migrated_database

COUNTED_TABLES = [
    "organizations", "users", "contacts", "workflow_definitions", "workflow_definition_versions",
    "workflow_executions", "workflow_execution_steps", "tasks", "notes", "activity_log",
    "formstack_config", "formstack_submissions", "login_attempts", "scheduler_heartbeats",
]


@cli.group("db")
def db_group() -> None:
    """The database: migrate, inspect, connect, stop."""


@db_group.command("migrate")
@json_option
def migrate_command(as_json: bool) -> None:
    """Bring the schema to the newest revision (safe to run any number of times)."""
    revision = migrated_database() and _revision()
    emit({"revision": revision}, as_json, f"schema at revision {revision}")


def _revision() -> str | None:
    from ..db import current_revision

    return current_revision(database())


@db_group.command("status")
@json_option
def status_command(as_json: bool) -> None:
    """Where the data lives, the schema revision and row counts."""
    from ..db import check_reachable, current_revision

    db = database()
    check_reachable(db)
    info = {
        "mode": "embedded" if db.settings.embedded else "external",
        "data_dir": str(db.settings.data_dir) if db.settings.embedded else None,
        "url": _masked(db.owner_url),
        "revision": current_revision(db),
        "rows": {},
    }
    if info["revision"]:
        info["rows"] = row_counts(db)

    def render(data: dict) -> str:
        lines = [f"mode:      {data['mode']}"]
        if data["data_dir"]:
            lines.append(f"data dir:  {data['data_dir']}")
        lines += [f"database:  {data['url']}", f"revision:  {data['revision'] or '(not migrated: run byte db migrate)'}"]
        lines += [f"  {name:<30} {count:>10,}" for name, count in data["rows"].items()]
        return "\n".join(lines)

    emit(info, as_json, render)


def row_counts(db) -> dict[str, int]:
    """Exact counts summed over every organization; RLS allows no cross-org count in one query."""
    from ..orgs import list_orgs

    totals = dict.fromkeys(COUNTED_TABLES, 0)
    orgs = list_orgs(db)
    totals["organizations"] = len(orgs)
    for org in orgs:
        with db.session(org.id) as session:
            for table in COUNTED_TABLES[1:-1]:
                totals[table] += session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
    with db.session(None) as session:
        totals["scheduler_heartbeats"] = session.execute(text("SELECT count(*) FROM scheduler_heartbeats")).scalar_one()
    return totals


def _masked(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(password="***").render_as_string()


@db_group.command("url")
@click.option("--role", type=click.Choice(["owner", "app"]), default="owner", show_default=True,
              help="owner runs migrations; app is what the dashboard logs in as (row-level security applies).")
@json_option
def url_command(role: str, as_json: bool) -> None:
    """Print a connection URL for psql (starts the embedded server if needed)."""
    db = database()
    url = db.owner_url if role == "owner" else db.app_url
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    emit({"url": plain}, as_json, plain)


@db_group.command("stop")
@json_option
def stop_command(as_json: bool) -> None:
    """Stop the embedded PostgreSQL server."""
    from ..config import load_settings
    from ..embedded import EmbeddedServer

    settings = load_settings()
    if not settings.embedded:
        raise click.UsageError("DATABASE_URL is set: that server is not ours to stop")
    stopped = EmbeddedServer(settings.data_dir).stop()
    emit({"stopped": stopped}, as_json, "embedded PostgreSQL stopped" if stopped else "embedded PostgreSQL was not running")
