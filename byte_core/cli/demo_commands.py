"""`byte demo seed`: the demo organization, or a large data set for benchmarks."""
from __future__ import annotations

import click

from .base import cli, emit, json_option, migrated_database


@cli.group("demo")
def demo_group() -> None:
    """Demo and benchmark data."""


@demo_group.command("seed")
@click.option("--contacts", type=click.IntRange(min=1), default=None,
              help="Generate this many contacts (large data set, loaded with COPY) instead of the demo org.")
@click.option("--executions", type=click.IntRange(min=0), default=None,
              help="With --contacts: how many executions (tasks and activity in proportion).")
@click.option("--org", "org_slug", default="bench", show_default=True, help="With --contacts: target organization.")
@json_option
def seed_command(contacts: int | None, executions: int | None, org_slug: str, as_json: bool) -> None:
    """Seed the demo organization (idempotent), or with --contacts a large benchmark set."""
    db = migrated_database()
    if contacts is None:
        if executions is not None:
            raise click.UsageError("--executions goes with --contacts")
        from ..demo import DEMO_USERS, seed_demo

        report = seed_demo(db, progress=lambda step: None if as_json else click.echo(f"seeding {step}...", err=True))

        def render(_r) -> str:
            if not report.changed:
                return "demo organization already complete: nothing added"
            lines = [f"demo organization ready ({report.org_id}): {report.contacts_created} contacts, "
                     f"{len(report.definitions_created)} workflows, {report.executions_created} executions added"]
            if report.users_created:
                lines.append(demo_logins_text([u for u in DEMO_USERS if u[0] in report.users_created]))
            return "\n".join(lines)

        emit(report, as_json, render)
        return
    from ..bulk_seed import seed_large

    result = seed_large(db, org_slug=org_slug, contacts=contacts, executions=executions or contacts * 3,
                        show_progress=not as_json)
    emit(result, as_json, lambda r: "\n".join(f"{k:<24} {v:>12,}" if isinstance(v, int) else f"{k:<24} {v}"
                                              for k, v in r.items()))


def demo_logins_text(users) -> str:
    lines = ["Demo logins (change these before real use):"]
    lines += [f"  {email:<28} {password:<20} {','.join(roles)}" for email, roles, password, *_ in users]
    return "\n".join(lines)
