"""Outgoing webhooks against a real HTTP receiver on 127.0.0.1 that checks signatures as a receiver
would: signed deliveries, retries with the status codes kept, redelivery, the Slack format, and refused
URLs."""
from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from byte_core.errors import InvalidInput, PermissionDenied
from byte_core.access import Actor
from byte_core.models import Contact, WebhookDelivery
from byte_core.notifications.outbox import RetryPolicy
from byte_core.notifications.webhooks import (add_endpoint, list_deliveries, list_endpoints, redeliver,
                                              send_test_delivery)
from byte_core.notifications.worker import DeliveryWorker
from byte_core.workflow.definitions import save_definition
from byte_core.workflow.commands import start_execution

FAST = RetryPolicy(base_seconds=0.0, max_attempts=3)


class Receiver:
    """Keeps each request; answers with the next queued status (200 when none is queued)."""

    def __init__(self):
        self.requests, self.statuses = [], []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((self.headers, body))  # case-insensitive, as HTTP headers are
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"nope" if status >= 400 else b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/byte"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def receiver_accepts(secret: str, headers: dict, body: bytes) -> bool:
    """Independent of byte_core: what a receiver's own code does with our headers."""
    timestamp = headers["X-BYTE-Timestamp"]
    expected = "sha256=" + hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers["X-BYTE-Signature"]) and abs(time.time() - int(timestamp)) < 300


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.server.shutdown()


@pytest.fixture
def started(database, actor):
    with database.session(actor.org_id) as s:
        s.add(Contact(org_id=actor.org_id, first_name="Ada", last_name="Lovelace", email="ada@example.org"))
    save_definition(database, actor, {"name": "Hooked", "phases": [{"id": "p", "name": "Only", "order": 1}], "steps": [
        {"id": "t", "order": 1, "phase_id": "p", "type": "trigger", "name": "Start", "config": {}},
        {"id": "a", "order": 2, "phase_id": "p", "type": "assign_task", "name": "Call",
         "config": {"title": "Call Ada", "assign_to": {"type": "role", "role": "reviewer"}}},
        {"id": "w", "order": 3, "phase_id": "p", "type": "wait_for_task", "name": "Wait", "config": {"task_from_step": "a"}},
        {"id": "e", "order": 4, "phase_id": "p", "type": "end", "name": "End", "config": {}}]})
    return lambda: start_execution(database, actor, "Hooked", "ada@example.org")


def test_signed_deliveries_of_the_subscribed_events(database, actor, receiver, started):
    endpoint, secret = add_endpoint(database, actor, receiver.url, ["execution_started", "task_created"])
    add_endpoint(database, actor, receiver.url, ["execution_failed"])  # subscribed to nothing that happens
    execution = started()
    assert DeliveryWorker(database, webhook_policy=FAST).deliver(actor.org_id) == 2
    events = {}
    for headers, body in receiver.requests:
        assert receiver_accepts(secret, headers, body)
        assert not receiver_accepts("whsec_wrong-secret-0000", headers, body)
        payload = json.loads(body)
        assert headers["X-BYTE-Event"] == payload["event"] and headers["X-BYTE-Delivery"]
        events[payload["event"]] = payload
    assert set(events) == {"execution.started", "task.created"}
    assert events["task.created"]["data"]["title"] == "Call Ada"
    assert events["task.created"]["data"]["assigned_role"] == "reviewer"
    assert events["execution.started"]["data"]["execution_id"] == str(execution.id)
    views = list_endpoints(database, actor)
    assert secret not in repr(views) and views[0].secret_masked.startswith(secret[:2])


def test_failed_delivery_is_retried_and_the_log_keeps_status_codes(database, actor, receiver, started):
    endpoint, secret = add_endpoint(database, actor, receiver.url, ["execution_started"])
    receiver.statuses = [500]
    started()
    worker = DeliveryWorker(database, webhook_policy=FAST)
    worker.deliver(actor.org_id)
    rows, total = list_deliveries(database, actor, endpoint_id=endpoint.id)
    assert total == 1 and rows[0].status == "pending" and rows[0].response_status == 500
    assert "HTTP 500" in rows[0].last_error
    worker.deliver(actor.org_id)
    rows, _ = list_deliveries(database, actor, endpoint_id=endpoint.id)
    assert rows[0].status == "sent" and rows[0].response_status == 200 and rows[0].attempts == 2
    first, second = receiver.requests
    assert first[0]["X-BYTE-Delivery"] == second[0]["X-BYTE-Delivery"]  # the idempotency key of a retry
    assert all(receiver_accepts(secret, h, b) for h, b in receiver.requests)


