"""The notification pages under AppTest: the sidebar count, the Notifications page, preferences on My
account, the Users page's email status and the Integrations page."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from byte_core.access import Actor
from byte_core.notifications import LifecycleEvent, emit
from byte_core.notifications.inbox import get_preferences, unread_count
from byte_core.notifications.webhooks import list_endpoints
from byte_core.users import add_user

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PASSWORD = "notify-pages-2026"


@pytest.fixture
def people(database, actor, monkeypatch):
    monkeypatch.delenv("BYTE_SMTP_URL", raising=False)
    made = {}
    for role in ("admin", "reviewer"):
        user = add_user(database, actor, f"{role}-{uuid.uuid4().hex[:6]}@pages.example.com", [role],
                        password=PASSWORD, password_rounds=4)
        made[role] = Actor(actor.org_id, user.id, frozenset([role]), user.email)
    return made


def signed_in(person: Actor) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    at.run()
    at.text_input[0].input(person.email)
    at.text_input[1].input(PASSWORD)
    at.button[0].click()
    at.run()
    assert not at.exception, at.exception
    return at


def open_page(at: AppTest, file: str) -> AppTest:
    at.switch_page(f"pages/{file}")
    at.run()
    assert not at.exception, (file, at.exception)
    return at


def test_notifications_page_lists_and_marks_read(database, actor, people):
    reviewer = people["reviewer"]
    with database.session(actor.org_id) as s:
        emit(s, [LifecycleEvent(kind="note_mention", org_id=actor.org_id, at=datetime.now(timezone.utc),
                                assigned_to=reviewer.email, title="**Bold** <script>", details={"body": "see this"})])
    at = open_page(signed_in(reviewer), "notifications.py")
    text = " ".join(m.value for m in at.markdown)
    assert "You were mentioned" in text and "\\*\\*Bold\\*\\*" in text  # typed text is escaped, not rendered
    next(b for b in at.button if b.label == "Mark read").click()
    at.run()
    assert unread_count(database, reviewer) == 0


def test_preferences_are_saved_from_my_account(database, actor, people):
    reviewer = people["reviewer"]
    at = open_page(signed_in(reviewer), "account.py")
    assert any("Email is off on this server" in c.value for c in at.caption)
    at.checkbox(key="pref_email_task_created").uncheck()
    at.radio[0].set_value("digest")
    next(b for b in at.button if b.label == "Save notification settings").click()
    at.run()
    prefs = get_preferences(database, reviewer)
    assert "task_created" not in prefs.email and prefs.email_mode == "digest"


def test_users_page_says_email_is_off_and_integrations_adds_an_endpoint(database, actor, people):
    at = open_page(signed_in(people["admin"]), "users.py")
    assert any("Email is off" in i.value for i in at.info)
    open_page(at, "integrations.py")
    at.text_input[0].input("https://hooks.example.com/byte")
    next(b for b in at.button if b.label == "Add endpoint").click()
    at.run()
    assert not at.exception, at.exception
    endpoint, = list_endpoints(database, people["admin"])
    assert endpoint.url == "https://hooks.example.com/byte"
    assert any("shown this once" in s.value for s in at.success)


def test_open_the_task_shows_it_in_context(database, actor, people):
    from byte_core.models import Contact, Task

    reviewer = people["reviewer"]
    with database.session(actor.org_id) as s:
        contact = Contact(org_id=actor.org_id, first_name="Grace", last_name="Hopper", email="grace@example.org")
        s.add(contact)
        s.flush()
        task = Task(org_id=actor.org_id, title="Call Grace", contact_id=contact.id, assigned_role="reviewer")
        s.add(task)
        s.flush()
        emit(s, [LifecycleEvent(kind="task_created", org_id=actor.org_id, at=datetime.now(timezone.utc),
                                task_id=task.id, assigned_role="reviewer")])
    at = open_page(signed_in(reviewer), "notifications.py")
    assert any("Call Grace" in m.value for m in at.markdown)  # the title comes from the task
    next(b for b in at.button if b.label == "Open the task").click()
    at.run()
    assert not at.exception, at.exception
    assert any("Grace Hopper" in m.value for m in at.markdown)
    assert any(b.label == "Work on it in the Task queue" for b in at.button)
    assert unread_count(database, reviewer) == 0
