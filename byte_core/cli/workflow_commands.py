"""`byte workflow|execution|task|scheduler ...`: the engine from the command line."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import click

from .base import actor_for, cli, emit, json_option, migrated_database, org_option, table


# --- workflow ---------------------------------------------------------------------------------------------
@cli.group("workflow")
def workflow_group() -> None:
    """Workflow definitions."""


@workflow_group.command("validate")
@click.argument("file", type=click.Path(dir_okay=False))
@json_option
def validate_command(file: str, as_json: bool) -> None:
    """Check a definition file; every error names its step and field."""
    from ..workflow.definition import validate_definition
    from ..workflow.source import read_file

    data, errors = read_file(file)
    errors = errors or validate_definition(data)
    emit({"valid": not errors, "errors": [str(e) for e in errors]}, as_json,
         "valid" if not errors else "\n".join(str(e) for e in errors))
    if errors:
        raise SystemExit(1)


@workflow_group.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@org_option
@json_option
def import_command(file: str, org_slug: str | None, as_json: bool) -> None:
    """Validate and save a definition: new name creates it, a change makes a new version."""
    from ..workflow.definition import DefinitionInvalid
    from ..workflow.definitions import save_definition
    from ..workflow.source import read_file

    data, errors = read_file(file)
    if errors:
        raise DefinitionInvalid(errors)
    db = migrated_database()
    result = save_definition(db, actor_for(db, org_slug), data)
    verb = "created" if result.created else ("saved as version" if result.changed else "unchanged at version")
    emit(result, as_json, f"{result.name}: {verb} {result.version}" if not result.created
         else f"{result.name}: created (version 1)")


@workflow_group.command("schema")
def schema_command() -> None:
    """Print the JSON Schema of a definition file (point your editor at it: see the README)."""
    from ..workflow.definition_models import json_schema

    click.echo(json.dumps(json_schema(), indent=2))


@workflow_group.command("list")
@org_option
@json_option
def list_command(org_slug: str | None, as_json: bool) -> None:
    """Definitions with their version and running executions."""
    from ..workflow.definitions import list_definitions

    db = migrated_database()
    rows = [{"name": d.name, "version": d.version, "active": d.is_active, "running": d.running, "total": d.total,
             "id": d.id} for d in list_definitions(db, actor_for(db, org_slug))]
    emit(rows, as_json, lambda r: table(r, ["name", "version", "active", "running", "total"]))


# --- execution ------------------------------------------------------------------------------------------
@cli.group("execution")
def execution_group() -> None:
    """Workflow executions."""


def _parse_vars(pairs: tuple[str, ...]) -> dict:
    variables = {}
    for pair in pairs:
        if "=" not in pair:
            raise click.BadParameter(f"{pair!r}: use key=value", param_hint="--var")
        key, value = pair.split("=", 1)
        variables[key.strip()] = value
    return variables


@execution_group.command("start")
@click.option("--workflow", required=True, help="Definition name or id.")
@click.option("--contact", required=True, help="Contact email or id.")
@click.option("--var", "variables", multiple=True, help="key=value, repeatable.")
@org_option
@json_option
def start_command(workflow: str, contact: str, variables: tuple[str, ...], org_slug: str | None, as_json: bool) -> None:
    """Start an execution; it runs at once up to its first waiting step."""
    from ..workflow.inspect import explain
    from ..workflow.service import start_execution

    db = migrated_database()
    actor = actor_for(db, org_slug)
    execution = start_execution(db, actor, workflow, contact, variables=_parse_vars(variables))
    explanation = explain(db, actor, execution.id)
    emit({"id": execution.id, "status": execution.status, "current_step_id": execution.current_step_id,
          "explain": explanation.text}, as_json, f"started {execution.id}: {explanation.text}")


@execution_group.command("show")
@click.argument("execution_id")
@org_option
@json_option
def show_command(execution_id: str, org_slug: str | None, as_json: bool) -> None:
    """An execution with its step history, tasks and the explain text."""
    from ..workflow.inspect import get_execution

    db = migrated_database()
    detail = get_execution(db, actor_for(db, org_slug), execution_id)
    e = detail.execution
    data = {
        "id": e.id, "workflow": detail.workflow_name, "version": e.definition_version, "status": e.status,
        "current_step_id": e.current_step_id, "current_phase_id": e.current_phase_id,
        "contact": detail.contact.email if detail.contact else None, "explain": detail.explanation.text,
        "next_run_at": e.next_run_at, "last_error": e.last_error, "variables": e.variables,
        "steps": [{"seq": s.seq, "step_id": s.step_id, "type": s.step_type, "status": s.status, "outcome": s.outcome,
                   "entered_at": s.entered_at, "duration_ms": s.duration_ms, "error": s.error} for s in detail.steps],
        "tasks": [{"id": t.id, "title": t.title, "status": t.status, "outcome": t.outcome,
                   "assigned_role": t.assigned_role, "holder": detail.users.get(t.assigned_to)} for t in detail.tasks],
    }

    def render(d: dict) -> str:
        lines = [f"{d['workflow']} v{d['version']} · {d['status']} · contact {d['contact']}",
                 f"explain: {d['explain']}", "", "steps:"]
        lines += [f"  {s['seq']:>3} {s['step_id']:<12} {s['type']:<18} {s['status']:<10} {s['outcome'] or ''}"
                  for s in d["steps"]]
        lines += ["", "tasks:", table([{**t, "id": str(t["id"])[:8]} for t in d["tasks"]],
                                      ["id", "title", "status", "outcome", "assigned_role", "holder"])]
        return "\n".join(lines)

    emit(data, as_json, render)


def _control(action: str):
    @click.argument("execution_id")
    @click.option("--reason", required=True, help="Why: kept in the activity log.")
    @org_option
    @json_option
    def command(execution_id: str, reason: str, org_slug: str | None, as_json: bool) -> None:
        from ..workflow.service import change_status

        db = migrated_database()
        execution = change_status(db, actor_for(db, org_slug), execution_id, action, reason)
        emit({"id": execution.id, "status": execution.status}, as_json, f"{execution.id}: {execution.status}")

    command.__doc__ = f"{action.capitalize()} an execution (with a reason)."
    return command


for _action in ("pause", "resume", "cancel", "retry"):
    execution_group.command(_action)(_control(_action))


# --- task ---------------------------------------------------------------------------------------------------------
@cli.group("task")
def task_group() -> None:
    """People's tasks and approvals."""


