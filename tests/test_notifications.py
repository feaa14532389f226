"""Notifications end to end on the real database with a real SMTP server (aiosmtpd) on loopback:
what arrives (headers, body, link), one message per event, none for a rolled-back change, none twice
with two delivery workers, a retry after a refusal, preferences, digests, mentions and reminders."""
from __future__ import annotations

import socket
import threading
import uuid
from datetime import datetime, timedelta, timezone
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select, text

from byte_core.access import Actor
from byte_core.models import Contact, EmailOutbox, Notification, Task
from byte_core.notes import add_note
from byte_core.notifications import LifecycleEvent, emit
from byte_core.notifications.inbox import (Preferences, email_status, list_notifications, mark_read,
                                           set_preferences, unread_count)
from byte_core.notifications.outbox import RetryPolicy
from byte_core.notifications.reminders import queue_digests, send_reminders
from byte_core.notifications.worker import DeliveryWorker
from byte_core.users import add_user, deactivate
from byte_core.workflow.definitions import save_definition
from byte_core.workflow.runner import drain_org
from byte_core.workflow.commands import start_execution

PUBLIC = "http://byte.test:8501"
FAST = RetryPolicy(base_seconds=0.0, max_attempts=3)


class Mailbox:
    """An aiosmtpd handler that keeps what it accepts and can refuse the next N messages with a 451."""

    def __init__(self):
        self.messages, self.refuse_next, self.lock = [], 0, threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            if self.refuse_next:
                self.refuse_next -= 1
                return "451 4.3.0 Try again later"
            self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content, policy=policy.default)))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def mailbox(monkeypatch):
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("BYTE_SMTP_URL", f"smtp://127.0.0.1:{port}")
    monkeypatch.setenv("BYTE_SMTP_FROM", "BYTE <byte@byte.test>")
    monkeypatch.setenv("BYTE_PUBLIC_URL", PUBLIC)
    yield box
    controller.stop()


def person(database, actor, email: str, *roles: str) -> Actor:
    user = add_user(database, actor, email, list(roles), password=None)
    return Actor(actor.org_id, user.id, frozenset(roles), user.email)


def definition(name: str, assign_to: dict) -> dict:
    return {"name": name, "phases": [{"id": "p", "name": "Only", "order": 1}], "steps": [
        {"id": "t", "order": 1, "phase_id": "p", "type": "trigger", "name": "Start", "config": {}},
        {"id": "a", "order": 2, "phase_id": "p", "type": "assign_task", "name": "Call",
         "config": {"title": "Call {{contact.first_name}} <now>", "assign_to": assign_to, "due_in_days": 3}},
        {"id": "w", "order": 3, "phase_id": "p", "type": "wait_for_task", "name": "Wait",
         "config": {"task_from_step": "a"}},
        {"id": "e", "order": 4, "phase_id": "p", "type": "end", "name": "End", "config": {}}]}


@pytest.fixture
def contact(database, actor):
    with database.session(actor.org_id) as s:
        row = Contact(org_id=actor.org_id, first_name="Ada", last_name="Lovelace", email="ada@example.org")
        s.add(row)
    return row


