"""`byte notify ...` and `byte webhooks ...`: test email, outgoing webhook endpoints and their log."""
from __future__ import annotations

import click

from ..errors import ByteError
from .base import actor_for, cli, emit, json_option, migrated_database, org_option, table


@cli.group("notify")
def notify_group() -> None:
    """Email notifications (BYTE_SMTP_URL, BYTE_SMTP_FROM, BYTE_PUBLIC_URL)."""


@notify_group.command("test")
@click.argument("email")
@org_option
@json_option
def notify_test_command(email: str, org_slug: str | None, as_json: bool) -> None:
    """Send a test email to EMAIL now, through the outbox, and say whether the SMTP server took it."""
    from ..notifications.inbox import outbox_row, queue_test_email
    from ..notifications.outbox import RetryPolicy
    from ..notifications.worker import DeliveryWorker

    db = migrated_database()
    actor = actor_for(db, org_slug)
    outbox_id = queue_test_email(db, actor, email)
    DeliveryWorker(db, email_policy=RetryPolicy(max_attempts=1)).deliver_emails(actor.org_id)
    row = outbox_row(db, actor, outbox_id)
    data = {"id": outbox_id, "to": row.to_address, "status": row.status, "error": row.last_error}
    emit(data, as_json, f"test email to {row.to_address}: {row.status}" + (f" ({row.last_error})" if row.last_error else ""))
    if row.status != "sent":
        raise ByteError(f"the test email was not accepted: {row.last_error or row.status}")


@cli.group("webhooks")
def webhooks_group() -> None:
    """Outgoing webhooks: signed POSTs to your endpoints when executions and tasks change."""


def _endpoint_row(view) -> dict:
    return {"id": view.id, "url": view.url, "events": ",".join(view.events), "format": view.format,
            "active": view.is_active, "secret": view.secret_masked, "pending": view.pending,
            "last": view.last_status or "", "last_error": view.last_error}


@webhooks_group.command("add")
@click.argument("url")
@click.option("--events", required=True, help="Comma-separated, e.g. execution_failed,task_created.")
@click.option("--format", "format_", type=click.Choice(["json", "slack"]), default="json", show_default=True)
@click.option("--description", default=None)
@click.option("--secret", default=None, help="Signing secret (16+ characters); generated when not given.")
@org_option
@json_option
def add_command(url, events, format_, description, secret, org_slug, as_json) -> None:
    """Add an endpoint. The signing secret is printed once: keep it in the receiver."""
    from ..notifications.webhooks import add_endpoint

    db = migrated_database()
    endpoint, secret = add_endpoint(db, actor_for(db, org_slug), url, events.split(","), format=format_,
                                    description=description, secret=secret)
    emit({"id": endpoint.id, "url": endpoint.url, "events": endpoint.events, "secret": secret}, as_json,
         f"added {endpoint.url} ({endpoint.id})\nsigning secret (shown once): {secret}")


@webhooks_group.command("list")
@org_option
@json_option
def list_command(org_slug: str | None, as_json: bool) -> None:
    """Endpoints with their masked secret, pending deliveries and last result."""
    from ..notifications.webhooks import list_endpoints

    db = migrated_database()
    rows = [_endpoint_row(v) for v in list_endpoints(db, actor_for(db, org_slug))]
    emit(rows, as_json, lambda r: table(r, ["id", "url", "events", "format", "active", "secret", "pending", "last"]))


@webhooks_group.command("test")
@click.argument("endpoint_id")
@org_option
@json_option
def test_command(endpoint_id: str, org_slug: str | None, as_json: bool) -> None:
    """Send a signed `ping` to the endpoint now and print the receiver's answer."""
    from ..notifications.webhooks import list_deliveries, send_test_delivery
    from ..notifications.worker import DeliveryWorker

    db = migrated_database()
    actor = actor_for(db, org_slug)
    delivery_id = send_test_delivery(db, actor, endpoint_id)
    DeliveryWorker(db).deliver_webhooks(actor.org_id)
    row = next((r for r in list_deliveries(db, actor, endpoint_id=endpoint_id, limit=20)[0] if r.id == delivery_id), None)
    data = {"id": delivery_id, "status": row.status if row else "pending",
            "response_status": row.response_status if row else None, "error": row.last_error if row else None}
    emit(data, as_json, f"ping {data['status']}" + (f", HTTP {data['response_status']}" if data["response_status"] else "")
         + (f" ({data['error']})" if data["error"] else ""))
    if data["status"] != "sent":
        raise ByteError(f"the endpoint did not accept the ping: {data['error'] or data['status']}")


@webhooks_group.command("deliveries")
@click.option("--endpoint", "endpoint_id", default=None, help="Only this endpoint's deliveries.")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option("--redeliver", "redeliver_id", default=None, help="Queue this delivery again (same payload).")
@org_option
@json_option
def deliveries_command(endpoint_id, limit, redeliver_id, org_slug, as_json) -> None:
    """The delivery log, newest first: event, status, HTTP status, attempts, error."""
    from ..notifications.webhooks import list_deliveries, redeliver

    db = migrated_database()
    actor = actor_for(db, org_slug)
    if redeliver_id:
        new_id = redeliver(db, actor, redeliver_id)
        emit({"redelivery": new_id}, as_json, f"queued again as {new_id}")
        return
    rows, total = list_deliveries(db, actor, endpoint_id=endpoint_id, limit=limit)
    data = [{"id": r.id, "event": r.event, "status": r.status, "http": r.response_status, "attempts": r.attempts,
             "created": r.created_at, "error": r.last_error} for r in rows]
    emit({"total": total, "deliveries": data} if as_json else data, as_json,
         lambda d: table(d, ["id", "event", "status", "http", "attempts", "created", "error"]) + f"\n{len(d)} of {total}")