def _person(db, org_slug: str | None, email: str):
    from ..access import Actor
    from ..users import find_user

    org_actor = actor_for(db, org_slug)
    with db.session(org_actor.org_id) as session:
        user = find_user(session, email)
        if not user.is_active:
            raise click.ClickException(f"{user.email} is deactivated")
        return Actor(org_actor.org_id, user.id, frozenset(user.roles or []), user.email)


@task_group.command("list")
@click.option("--role", default=None, help="Only this role's queue.")
@click.option("--mine", is_flag=True, help="Only tasks held by --as.")
@click.option("--as", "as_email", default=None, help="Act as this user (email).")
@click.option("--all", "include_done", is_flag=True, help="Include done and cancelled tasks.")
@org_option
@json_option
def task_list_command(role, mine, as_email, include_done, org_slug, as_json) -> None:
    """Open tasks, soonest due first."""
    from ..task_queue import task_list

    if mine and not as_email:
        raise click.UsageError("--mine needs --as EMAIL")
    db = migrated_database()
    actor = _person(db, org_slug, as_email) if as_email else actor_for(db, org_slug)
    rows = [vars(r) for r in task_list(db, actor, role=role, mine=mine, include_done=include_done)]
    emit(rows, as_json, lambda r: table([{**x, "id": str(x["id"])} for x in r],
                                        ["id", "title", "task_type", "status", "assigned_role", "holder", "due_date"]))


def _task_action(name: str):
    @click.argument("task_id")
    @click.option("--as", "as_email", required=True, help="The user acting (email).")
    @org_option
    @json_option
    def command(task_id: str, as_email: str, org_slug: str | None, as_json: bool) -> None:
        from ..workflow import service

        db = migrated_database()
        task = getattr(service, f"{name}_task")(db, _person(db, org_slug, as_email), task_id)
        emit({"id": task.id, "status": task.status}, as_json, f"{task.title}: {task.status}")

    command.__doc__ = f"{name.capitalize()} a task."
    return command


for _name in ("claim", "release"):
    task_group.command(_name)(_task_action(_name))


@task_group.command("complete")
@click.argument("task_id")
@click.option("--as", "as_email", required=True, help="The user acting (email).")
@click.option("--outcome", type=click.Choice(["approved", "rejected", "completed"]), default=None)
@click.option("--comment", default=None)
@org_option
@json_option
def complete_command(task_id, as_email, outcome, comment, org_slug, as_json) -> None:
    """Complete a task, or approve/reject an approval."""
    from ..workflow.service import complete_task

    db = migrated_database()
    task = complete_task(db, _person(db, org_slug, as_email), task_id, outcome=outcome, comment=comment)
    emit({"id": task.id, "status": task.status, "outcome": task.outcome}, as_json, f"{task.title}: {task.outcome}")


# --- scheduler ------------------------------------------------------------------------------------------------------
@cli.group("scheduler")
def scheduler_group() -> None:
    """The scheduler process."""


@scheduler_group.command("run")
@click.option("--workers", type=click.IntRange(1, 32), default=1, show_default=True, help="Worker processes.")
@click.option("--sweep-seconds", type=click.FloatRange(0.1, 3600), default=2.0, show_default=True)
def scheduler_run_command(workers: int, sweep_seconds: float) -> None:
    """Run scheduler workers until interrupted."""
    from scheduler.process import run_forever

    migrated_database()
    run_forever(workers, sweep_seconds)


@scheduler_group.command("tick")
@click.option("--now", "now_text", default=None, help="ISO time to process as of (default: now).")
@json_option
def tick_command(now_text: str | None, as_json: bool) -> None:
    """Process everything due as of --now, then exit."""
    from ..work import tick_everything

    now = None
    if now_text:
        try:
            now = datetime.fromisoformat(now_text)
        except ValueError:
            raise click.BadParameter(f"{now_text!r} is not an ISO time such as 2026-12-01T09:00", param_hint="--now")
        if now.tzinfo is None:
            now = now.replace(tzinfo=timezone.utc)
    result = tick_everything(migrated_database(), now)
    emit(vars(result), as_json, f"processed {result.submissions} intake submissions; claimed {result.claimed} "
                                f"executions, advanced {result.steps} steps, {result.failed} failed")