def count(database, org_id, model, *where) -> int:
    with database.session(org_id) as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def test_role_task_reaches_every_active_holder_once_with_headers_body_and_link(database, actor, mailbox, contact):
    ana = person(database, actor, f"ana@{actor.org_id}.example.com", "reviewer")
    bob = person(database, actor, f"bob@{actor.org_id}.example.com", "reviewer")
    gone = person(database, actor, f"gone@{actor.org_id}.example.com", "reviewer")
    person(database, actor, f"hr@{actor.org_id}.example.com", "hr")
    deactivate(database, actor, gone.email)
    save_definition(database, actor, definition("Role queue", {"type": "role", "role": "reviewer"}))
    started = start_execution(database, actor, "Role queue", "ada@example.org")
    with database.session(actor.org_id) as s:
        task = s.scalar(select(Task).where(Task.workflow_execution_id == started.id))

    assert unread_count(database, ana) == 1 and unread_count(database, bob) == 1 and unread_count(database, gone) == 0
    sent = DeliveryWorker(database, email_policy=FAST).deliver(actor.org_id)
    assert sent == 2
    assert sorted(r[0] for r, _ in mailbox.messages) == sorted([ana.email, bob.email])
    _, message = mailbox.messages[0]
    assert message["Subject"] == "New task: Call Ada <now>"
    assert message["From"] == "BYTE <byte@byte.test>" and message["Auto-Submitted"] == "auto-generated"
    assert message["Message-ID"].endswith("@byte.test>")
    plain = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    link = f"{PUBLIC}/tasks?task={task.id}"
    assert link in plain and f'href="{link}"' in html
    assert "Call Ada &lt;now&gt;" in html and "<now>" not in html  # typed text is escaped in HTML
    assert DeliveryWorker(database, email_policy=FAST).deliver(actor.org_id) == 0  # nothing left, nothing twice
    assert len(mailbox.messages) == 2


def test_a_rolled_back_change_sends_nothing(database, actor, mailbox):
    ana = person(database, actor, f"ana@{actor.org_id}.example.com", "reviewer")
    with pytest.raises(RuntimeError):
        with database.session(actor.org_id) as s:
            written = emit(s, [LifecycleEvent(kind="note_mention", org_id=actor.org_id, at=datetime.now(timezone.utc),
                                              assigned_to=ana.email, title="Rolled back")])
            assert written == (1, 1, 0)
            raise RuntimeError("the change fails after emitting")
    assert count(database, actor.org_id, Notification) == 0 and count(database, actor.org_id, EmailOutbox) == 0
    DeliveryWorker(database, email_policy=FAST).deliver(actor.org_id)
    assert mailbox.messages == []


def test_refused_once_then_retried_with_the_same_message_id(database, actor, mailbox):
    ana = person(database, actor, f"ana@{actor.org_id}.example.com", "reviewer")
    mailbox.refuse_next = 1
    with database.session(actor.org_id) as s:
        emit(s, [LifecycleEvent(kind="note_mention", org_id=actor.org_id, at=datetime.now(timezone.utc),
                                assigned_to=ana.email, title="Look at this")])
    worker = DeliveryWorker(database, email_policy=FAST)
    worker.deliver(actor.org_id)
    with database.session(actor.org_id) as s:
        row = s.scalar(select(EmailOutbox))
    assert row.status == "pending" and row.attempts == 1 and "451" in row.last_error
    assert mailbox.messages == []
    worker.deliver(actor.org_id)
    with database.session(actor.org_id) as s:
        row = s.scalar(select(EmailOutbox))
    assert row.status == "sent" and row.attempts == 2 and row.last_error is None
    assert len(mailbox.messages) == 1 and mailbox.messages[0][1]["Message-ID"] == f"<{row.id}@byte.test>"


def test_unreachable_server_is_given_up_after_the_limit_keeping_the_reason(database, actor, monkeypatch):
    monkeypatch.setenv("BYTE_SMTP_URL", f"smtp://127.0.0.1:{free_port()}")  # nobody listens there
    ana = person(database, actor, f"ana@{actor.org_id}.example.com", "reviewer")
    with database.session(actor.org_id) as s:
        emit(s, [LifecycleEvent(kind="note_mention", org_id=actor.org_id, at=datetime.now(timezone.utc),
                                assigned_to=ana.email, title="x")])
    worker = DeliveryWorker(database, email_policy=RetryPolicy(base_seconds=0.0, max_attempts=2))
    worker.deliver(actor.org_id)
    worker.deliver(actor.org_id)
    with database.session(actor.org_id) as s:
        row = s.scalar(select(EmailOutbox))
    assert row.status == "failed" and row.attempts == 2 and "cannot reach the SMTP server" in row.last_error
    status = email_status(database, actor)
    assert status.configured and status.failed == 1 and "cannot reach" in status.last_error


