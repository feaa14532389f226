"""The `byte` command line: org, users and db commands, with their failure modes."""
from __future__ import annotations

import json
import uuid

from click.testing import CliRunner

from byte_core.cli import cli


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


def test_users_add_list_set_roles_deactivate(database):
    slug = f"cli-{uuid.uuid4().hex[:8]}"
    assert run("orgs", "add", slug, "CLI Org").exit_code == 0
    added = run("users", "add", "Ann@Example.com", "--roles", "admin,reviewer", "--password", "long-enough-pw",
                "--org", slug, "--json")
    assert added.exit_code == 0, added.output
    assert json.loads(added.output)["email"] == "ann@example.com"
    assert run("users", "add", "bob@example.com", "--roles", "manager", "--org", slug,
               input="another-long-pw\nanother-long-pw\n").exit_code == 0

    listed = json.loads(run("users", "list", "--org", slug, "--json").output)
    assert {(u["email"], u["roles"]) for u in listed} == {("ann@example.com", "admin,reviewer"),
                                                          ("bob@example.com", "manager")}
    assert run("users", "set-roles", "bob@example.com", "--roles", "hr", "--org", slug).exit_code == 0
    assert run("users", "deactivate", "bob@example.com", "--org", slug).exit_code == 0
    listed = {u["email"]: u for u in json.loads(run("users", "list", "--org", slug, "--json").output)}
    assert listed["bob@example.com"]["roles"] == "hr" and listed["bob@example.com"]["active"] is False


def test_users_add_rejects_bad_input_and_writes_nothing(database):
    slug = f"cli-{uuid.uuid4().hex[:8]}"
    run("orgs", "add", slug, "CLI Org")
    bad_email = run("users", "add", "not-an-email", "--roles", "admin", "--password", "long-enough-pw", "--org", slug)
    assert bad_email.exit_code == 1 and "not a valid email" in bad_email.output
    bad_role = run("users", "add", "c@example.com", "--roles", "admin,wizard", "--password", "long-enough-pw",
                   "--org", slug)
    assert bad_role.exit_code == 1 and "unknown role wizard" in bad_role.output
    short = run("users", "add", "c@example.com", "--roles", "admin", "--password", "short", "--org", slug)
    assert short.exit_code == 1 and "too short" in short.output
    assert json.loads(run("users", "list", "--org", slug, "--json").output) == []


def test_last_admin_cannot_be_removed(database):
    slug = f"cli-{uuid.uuid4().hex[:8]}"
    run("orgs", "add", slug, "CLI Org")
    run("users", "add", "only@example.com", "--roles", "admin", "--password", "long-enough-pw", "--org", slug)
    result = run("users", "set-roles", "only@example.com", "--roles", "reviewer", "--org", slug)
    assert result.exit_code == 1 and "last active admin" in result.output


def test_db_status_and_url(database):
    status = json.loads(run("db", "status", "--json").output)
    from byte_core.ops.readiness import head_revision

    assert status["mode"] == "embedded" and status["revision"] == head_revision()
    assert status["rows"]["organizations"] >= 1 and "contacts" in status["rows"]
    url = run("db", "url").output.strip()
    assert url.startswith("postgresql://byte_owner:") and "127.0.0.1" in url
    import psycopg

    with psycopg.connect(url) as conn:
        assert conn.execute("select current_user").fetchone()[0] == "byte_owner"


def test_unknown_org_is_one_line(database):
    result = run("users", "list", "--org", "does-not-exist")
    assert result.exit_code == 1
    assert result.output.strip().count("\n") == 0 and "no organization with slug" in result.output
