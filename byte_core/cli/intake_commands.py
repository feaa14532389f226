"""`byte intake ...`: the Formstack endpoint and its configuration."""
from __future__ import annotations

import click

from .base import actor_for, cli, emit, json_option, migrated_database, org_option, table


@cli.group("intake")
def intake_group() -> None:
    """Formstack intake."""


@intake_group.command("url")
@click.option("--base", default=None,
              help="Public base URL of the dashboard [default: BYTE_PUBLIC_URL, else the address of the running "
                   "`byte up`, else http://127.0.0.1:8501].")
@org_option
@json_option
def url_command(base: str | None, org_slug: str | None, as_json: bool) -> None:
    """The organization's webhook URL, to paste into Formstack."""
    from ..config import load_settings
    from ..intake.service import endpoint_path
    from ..ops.running import public_base_url

    db = migrated_database()
    base = base or public_base_url(load_settings().data_dir)
    url = base.rstrip("/") + endpoint_path(db, actor_for(db, org_slug))
    emit({"url": url}, as_json, url)


@intake_group.command("configure")
@click.option("--form-id", default=None, help="Apply --map and --default-workflow to this form only.")
@click.option("--hmac-key", default=None, help="HMAC-SHA256 key (empty string clears it).")
@click.option("--handshake-key", default=None, help="Shared HandshakeKey (empty string clears it).")
@click.option("--signature-header", default=None, help="Header carrying the signature (default X-FS-Signature).")
@click.option("--map", "maps", multiple=True, help="FORMSTACK_KEY=FIELD (first_name, email, metadata.x, ...).")
@click.option("--default-workflow", default=None, help="Workflow name started for each submission.")
@click.option("--allow-unsigned/--require-secret", "allow_unsigned", default=None,
              help="Accept deliveries when no HMAC or handshake key is set (anyone who knows the URL can post).")
@click.option("--active/--inactive", "is_active", default=None, help="Switch intake on or off (off answers 404).")
@org_option
@json_option
def configure_command(form_id, hmac_key, handshake_key, signature_header, maps, default_workflow, allow_unsigned,
                      is_active, org_slug, as_json) -> None:
    """Set verification secrets, field mappings and the workflow to start."""
    from ..intake.service import configure, mask

    mappings = {}
    for pair in maps:
        if "=" not in pair:
            raise click.BadParameter(f"{pair!r}: use FORMSTACK_KEY=FIELD", param_hint="--map")
        key, target = pair.rsplit("=", 1)
        mappings[key.strip()] = target.strip()
    db = migrated_database()
    config = configure(db, actor_for(db, org_slug), form_id=form_id, hmac_key=hmac_key, handshake_key=handshake_key,
                       signature_header=signature_header, mappings=mappings or None,
                       default_workflow=default_workflow, allow_unsigned=allow_unsigned, is_active=is_active)
    data = {"hmac_key": mask(config.webhook_secret), "handshake_key": mask(config.handshake_key),
            "signature_header": config.signature_header, "allow_unsigned": config.allow_unsigned,
            "active": config.is_active, "field_mappings": config.field_mappings,
            "form_settings": config.form_settings,
            "default_workflow_definition_id": config.default_workflow_definition_id}
    emit(data, as_json, lambda d: "\n".join(f"{k}: {v}" for k, v in d.items()))


@intake_group.command("list")
@click.option("--failed", is_flag=True, help="Only submissions that failed processing.")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@org_option
@json_option
def list_command(failed: bool, limit: int, org_slug: str | None, as_json: bool) -> None:
    """Received submissions, newest first."""
    from ..intake.service import list_submissions

    db = migrated_database()
    rows, total = list_submissions(db, actor_for(db, org_slug), failed_only=failed, limit=limit)
    data = [{"id": r.id, "form_id": r.form_id, "submission_id": r.submission_id, "processed": r.processed,
             "duplicates": r.duplicate_count, "execution": r.workflow_execution_id, "error": r.error,
             "received": r.created_at} for r in rows]
    emit({"total": total, "submissions": data} if as_json else data, as_json,
         lambda d: table(d, ["id", "form_id", "submission_id", "processed", "duplicates", "error"])
         + f"\n{len(d)} of {total}")


@intake_group.command("reprocess")
@click.argument("submission_ids", nargs=-1)
@click.option("--all-failed", is_flag=True, help="Every failed submission.")
@org_option
@json_option
def reprocess_command(submission_ids, all_failed: bool, org_slug: str | None, as_json: bool) -> None:
    """Queue failed submissions again (after fixing the mapping); the scheduler processes them."""
    from ..intake.service import reprocess

    db = migrated_database()
    count = reprocess(db, actor_for(db, org_slug), list(submission_ids), all_failed=all_failed)
    emit({"queued": count}, as_json, f"{count} submissions queued for processing")


@intake_group.command("serve")
@click.option("--port", type=click.IntRange(1, 65535), default=8502, show_default=True)
@click.option("--address", default="127.0.0.1", show_default=True)
@click.option("--workers", type=click.IntRange(1, 64), default=2, show_default=True,
              help="Worker processes sharing the port.")
def serve_command(port: int, address: str, workers: int) -> None:
    """Serve only the /api/intake endpoint, without Streamlit: for more deliveries per second than the
    dashboard's own server takes. Same handler, same database, same URL path."""
    import uvicorn

    migrated_database()
    uvicorn.run("byte_core.intake.http:standalone_app", factory=True, host=address, port=port, workers=workers,
                log_level="warning", access_log=False)