def test_two_workers_assigning_1000_tasks_send_each_email_exactly_once(database, actor, mailbox, contact):
    ana = person(database, actor, f"ana@{actor.org_id}.example.com", "reviewer")
    save_definition(database, actor, definition("Thousand", {"type": "user", "user": ana.email}))
    with database.session(actor.org_id) as s:
        s.execute(text("INSERT INTO workflow_executions (org_id, workflow_definition_id, contact_id, current_step_id, "
                       "current_phase_id, next_run_at) SELECT :o, d.id, :c, 't', 'p', now() FROM workflow_definitions d, "
                       "generate_series(1, 1000) WHERE d.name = 'Thousand'"), {"o": actor.org_id, "c": contact.id})
    drain_org(database, actor.org_id)
    assert count(database, actor.org_id, Notification, Notification.user_id == ana.user_id) == 1000

    workers = [DeliveryWorker(database, email_policy=FAST, batch_size=25) for _ in range(2)]
    threads = [threading.Thread(target=w.deliver, args=(actor.org_id,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ids = [m["Message-ID"] for _, m in mailbox.messages]
    with database.session(actor.org_id) as s:
        expected = {f"<{i}@byte.test>" for i in s.scalars(select(EmailOutbox.id))}
    duplicated, lost = len(ids) - len(set(ids)), len(expected - set(ids))
    print(f"\nsent={len(ids)} duplicated={duplicated} lost={lost} "
          f"(worker 1: {workers[0].stats.emails_sent}, worker 2: {workers[1].stats.emails_sent})")
    assert len(expected) == 1000 and duplicated == 0 and lost == 0
    assert all(w.stats.emails_sent > 0 for w in workers)  # both really took part


def test_preferences_choose_channels_and_a_daily_digest(database, actor, mailbox):
    ana = person(database, actor, f"ana@{actor.org_id}.example.com", "reviewer")
    set_preferences(database, ana, Preferences(in_app=("note_mention",), email=("task_created",),
                                               email_mode="digest", digest_hour=7))
    now = datetime(2026, 11, 27, 6, 30, tzinfo=timezone.utc)
    events = [LifecycleEvent(kind=kind, org_id=actor.org_id, at=now, assigned_to=ana.user_id, title=f"About {kind}")
              for kind in ("note_mention", "task_created", "task_overdue")]
    with database.session(actor.org_id) as s:
        assert emit(s, events) == (2, 0, 0)  # overdue: neither channel; mention: in-app only; created: digest only
    views, total = list_notifications(database, ana)
    assert total == 1 and views[0].kind == "note_mention"
    assert queue_digests(database, actor.org_id, now) == 0  # 06:30 is before the chosen hour
    assert queue_digests(database, actor.org_id, now + timedelta(hours=1)) == 1
    assert queue_digests(database, actor.org_id, now + timedelta(hours=2)) == 0  # once a day
    DeliveryWorker(database, email_policy=FAST).deliver(actor.org_id)
    assert len(mailbox.messages) == 1
    digest = mailbox.messages[0][1]
    assert digest["Subject"] == "BYTE daily digest: 1 notification" and "About task_created" in digest.get_body(
        ("plain",)).get_content()
    assert mark_read(database, ana, everything=True) == 1 and unread_count(database, ana) == 0


def test_mentions_notify_the_mentioned_person_but_not_the_author(database, actor, mailbox, contact):
    ana = person(database, actor, f"ana@{actor.org_id}.example.com", "reviewer")
    bob = person(database, actor, f"bob@{actor.org_id}.example.com", "reviewer")
    add_note(database, bob, "contact", contact.id, f"@{ana.email} please call; cc @{bob.email} and @nobody@example.com")
    assert unread_count(database, ana) == 1 and unread_count(database, bob) == 0
    views, _ = list_notifications(database, ana)
    assert views[0].headline == "You were mentioned" and views[0].title == "Ada Lovelace"
    assert "please call" in views[0].body


def test_due_and_overdue_reminders_fire_once_per_task(database, actor, mailbox, contact):
    ana = person(database, actor, f"ana@{actor.org_id}.example.com", "reviewer")
    save_definition(database, actor, definition("Reminders", {"type": "user", "user": ana.email}))
    start_execution(database, actor, "Reminders", "ada@example.org")  # due in 3 days
    now = datetime.now(timezone.utc)
    assert send_reminders(database, actor.org_id, now) == 0
    assert send_reminders(database, actor.org_id, now + timedelta(days=2)) == 1
    assert send_reminders(database, actor.org_id, now + timedelta(days=2, hours=1)) == 0
    assert send_reminders(database, actor.org_id, now + timedelta(days=4)) == 1
    assert send_reminders(database, actor.org_id, now + timedelta(days=5)) == 0
    kinds = [v.kind for v in list_notifications(database, ana)[0]]
    assert sorted(kinds) == ["task_created", "task_due_soon", "task_overdue"]


def test_a_failing_execution_tells_managers(database, actor, mailbox, contact):
    manager = person(database, actor, f"m@{actor.org_id}.example.com", "manager")
    reviewer = person(database, actor, f"r@{actor.org_id}.example.com", "reviewer")
    broken = definition("Broken", {"type": "user", "user": "nobody@example.com"})
    save_definition(database, actor, broken)
    start_execution(database, actor, "Broken", "ada@example.org")
    views, _ = list_notifications(database, manager)
    assert [v.kind for v in views] == ["execution_failed"] and "not an active user" in views[0].body
    assert unread_count(database, reviewer) == 0


def test_without_smtp_email_is_off_and_nothing_waits(database, actor, monkeypatch):
    monkeypatch.delenv("BYTE_SMTP_URL", raising=False)
    ana = person(database, actor, f"ana@{actor.org_id}.example.com", "reviewer")
    with database.session(actor.org_id) as s:
        assert emit(s, [LifecycleEvent(kind="task_created", org_id=actor.org_id, at=datetime.now(timezone.utc),
                                       assigned_to=ana.user_id, title="x")]) == (1, 0, 0)
    status = email_status(database, actor)
    assert not status.configured and status.pending == 0
    assert uuid.UUID(str(list_notifications(database, ana)[0][0].id))


def test_cli_sends_a_test_email(database, mailbox):
    from click.testing import CliRunner

    from byte_core.cli import cli

    slug = f"cli-{uuid.uuid4().hex[:8]}"
    CliRunner().invoke(cli, ["orgs", "add", slug, "CLI Org"], catch_exceptions=False)
    result = CliRunner().invoke(cli, ["notify", "test", "ops@example.com", "--org", slug, "--json"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert '"status": "sent"' in result.output
    (rcpt, message), = mailbox.messages
    assert rcpt == ["ops@example.com"] and message["Subject"] == "BYTE test email"
    assert PUBLIC in message.get_body(("plain",)).get_content()


def test_starttls_and_auth(database, actor, tmp_path, monkeypatch):
    """A server that demands STARTTLS before AUTH and AUTH before mail, with its own CA-less certificate
    trusted through ?cafile=."""
    import ssl
    import subprocess

    from aiosmtpd.smtp import AuthResult, LoginPassword

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (b"byte", b"s3cret:pw")
        logins.append((mechanism, ok))
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself

    box, port = Mailbox(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True,
                            authenticator=authenticator, auth_required=True)
    controller.start()
    try:
        monkeypatch.setenv("BYTE_SMTP_URL", f"smtp://byte:s3cret%3Apw@127.0.0.1:{port}?starttls=1&cafile={cert}")
        ana = person(database, actor, f"ana@{actor.org_id}.example.com", "reviewer")
        with database.session(actor.org_id) as s:
            emit(s, [LifecycleEvent(kind="note_mention", org_id=actor.org_id, at=datetime.now(timezone.utc),
                                    assigned_to=ana.email, title="Over TLS")])
        assert DeliveryWorker(database, email_policy=FAST).deliver(actor.org_id) == 1
        assert len(box.messages) == 1 and logins and all(ok for _, ok in logins)

        monkeypatch.setenv("BYTE_SMTP_URL", f"smtp://byte:wrong@127.0.0.1:{port}?starttls=1&cafile={cert}")
        with database.session(actor.org_id) as s:
            emit(s, [LifecycleEvent(kind="note_mention", org_id=actor.org_id, at=datetime.now(timezone.utc),
                                    assigned_to=ana.email, title="Wrong password")])
        DeliveryWorker(database, email_policy=FAST).deliver(actor.org_id)
        with database.session(actor.org_id) as s:
            refused = s.scalar(select(EmailOutbox).where(EmailOutbox.status != "sent"))
        assert refused.status == "failed" and "535" in refused.last_error, refused.last_error  # not retried
    finally:
        controller.stop()


def test_old_read_notifications_and_sent_records_are_pruned(database, actor, mailbox):
    from byte_core.notifications.reminders import prune

    ana = person(database, actor, f"ana@{actor.org_id}.example.com", "reviewer")
    with database.session(actor.org_id) as s:
        emit(s, [LifecycleEvent(kind="note_mention", org_id=actor.org_id, at=datetime.now(timezone.utc),
                                assigned_to=ana.email, title=f"n{i}") for i in range(3)])
    DeliveryWorker(database, email_policy=FAST).deliver(actor.org_id)
    views, _ = list_notifications(database, ana)
    mark_read(database, ana, [views[0].id, views[1].id])
    assert prune(database, actor.org_id, datetime.now(timezone.utc) + timedelta(days=31)) == 3  # the sent emails
    assert prune(database, actor.org_id, datetime.now(timezone.utc) + timedelta(days=91)) == 2  # read ones only
    assert unread_count(database, ana) == 1


@pytest.mark.slow
def test_two_scheduler_processes_deliver_1000_assignments_once_each(database, actor, mailbox, contact):
    """End to end through real scheduler processes: their engines assign 1,000 tasks, their delivery threads
    (woken by NOTIFY) send the emails; nothing is duplicated or lost."""
    import os
    import subprocess
    import sys
    import time
    from pathlib import Path

    ana = person(database, actor, f"ana@{actor.org_id}.example.com", "reviewer")
    save_definition(database, actor, definition("Thousand by schedulers", {"type": "user", "user": ana.email}))
    processes = [subprocess.Popen([sys.executable, "-m", "scheduler", "run", "--sweep-seconds", "0.5"],
                                  cwd=Path(__file__).resolve().parents[1], env=dict(os.environ),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(2)]
    try:
        with database.session(actor.org_id) as s:
            s.execute(text("INSERT INTO workflow_executions (org_id, workflow_definition_id, contact_id, "
                           "current_step_id, current_phase_id, next_run_at) SELECT :o, d.id, :c, 't', 'p', now() "
                           "FROM workflow_definitions d, generate_series(1, 1000) "
                           "WHERE d.name = 'Thousand by schedulers'"), {"o": actor.org_id, "c": contact.id})
        deadline = time.time() + 240
        while time.time() < deadline:
            mine = [m["Message-ID"] for rcpt, m in list(mailbox.messages) if rcpt == [ana.email]]
            if len(mine) >= 1000:
                break
            time.sleep(0.5)
        time.sleep(2)  # a duplicate, if any, would arrive now
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
    mine = [m["Message-ID"] for rcpt, m in list(mailbox.messages) if rcpt == [ana.email]]
    with database.session(actor.org_id) as s:
        expected = {f"<{i}@byte.test>" for i in s.scalars(select(EmailOutbox.id).where(EmailOutbox.user_id == ana.user_id))}
    duplicated, lost = len(mine) - len(set(mine)), len(expected - set(mine))
    print(f"\ntwo scheduler processes: notifications={count(database, actor.org_id, Notification)} "
          f"sent={len(mine)} duplicated={duplicated} lost={lost}")
    assert len(expected) == 1000 and duplicated == 0 and lost == 0
