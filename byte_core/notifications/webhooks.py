"""Outgoing webhooks: endpoints per organization, signed deliveries, and the delivery log.

Signature (what a receiver checks):
    X-BYTE-Timestamp: <unix seconds when this attempt was sent>
    X-BYTE-Signature: sha256=<lowercase hex HMAC-SHA256(secret, timestamp + "." + raw body bytes)>
    X-BYTE-Delivery:  <delivery id>  (the idempotency key: the same on every retry and redelivery of it)
    X-BYTE-Event:     <event, e.g. task.created>
A receiver recomputes the HMAC over the timestamp header, a dot and the body exactly as received,
compares in constant time, and refuses a timestamp more than a few minutes old (replays).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import socket
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select, text

from .. import activity
from ..access import Actor, require_role
from ..db import Database
from ..errors import InvalidInput, NotFound
from ..ids import as_uuid
from ..models import WebhookDelivery, WebhookEndpoint
from .events import WEBHOOK_KINDS
from .outbox import Outcome
from .settings import public_url

FORMATS = ("json", "slack")
TIMEOUT_SECONDS = 10.0
USER_AGENT = "BYTE-Webhooks/1"


# --- signing -------------------------------------------------------------------------------------------------
def signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: str, timestamp: str, body: bytes, header: str, *, tolerance: int = 300,
           now: float | None = None) -> bool:
    """What a receiver does (and what the tests do as one): constant-time compare, fresh timestamp."""
    try:
        age = abs((now or time.time()) - int(timestamp))
    except ValueError:
        return False
    return age <= tolerance and hmac.compare_digest(signature(secret, timestamp, body), header or "")


def mask(secret: str | None) -> str:
    from ..intake.service import mask as mask_secret

    return mask_secret(secret)


# --- endpoint URLs ----------------------------------------------------------------------------------------------
def _own_hosts() -> set[str]:
    hosts = {"localhost", "127.0.0.1", "::1", "0.0.0.0", socket.gethostname().lower()}
    public = urlsplit(public_url()).hostname
    if public:
        hosts.add(public.lower())
    return hosts


def check_url(url: str) -> str:
    """http(s) only, and never this server's own /api/ (a webhook must not feed the intake or loop)."""
    cleaned = (url or "").strip()
    parts = urlsplit(cleaned)
    if parts.scheme not in ("http", "https"):
        raise InvalidInput(f"a webhook URL must start with http:// or https://, not {parts.scheme or cleaned!r}")
    if not parts.hostname:
        raise InvalidInput("the webhook URL has no host")
    if parts.username or parts.password:
        raise InvalidInput("put credentials in the signing secret, not in the webhook URL")
    path = parts.path or "/"
    if parts.hostname.lower() in _own_hosts() and (path == "/api" or path.startswith("/api/")):
        raise InvalidInput("the webhook URL points at this server's own /api/: choose an outside receiver")
    return cleaned


def check_events(events: list[str]) -> list[str]:
    chosen = list(dict.fromkeys(e.strip() for e in events if e and e.strip()))
    if not chosen:
        raise InvalidInput(f"choose at least one event: {', '.join(WEBHOOK_KINDS)}")
    unknown = [e for e in chosen if e not in WEBHOOK_KINDS]
    if unknown:
        raise InvalidInput(f"unknown event {', '.join(unknown)}: choose from {', '.join(WEBHOOK_KINDS)}")
    return chosen


# --- endpoints (admin) --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class EndpointView:
    id: uuid.UUID
    url: str
    description: str | None
    events: list[str]
    format: str
    is_active: bool
    secret_masked: str
    created_at: datetime
    last_status: str | None
    last_error: str | None
    pending: int


def _audit(session, actor: Actor, endpoint: WebhookEndpoint, action: str, details: dict[str, Any]) -> None:
    activity.record(session, entity_type="webhook_endpoint", entity_id=endpoint.id, action=action,
                    details={"url": endpoint.url, **details}, user_id=actor.user_id)


