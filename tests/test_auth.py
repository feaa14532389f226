"""Sign-in rules that streamlit-authenticator lacks (DESIGN.md §5), on the real database: lockout kept in
the database, the same answer and the same work for unknown users, audit, and sessions that end when a
password changes, an admin revokes them or the account is deactivated."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from unittest import mock

import pytest
from sqlalchemy import select

from byte_core.access import Actor
from byte_core.auth import passwords
from byte_core.auth.login import (MAX_FAILURES, WINDOW, WRONG, authenticate, change_password, reset_password,
                                  revoke_sessions, session_still_valid, user_entity_id)
from byte_core.errors import InvalidInput, PermissionDenied
from byte_core.models import ActivityLog, LoginAttempt, User
from byte_core.users import add_user, deactivate

PASSWORD = "correct horse battery"


@pytest.fixture
def person(database, actor):
    user = add_user(database, actor, f"p-{uuid.uuid4().hex[:8]}@example.org", "reviewer", password=PASSWORD,
                    password_rounds=4)
    return Actor(actor.org_id, user.id, frozenset(["reviewer"]), user.email)


def attempts(database, org_id: str, email: str) -> list[tuple[bool, str | None]]:
    with database.session(org_id) as session:
        return [tuple(r) for r in session.execute(select(LoginAttempt.was_successful, LoginAttempt.failure_reason)
                                                  .where(LoginAttempt.email == email)
                                                  .order_by(LoginAttempt.created_at)).all()]


def test_five_failures_lock_the_address_until_the_window_passes(database, person):
    start = datetime.now(timezone.utc).replace(microsecond=0)
    for minute in range(MAX_FAILURES):
        result = authenticate(database, person.email, "wrong password!", now=start + timedelta(minutes=minute))
        assert not result.ok and result.message.startswith(WRONG)
    locked = authenticate(database, person.email, PASSWORD, now=start + timedelta(minutes=5))
    authenticate(database, person.email, PASSWORD, now=start + timedelta(minutes=14))  # refused; no extension
    until = start + WINDOW  # the first of the five failures leaves the window then
    assert not locked.ok and locked.locked_until == until
    assert locked.message == f"Too many failed sign-ins. Try again at {until:%H:%M} UTC."
    assert authenticate(database, person.email, PASSWORD, now=until + timedelta(seconds=1)).ok
    reasons = [reason for ok, reason in attempts(database, person.org_id, person.email)]
    assert reasons == ["INVALID_PASSWORD"] * MAX_FAILURES + ["ACCOUNT_LOCKED"] * 2 + [None]


def test_the_warning_counts_down_before_the_lockout(database, person):
    start = datetime.now(timezone.utc)
    messages = [authenticate(database, person.email, "wrong password!", now=start + timedelta(seconds=i)).message
                for i in range(MAX_FAILURES - 1)]
    assert messages[:2] == [WRONG, WRONG]
    assert messages[2].endswith("2 attempts left before a 15-minute lockout.")
    assert messages[3].endswith("1 attempt left before a 15-minute lockout.")


def test_an_unknown_user_gets_the_same_answer_after_the_same_work(database, person):
    unknown = f"nobody-{uuid.uuid4().hex[:6]}@example.org"
    with mock.patch.object(passwords.bcrypt, "checkpw", wraps=passwords.bcrypt.checkpw) as checked:
        missing = authenticate(database, unknown, "whatever it is")
        wrong = authenticate(database, person.email, "whatever it is")
    assert missing.message == wrong.message == WRONG
    assert checked.call_count == 2  # a bcrypt check against a dummy hash for the unknown address too
    assert attempts(database, person.org_id, person.email) == [(False, "INVALID_PASSWORD")]


def test_a_sign_in_is_audited_in_the_users_organization(database, person):
    result = authenticate(database, f"  {person.email.upper()} ", PASSWORD, ip="10.0.0.7")
    assert result.ok and result.actor.user_id == person.user_id and result.actor.roles == {"reviewer"}
    with database.session(person.org_id) as session:
        row = session.scalars(select(ActivityLog).where(ActivityLog.entity_id == user_entity_id(person.user_id),
                                                        ActivityLog.action == "signed_in")).one()
    assert row.details == {"ip": "10.0.0.7"}


def test_a_password_change_ends_earlier_sessions_and_keeps_the_new_one(database, person):
    before = datetime.now(timezone.utc) - timedelta(minutes=1)
    with database.session(person.org_id) as session:  # the account is older than the session
        session.get(User, person.user_id).password_changed_at = before - timedelta(days=3)
    assert session_still_valid(database, person.email, before) is not None
    with pytest.raises(InvalidInput, match="current password is not correct"):
        change_password(database, person, "not my password", "a brand new passphrase")
    with pytest.raises(InvalidInput, match="too short"):
        change_password(database, person, PASSWORD, "short")
    change_password(database, person, PASSWORD, "a brand new passphrase")
    assert session_still_valid(database, person.email, before) is None
    assert session_still_valid(database, person.email, datetime.now(timezone.utc)) is not None
    assert not authenticate(database, person.email, PASSWORD).ok
    assert authenticate(database, person.email, "a brand new passphrase").ok


def test_only_an_admin_resets_passwords_or_revokes_sessions(database, actor, person):
    with pytest.raises(PermissionDenied):
        reset_password(database, person, person.email, "another long passphrase")
    with pytest.raises(PermissionDenied):
        revoke_sessions(database, person, person.email)
    before = datetime.now(timezone.utc) - timedelta(minutes=1)
    revoke_sessions(database, actor, person.email)
    assert session_still_valid(database, person.email, before) is None
    reset_password(database, actor, person.email, "reset by the admin 1")
    assert authenticate(database, person.email, "reset by the admin 1").ok


def test_a_deactivated_account_cannot_sign_in_and_its_sessions_end(database, actor, person):
    deactivate(database, actor, person.email)
    result = authenticate(database, person.email, PASSWORD)
    assert not result.ok and "deactivated" in result.message
    assert session_still_valid(database, person.email, datetime.now(timezone.utc)) is None


def test_a_signed_out_session_stays_ended_while_the_users_other_sessions_go_on(database, person):
    from byte_core.auth.login import end_session

    this_browser = datetime.now(timezone.utc)
    other_browser = this_browser + timedelta(seconds=3)
    long_ago = this_browser - timedelta(days=2)
    end_session(database, person, long_ago, keep_for=timedelta(hours=12))
    end_session(database, person, this_browser, keep_for=timedelta(hours=12))
    assert session_still_valid(database, person.email, this_browser) is None  # even if its cookie survived
    assert session_still_valid(database, person.email, other_browser) is not None
    with database.session(person.org_id) as session:
        user = session.get(User, person.user_id)
        assert user.ended_sessions == [this_browser]  # the two-day-old entry was pruned: its cookie expired
        actions = session.scalars(select(ActivityLog.action).where(
            ActivityLog.entity_id == user_entity_id(person.user_id))).all()
    assert actions.count("signed_out") == 2