def test_redeliver_sends_the_same_event_again(database, actor, receiver, started):
    endpoint, secret = add_endpoint(database, actor, receiver.url, ["execution_started"])
    started()
    worker = DeliveryWorker(database, webhook_policy=FAST)
    worker.deliver(actor.org_id)
    original = list_deliveries(database, actor)[0][0]
    copy_id = redeliver(database, actor, original.id)
    worker.deliver(actor.org_id)
    assert len(receiver.requests) == 2
    first, second = (json.loads(body) for _, body in receiver.requests)
    assert first == second and receiver.requests[1][0]["X-BYTE-Delivery"] == str(copy_id)
    with database.session(actor.org_id) as s:
        assert s.get(WebhookDelivery, copy_id).redelivery_of == original.id


def test_slack_format_and_a_test_ping(database, actor, receiver):
    endpoint, _ = add_endpoint(database, actor, receiver.url, ["task_created"], format="slack")
    send_test_delivery(database, actor, endpoint.id)
    DeliveryWorker(database, webhook_policy=FAST).deliver(actor.org_id)
    (headers, body), = receiver.requests
    assert json.loads(body) == {"text": "*ping*: Test delivery from BYTE Dashboard"}


def test_an_unreachable_endpoint_waits_in_the_outbox(database, actor, started):
    endpoint, _ = add_endpoint(database, actor, "http://127.0.0.1:9/never", ["execution_started"])
    started()  # the start itself is not slowed or failed by the dead endpoint
    DeliveryWorker(database, webhook_policy=FAST).deliver(actor.org_id)
    view, = list_endpoints(database, actor)
    assert view.pending == 1 and "cannot reach" in view.last_error


@pytest.mark.parametrize("url, message", [
    ("ftp://example.com/hook", "http:// or https://"),
    ("javascript:alert(1)", "http:// or https://"),
    ("http://localhost:8501/api/intake/org/token", "own /api/"),
    ("http://127.0.0.1/api/", "own /api/"),
    ("https://user:pw@example.com/hook", "credentials"),
])
def test_bad_urls_are_refused(database, actor, url, message):
    with pytest.raises(InvalidInput, match=message):
        add_endpoint(database, actor, url, ["task_created"])


def test_only_admins_manage_webhooks(database, actor, receiver):
    reviewer = Actor(actor.org_id, None, frozenset({"reviewer"}), "r@example.com")
    with pytest.raises(PermissionDenied):
        add_endpoint(database, reviewer, receiver.url, ["task_created"])
    with database.session(actor.org_id) as s:
        assert s.scalar(select(WebhookDelivery)) is None


def test_cli_add_list_test_and_deliveries(database, receiver):
    from click.testing import CliRunner

    from byte_core.cli import cli

    def run(*args):
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)

    slug = f"cli-{uuid.uuid4().hex[:8]}"
    run("orgs", "add", slug, "CLI Org")
    added = run("webhooks", "add", receiver.url, "--events", "task_created,execution_failed", "--org", slug, "--json")
    assert added.exit_code == 0, added.output
    endpoint = json.loads(added.output)
    listed = run("webhooks", "list", "--org", slug)
    assert receiver.url in listed.output and endpoint["secret"] not in listed.output
    tested = run("webhooks", "test", endpoint["id"], "--org", slug)
    assert tested.exit_code == 0 and "ping sent, HTTP 200" in tested.output
    assert receiver_accepts(endpoint["secret"], *receiver.requests[0])
    log = json.loads(run("webhooks", "deliveries", "--org", slug, "--json").output)
    assert log["total"] == 1 and log["deliveries"][0]["http"] == 200
    refused = run("webhooks", "add", "ftp://example.com/x", "--events", "task_created", "--org", slug)
    assert refused.exit_code == 1 and "http:// or https://" in refused.output


def test_task_completed_and_execution_completed_are_delivered(database, actor, receiver, started):
    from byte_core.models import Task
    from byte_core.workflow.runner import drain_org
    from byte_core.workflow.commands import complete_task

    add_endpoint(database, actor, receiver.url, ["task_completed", "execution_completed"])
    execution = started()
    with database.session(actor.org_id) as s:
        task = s.scalar(select(Task).where(Task.workflow_execution_id == execution.id))
    complete_task(database, actor, task.id)
    drain_org(database, actor.org_id)
    DeliveryWorker(database, webhook_policy=FAST).deliver(actor.org_id)
    payloads = {json.loads(body)["event"]: json.loads(body) for _, body in receiver.requests}
    assert set(payloads) == {"task.completed", "execution.completed"}
    assert payloads["task.completed"]["data"]["details"]["outcome"] == "completed"
    assert payloads["execution.completed"]["data"]["execution_id"] == str(execution.id)
