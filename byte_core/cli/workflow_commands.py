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


@workflow_group.command("simulate")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--contact", "contact_email", default="sample@example.org", show_default=True,
              help="A contact's email: with --org, that contact's data; otherwise a sample contact with this email.")
@click.option("--decide", "decide", multiple=True, metavar="STEP=OUTCOME",
              help="The decision for a waiting step (approved, rejected, completed). Repeatable.")
@click.option("--wait", "wait", multiple=True, metavar="STEP=SPAN",
              help="How long after a step is entered its decision comes (4d, 36h, 90m). Repeatable.")
@click.option("--var", "var", multiple=True, metavar="KEY=VALUE", help="A workflow variable. Repeatable.")
@click.option("--org", "org_slug", default=None, help="Read the contact from this organization (by slug).")
@json_option
def simulate_command(file, contact_email, decide, wait, var, org_slug, as_json) -> None:
    """Dry run: the path a definition takes, step by step, with the decisions and waits given. Writes nothing."""
    from ..workflow.definition import DefinitionInvalid, parse_definition
    from ..workflow.simulate import contact_for_dry_run, parse_span, simulate
    from ..workflow.source import read_file

    data, errors = read_file(file)
    if errors:
        raise DefinitionInvalid(errors)
    definition = parse_definition(data)
    contact = {"first_name": "Sample", "last_name": "Contact", "email": contact_email}
    if org_slug:
        from ..workflow.commands import find_contact

        db = migrated_database()
        with db.session(actor_for(db, org_slug).org_id) as session:
            contact = contact_for_dry_run(find_contact(session, contact_email))
    result = simulate(definition, contact, decisions=_pairs(decide, "--decide"),
                      waits={k: parse_span(v) for k, v in _pairs(wait, "--wait").items()},
                      variables=_pairs(var, "--var"))
    summary = (f"ends: {result.ended} ({result.outcome})" if result.ended == "completed"
               else f"fails: {result.error or result.outcome}" if result.ended == "failed" else "does not end")
    emit({"events": [{"after_seconds": e.elapsed.total_seconds(), "step_id": e.step_id, "text": e.text}
                     for e in result.events], "ended": result.ended, "outcome": result.outcome, "error": result.error},
         as_json, "\n".join([*result.lines(), summary]))
    if result.ended == "failed":
        raise SystemExit(1)


@workflow_group.command("migrate")
@click.argument("name")
@click.option("--from", "from_version", type=int, required=True, help="The version the executions are on.")
@click.option("--to", "to_version", type=int, required=True, help="The version to move them to.")
@click.option("--map", "mapping", multiple=True, metavar="OLD=NEW",
              help="Where executions on step OLD go (required for a step the new version removed). Repeatable.")
@click.option("--step", "at_step", default=None, help="Only executions on this step.")
@click.option("--phase", default=None, help="Only executions in this phase (its id).")
@click.option("--dry-run", is_flag=True, help="Show what would happen to each execution; change nothing.")
@org_option
@json_option
def migrate_command(name, from_version, to_version, mapping, at_step, phase, dry_run, org_slug, as_json) -> None:
    """Move running and paused executions of NAME from one version to another (each in its own transaction)."""
    from ..workflow.migrate import migrate, plan_migration

    db = migrated_database()
    actor = actor_for(db, org_slug)
    plan = plan_migration(db, actor, name, from_version, to_version, _pairs(mapping, "--map"), at_step=at_step,
                          phase=phase)
    preview = [{"from_step": f, "to_step": t, "mode": m, "executions": n} for (f, t, m), n in plan.by_step().items()]
    if plan.problems:
        emit({"refused": plan.problems, "plan": preview}, as_json,
             "refused, nothing was changed:\n" + "\n".join(f"- {p}" for p in plan.problems))
        raise SystemExit(1)
    if dry_run:
        emit({"dry_run": True, "plan": preview, "executions": len(plan.moves)}, as_json,
             table(preview, ["from_step", "to_step", "mode", "executions"]) + f"\n{len(plan.moves)} execution(s); "
             "nothing changed (dry run)")
        return
    from tqdm import tqdm

    with tqdm(total=len(plan.moves), disable=as_json, unit="execution") as bar:
        report = migrate(db, actor, plan, progress=lambda done, total: bar.update(1))
    emit({"migration": str(report.migration_id), "migrated": report.migrated,
          "failed": [{"execution": str(e), "reason": r} for e, r in report.failed]}, as_json,
         f"migration {report.migration_id}: {report.migrated} moved to version {to_version}, "
         f"{len(report.failed)} failed" + "".join(f"\n- {e}: {r}" for e, r in report.failed)
         + f"\nundo with: byte workflow revert-migration {report.migration_id}")
    if report.failed:
        raise SystemExit(1)


@workflow_group.command("revert-migration")
@click.argument("migration_id")
@org_option
@json_option
def revert_migration_command(migration_id, org_slug, as_json) -> None:
    """Put a migration's executions back where they were, unless something newer happened to them."""
    from ..workflow.migrate import revert_migration

    db = migrated_database()
    report = revert_migration(db, actor_for(db, org_slug), migration_id)
    emit({"reverted": report.reverted, "kept": [{"execution": str(e), "reason": r} for e, r in report.kept]}, as_json,
         f"{report.reverted} execution(s) put back" + "".join(f"\n- {e}: {r}" for e, r in report.kept))


def _pairs(values, option: str) -> dict[str, str]:
    pairs = {}
    for value in values:
        key, sep, rest = value.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{value!r}: use KEY=VALUE", param_hint=option)
        pairs[key.strip()] = rest.strip()
    return pairs


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
    from ..workflow.commands import start_execution

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
        from ..workflow.commands import change_status

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
                                        ["id", "title", "task_type", "status", "assigned_role", "holder", "due_date", "version"]))


version_option = click.option("--version", "expected_version", type=int, default=None,
                               help="Refuse if the task's version is no longer this one (as shown by task list).")


def _task_action(name: str):
    @click.argument("task_id")
    @click.option("--as", "as_email", required=True, help="The user acting (email).")
    @version_option
    @org_option
    @json_option
    def command(task_id: str, as_email: str, expected_version: int | None, org_slug: str | None,
                as_json: bool) -> None:
        from ..workflow import commands

        db = migrated_database()
        task = getattr(commands, f"{name}_task")(db, _person(db, org_slug, as_email), task_id,
                                                 expected_version=expected_version)
        emit({"id": task.id, "status": task.status, "version": task.version}, as_json, f"{task.title}: {task.status}")

    command.__doc__ = f"{name.capitalize()} a task."
    return command


for _name in ("claim", "release"):
    task_group.command(_name)(_task_action(_name))


@task_group.command("complete")
@click.argument("task_id")
@click.option("--as", "as_email", required=True, help="The user acting (email).")
@click.option("--outcome", type=click.Choice(["approved", "rejected", "completed"]), default=None)
@click.option("--comment", default=None)
@click.option("--on-behalf", is_flag=True,
              help="Admins: decide a task held by someone else or meant for another role (needs --comment).")
@version_option
@org_option
@json_option
def complete_command(task_id, as_email, outcome, comment, on_behalf, expected_version, org_slug, as_json) -> None:
    """Complete a task, or approve/reject an approval."""
    from ..workflow.commands import complete_task, decide_on_behalf

    db = migrated_database()
    action = decide_on_behalf if on_behalf else complete_task
    task = action(db, _person(db, org_slug, as_email), task_id, outcome=outcome, comment=comment,
                  expected_version=expected_version)
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