def add_endpoint(db: Database, actor: Actor, url: str, events: list[str], *, format: str = "json",
                 description: str | None = None, secret: str | None = None) -> tuple[WebhookEndpoint, str]:
    """Returns the endpoint and its secret (shown once; masked everywhere afterwards)."""
    require_role(actor, "admin")
    url, events = check_url(url), check_events(events)
    if format not in FORMATS:
        raise InvalidInput(f"format is json or slack, not {format!r}")
    secret = (secret or "").strip() or "whsec_" + secrets.token_urlsafe(24)
    if len(secret) < 16:
        raise InvalidInput("a signing secret needs at least 16 characters")
    with db.session(actor.org_id, user_id=actor.user_id) as session:
        endpoint = WebhookEndpoint(id=uuid.uuid4(), org_id=actor.org_id, url=url, events=events, format=format,
                                   description=(description or "").strip() or None, secret=secret,
                                   created_by=actor.user_id)
        session.add(endpoint)
        session.flush()
        _audit(session, actor, endpoint, "webhook_added", {"events": events, "format": format})
    return endpoint, secret


def _endpoint(session, key: Any) -> WebhookEndpoint:
    endpoint_id = as_uuid(key, "webhook endpoint")
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        raise NotFound(f"no webhook endpoint {key} in this organization")
    return endpoint


def set_active(db: Database, actor: Actor, endpoint_id: Any, active: bool) -> WebhookEndpoint:
    require_role(actor, "admin")
    with db.session(actor.org_id, user_id=actor.user_id) as session:
        endpoint = _endpoint(session, endpoint_id)
        endpoint.is_active = active
        _audit(session, actor, endpoint, "webhook_enabled" if active else "webhook_disabled", {})
    return endpoint


def remove_endpoint(db: Database, actor: Actor, endpoint_id: Any) -> None:
    """Deletes the endpoint and its delivery log (the audit row keeps that it existed)."""
    require_role(actor, "admin")
    with db.session(actor.org_id, user_id=actor.user_id) as session:
        endpoint = _endpoint(session, endpoint_id)
        _audit(session, actor, endpoint, "webhook_removed", {})
        session.delete(endpoint)


def list_endpoints(db: Database, actor: Actor) -> list[EndpointView]:
    require_role(actor, "admin")
    with db.session(actor.org_id) as session:
        endpoints = session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.created_at)).all()
        latest = {r.endpoint_id: r for r in session.execute(text(
            "SELECT DISTINCT ON (endpoint_id) endpoint_id, status, response_status, last_error FROM webhook_deliveries "
            "WHERE status IN ('sent', 'failed') OR last_error IS NOT NULL "
            "ORDER BY endpoint_id, created_at DESC")).all()}
        pending = dict(session.execute(select(WebhookDelivery.endpoint_id, func.count()).where(
            WebhookDelivery.status.in_(("pending", "sending"))).group_by(WebhookDelivery.endpoint_id)).all())
    views = []
    for e in endpoints:
        last = latest.get(e.id)
        status = None if last is None else f"{last.status}" + (f" ({last.response_status})" if last.response_status else "")
        views.append(EndpointView(e.id, e.url, e.description, list(e.events), e.format, e.is_active, mask(e.secret),
                                  e.created_at, status, last.last_error if last else None, pending.get(e.id, 0)))
    return views


# --- deliveries ------------------------------------------------------------------------------------------------
def send_test_delivery(db: Database, actor: Actor, endpoint_id: Any) -> uuid.UUID:
    """Queue a `ping` delivery to the endpoint (whatever events it subscribes to)."""
    require_role(actor, "admin")
    with db.session(actor.org_id, user_id=actor.user_id) as session:
        endpoint = _endpoint(session, endpoint_id)
        delivery = WebhookDelivery(id=uuid.uuid4(), org_id=actor.org_id, endpoint_id=endpoint.id, event="ping",
                                   payload={"id": str(uuid.uuid4()), "event": "ping", "organization": actor.org_id,
                                            "occurred_at": datetime.now().astimezone().isoformat(),
                                            "data": {"message": "Test delivery from BYTE Dashboard"}})
        session.add(delivery)
        _audit(session, actor, endpoint, "webhook_tested", {"delivery_id": str(delivery.id)})
        _wake(session)
    return delivery.id


