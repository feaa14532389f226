"""Pure parts of notifications, without a database: SMTP URL parsing, mentions, backoff, webhook signing
and URL checks, email composition, and the engine's audit rows read as events."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone
from types import SimpleNamespace

import pytest

from byte_core.errors import InvalidInput
from byte_core.notifications.email import Item, compose
from byte_core.notifications.events import LifecycleEvent, events_from_activity, mentioned_emails
from byte_core.notifications.outbox import RetryPolicy
from byte_core.notifications.settings import parse_smtp_url
from byte_core.notifications.webhooks import check_url, signature, slack_text, verify


def test_smtp_url_with_starttls_and_auth():
    s = parse_smtp_url("smtp://ops%40x.com:p%3Ass@mail.example.com:587?starttls=1", "BYTE <byte@x.com>")
    assert (s.host, s.port, s.username, s.password, s.starttls, s.implicit_tls) == \
        ("mail.example.com", 587, "ops@x.com", "p:ss", True, False)
    assert "p:ss" not in s.display and "STARTTLS" in s.display


def test_smtps_defaults_and_bad_urls():
    s = parse_smtp_url("smtps://relay.example.com")
    assert s.port == 465 and s.implicit_tls and not s.starttls and s.sender == "byte@relay.example.com"
    with pytest.raises(InvalidInput, match="smtp:// or smtps://"):
        parse_smtp_url("http://mail.example.com")
    with pytest.raises(InvalidInput, match="no host"):
        parse_smtp_url("smtp://")


def test_mentions_are_found_once_each():
    text = "Hi @ana@example.com and @Bob@Example.org. Again @ana@example.com; not mail@example.com"
    assert mentioned_emails(text) == ["ana@example.com", "bob@example.org"]


def test_backoff_doubles_up_to_the_cap():
    policy = RetryPolicy(base_seconds=30, max_seconds=100)
    assert [policy.delay(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 100, 100]


def test_signature_covers_timestamp_and_body():
    body = b'{"event":"task.created"}'
    header = signature("whsec_0123456789abcdef", "1700000000", body)
    assert header.startswith("sha256=") and len(header) == 7 + 64
    assert verify("whsec_0123456789abcdef", "1700000000", body, header, now=1700000100)
    assert not verify("whsec_0123456789abcdef", "1700000001", body, header, now=1700000100)  # other timestamp
    assert not verify("whsec_0123456789abcdef", "1700000000", body + b" ", header, now=1700000100)
    assert not verify("whsec_0123456789abcdef", "1700000000", body, header, now=1700009999)  # a replay


@pytest.mark.parametrize("url", ["https://hooks.slack.com/services/x", "http://10.0.0.5:8080/hook",
                                 "http://localhost:9000/not-api"])
def test_outside_urls_are_accepted(url):
    assert check_url(url) == url


@pytest.mark.parametrize("url", ["file:///etc/passwd", "gopher://x", "http://localhost/api/intake/x",
                                 "http://[::1]/api/health", "https://"])
def test_other_urls_are_refused(url):
    with pytest.raises(InvalidInput):
        check_url(url)


def test_slack_text_escapes_what_people_typed():
    text = slack_text({"event": "task.created", "data": {"title": "<http://evil|click> & co"}})
    assert text == "*Task created*: &lt;http://evil|click&gt; &amp; co"


def test_compose_one_line_subject_and_escaped_html(monkeypatch):
    monkeypatch.setenv("BYTE_PUBLIC_URL", "https://byte.example.com")
    settings = parse_smtp_url("smtp://mail.example.com", "byte@example.com")
    row = SimpleNamespace(id=uuid.UUID(int=7), kind="notification", to_address="ana@example.com")
    item = Item("task_created", "Call <Ada>\nBcc: evil@example.com", None, "https://byte.example.com/tasks?task=1")
    message = compose(row, [item], settings)
    assert "\n" not in message["Subject"] and message["Subject"].startswith("New task: Call <Ada> Bcc:")
    assert message["Message-ID"] == f"<{uuid.UUID(int=7)}@example.com>"
    plain, html = (part.get_payload(decode=True).decode() for part in message.get_payload())
    assert "https://byte.example.com/tasks?task=1" in plain and "Call &lt;Ada&gt;" in html


def test_engine_audit_rows_become_events():
    now = datetime.now(timezone.utc)
    base = {"org_id": "o", "created_at": now, "task_id": None, "workflow_execution_id": uuid.uuid4(),
            "contact_id": uuid.uuid4()}
    rows = [{**base, "action": "task_created", "task_id": uuid.uuid4(),
             "details": {"title": "Review", "assigned_role": "reviewer", "assigned_to": None}},
            {**base, "action": "step_completed", "details": {}},
            {**base, "action": "task_escalated", "task_id": uuid.uuid4(), "details": {"to_role": "manager"}},
            {**base, "action": "execution_completed", "details": {"outcome": "done"}}]
    events = events_from_activity(rows)
    assert [(e.kind, e.assigned_role, e.title) for e in events] == [
        ("task_created", "reviewer", "Review"), ("task_escalated", "manager", ""), ("execution_completed", None, "")]


def test_unknown_event_kinds_are_refused():
    with pytest.raises(ValueError):
        LifecycleEvent(kind="task_exploded", org_id="o", at=datetime.now(timezone.utc))
