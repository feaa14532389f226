"""`byte users ...`: local accounts and roles."""
from __future__ import annotations

import click

from ..access import ROLES
from .base import actor_for, cli, emit, json_option, migrated_database, org_option, table


@cli.group("users")
def users_group() -> None:
    """Users and their roles."""


def _row(user) -> dict:
    return {"id": user.id, "email": user.email, "name": user.display_name, "roles": ",".join(user.roles or []),
            "active": user.is_active}


@users_group.command("add")
@click.argument("email")
@click.option("--roles", required=True, help=f"Comma-separated: {', '.join(ROLES)}.")
@click.option("--password", default=None, help="Prompted for (hidden) when not given.")
@click.option("--first-name", default=None)
@click.option("--last-name", default=None)
@org_option
@json_option
def add_command(email: str, roles: str, password: str | None, first_name: str | None, last_name: str | None,
                org_slug: str | None, as_json: bool) -> None:
    """Add a user to an organization."""
    from ..auth.passwords import check_password_policy
    from ..users import add_user, normalise_email, parse_roles

    normalise_email(email)  # fail on bad input before prompting
    parse_roles(roles)
    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    check_password_policy(password)
    db = migrated_database()
    user = add_user(db, actor_for(db, org_slug), email, roles, password=password, first_name=first_name,
                    last_name=last_name)
    emit(_row(user), as_json, f"added {user.email} with roles {','.join(user.roles)}")


@users_group.command("reset-password")
@click.argument("email")
@click.option("--password", default=None, help="Prompted for (hidden) when not given.")
@org_option
def reset_password_command(email: str, password: str | None, org_slug: str | None) -> None:
    """Set a user's password (for an admin locked out of the dashboard); their sessions end."""
    from ..auth.login import reset_password
    from ..auth.passwords import check_password_policy

    if password is None:
        password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    check_password_policy(password)
    db = migrated_database()
    reset_password(db, actor_for(db, org_slug), email, password)
    emit({"email": email}, False, f"password of {email.strip().lower()} reset; their sessions have ended")


@users_group.command("list")
@org_option
@json_option
def list_command(org_slug: str | None, as_json: bool) -> None:
    """List the users of an organization."""
    from ..users import list_users

    db = migrated_database()
    rows = [_row(u) for u in list_users(db, actor_for(db, org_slug))]
    emit(rows, as_json, lambda r: table(r, ["email", "name", "roles", "active"]))


@users_group.command("set-roles")
@click.argument("email")
@click.option("--roles", required=True, help=f"Comma-separated: {', '.join(ROLES)}.")
@org_option
@json_option
def set_roles_command(email: str, roles: str, org_slug: str | None, as_json: bool) -> None:
    """Replace a user's roles."""
    from ..users import set_roles

    db = migrated_database()
    user = set_roles(db, actor_for(db, org_slug), email, roles)
    emit(_row(user), as_json, f"{user.email} now has roles {','.join(user.roles)}")


@users_group.command("deactivate")
@click.argument("email")
@org_option
@json_option
def deactivate_command(email: str, org_slug: str | None, as_json: bool) -> None:
    """Deactivate a user: they can no longer sign in and their sessions end."""
    from ..users import deactivate

    db = migrated_database()
    user = deactivate(db, actor_for(db, org_slug), email)
    emit(_row(user), as_json, f"{user.email} deactivated")