def redeliver(db: Database, actor: Actor, delivery_id: Any) -> uuid.UUID:
    """A new delivery of the same payload (the log keeps the original's attempts)."""
    require_role(actor, "admin")
    key = as_uuid(delivery_id, "delivery")
    with db.session(actor.org_id, user_id=actor.user_id) as session:
        original = session.get(WebhookDelivery, key)
        if original is None:
            raise NotFound(f"no webhook delivery {delivery_id} in this organization")
        copy = WebhookDelivery(id=uuid.uuid4(), org_id=actor.org_id, endpoint_id=original.endpoint_id,
                               event=original.event, payload=original.payload, redelivery_of=original.id)
        session.add(copy)
        session.flush()
        endpoint = session.get(WebhookEndpoint, original.endpoint_id)
        _audit(session, actor, endpoint, "webhook_redelivered",
               {"delivery_id": str(copy.id), "redelivery_of": str(original.id)})
        _wake(session)
    return copy.id


def _wake(session) -> None:
    from .emit import OUTBOX_CHANNEL

    session.execute(text("SELECT pg_notify(:c, :o)"), {"c": OUTBOX_CHANNEL, "o": session.info["org_id"]})


def list_deliveries(db: Database, actor: Actor, *, endpoint_id: Any = None, offset: int = 0, limit: int = 50
                    ) -> tuple[list[WebhookDelivery], int]:
    require_role(actor, "admin")
    with db.session(actor.org_id) as session:
        where = [] if endpoint_id in (None, "") else [WebhookDelivery.endpoint_id == _endpoint(session, endpoint_id).id]
        total = session.scalar(select(func.count()).select_from(WebhookDelivery).where(*where)) or 0
        rows = list(session.scalars(select(WebhookDelivery).where(*where)
                                    .order_by(WebhookDelivery.created_at.desc()).offset(offset).limit(limit)))
    return rows, total


# --- sending ---------------------------------------------------------------------------------------------------
def body_for(payload: dict[str, Any], format: str) -> bytes:
    if format == "slack":
        return json.dumps({"text": slack_text(payload)}).encode()
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()


def slack_text(payload: dict[str, Any]) -> str:
    data = payload.get("data") or {}
    label = WEBHOOK_KINDS.get(str(payload.get("event", "")).replace(".", "_"), payload.get("event", "event"))
    title = data.get("title") or data.get("message") or ""
    link = ""
    if data.get("task_id"):
        link = f" <{public_url()}/tasks?task={data['task_id']}|open>"
    elif data.get("execution_id"):
        link = f" <{public_url()}/executions?execution={data['execution_id']}|open>"
    # Slack reads &, < and > as markup: escaped, so a title cannot forge a link.
    safe = title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f"*{label}*" + (f": {safe}" if safe else "") + link


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect could lead anywhere (this server's /api/ included): it is reported, not followed."""

    def redirect_request(self, *args, **kwargs):
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def send(delivery: Any, endpoint: Any) -> Outcome:
    """One POST; 2xx is delivered, anything else is retried (with the status code kept)."""
    try:
        check_url(endpoint.url)
    except InvalidInput as exc:
        return Outcome(delivery.id, sent=False, error=str(exc), permanent=True)
    body = body_for(delivery.payload, endpoint.format)
    timestamp = str(int(time.time()))
    request = urllib.request.Request(endpoint.url, data=body, method="POST", headers={
        "Content-Type": "application/json", "User-Agent": USER_AGENT, "X-BYTE-Event": str(delivery.payload.get("event")),
        "X-BYTE-Delivery": str(delivery.id), "X-BYTE-Timestamp": timestamp,
        "X-BYTE-Signature": signature(endpoint.secret, timestamp, body)})
    try:
        with _OPENER.open(request, timeout=TIMEOUT_SECONDS) as response:
            return Outcome(delivery.id, sent=True, status_code=response.status)
    except urllib.error.HTTPError as exc:
        excerpt = exc.read(300).decode(errors="replace").strip() if exc.fp else ""
        return Outcome(delivery.id, sent=False, status_code=exc.code,
                       error=f"HTTP {exc.code} {exc.reason}" + (f": {excerpt}" if excerpt else ""))
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return Outcome(delivery.id, sent=False, error=f"cannot reach {urlsplit(endpoint.url).netloc}: {reason}")
