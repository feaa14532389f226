"""Shared plumbing for the command line: one-line errors, --json output, the database handle."""
from __future__ import annotations

import json
import sys
from dataclasses import asdict, is_dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Callable
from uuid import UUID

import click

from ..access import Actor
from ..errors import ByteError


class ByteGroup(click.Group):
    """Turns every domain error into one line on stderr and exit code 1, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ByteError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)


@click.group(cls=ByteGroup, context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """BYTE Dashboard: workflows on people. `byte up` runs everything on an embedded database."""


def database():
    from ..db import get_database

    return get_database()


def migrated_database():
    from ..db import get_database, migrate

    db = get_database()
    migrate(db)
    return db


def actor_for(db, org_slug: str | None) -> Actor:
    from ..orgs import get_org

    return Actor.system(get_org(db, org_slug).id, label="cli")


def json_option(func: Callable) -> Callable:
    return click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")(func)


def org_option(func: Callable) -> Callable:
    return click.option("--org", "org_slug", default=None, help="Organization slug (needed when several exist).")(func)


def _default(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (UUID, Decimal)):
        return str(value)
    if is_dataclass(value):
        return asdict(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def emit(data: Any, as_json: bool, text: Callable[[Any], str] | str | None = None) -> None:
    if as_json:
        click.echo(json.dumps(data, default=_default, indent=2))
    elif callable(text):
        click.echo(text(data))
    elif text is not None:
        click.echo(text)


def table(rows: list[dict], columns: list[str]) -> str:
    if not rows:
        return "(none)"
    widths = {c: max(len(c), *(len(str(r.get(c, "") if r.get(c) is not None else "")) for r in rows)) for c in columns}
    lines = ["  ".join(c.upper().ljust(widths[c]) for c in columns)]
    for row in rows:
        lines.append("  ".join(str(row.get(c) if row.get(c) is not None else "").ljust(widths[c]) for c in columns))
    return "\n".join(lines)
