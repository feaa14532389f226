"""`byte orgs ...`: tenants."""
from __future__ import annotations

import click

from .base import cli, emit, json_option, migrated_database, table


@cli.group("orgs")
def orgs_group() -> None:
    """Organizations (tenants)."""


@orgs_group.command("add")
@click.argument("slug")
@click.argument("name")
@json_option
def add_command(slug: str, name: str, as_json: bool) -> None:
    """Create an organization (idempotent on SLUG)."""
    from ..orgs import create_org

    org = create_org(migrated_database(), slug, name)
    emit(_row(org), as_json, f"organization {org.slug} ({org.id}) ready")


@orgs_group.command("list")
@json_option
def list_command(as_json: bool) -> None:
    """List organizations."""
    from ..orgs import list_orgs

    rows = [_row(org) for org in list_orgs(migrated_database())]
    emit(rows, as_json, lambda r: table(r, ["slug", "id", "name"]))


def _row(org) -> dict:
    return {"id": org.id, "slug": org.slug, "name": org.name}
