"""Sign-in rules on the real database: lockout kept in the database and decided under a per-email lock, the
same answer and the same work for unknown users, bcrypt's 72-byte limit, audit, and sessions that end when
a password changes, an admin revokes them or the account is deactivated (issue [C] 1-3)."""
from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from unittest import mock

import pytest
from sqlalchemy import select

from byte_core.access import Actor
from byte_core.auth import passwords
from byte_core.auth.login import (MAX_FAILURES, WINDOW, WRONG, LoginResult, authenticate, change_password,
                                  reset_password, revoke_sessions, user_entity_id)
from byte_core.auth.passwords import MAX_BYTES
from byte_core.auth.sessions import session_actor
from byte_core.errors import InvalidInput, PermissionDenied
from byte_core.models import ActivityLog, LoginAttempt
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


def live(database, result):
    """The actor of a sign-in's session while it lasts, else None."""
    return session_actor(database, result.actor.org_id, result.session.id)


def test_parallel_sign_ins_check_at_most_five_passwords_and_the_right_one_is_refused(database, actor):
    """Issue [C] 1: 20 sign-ins at once (19 wrong, the right one last) for one email. The count of failures
    and the password check happen under one lock per email, so only five passwords are ever checked."""
    email = f"race-{uuid.uuid4().hex[:8]}@example.org"
    add_user(database, actor, email, "reviewer", password=PASSWORD, password_rounds=10)  # slow, as in production
    start = threading.Barrier(20)

    def sign_in(password: str, delay: float) -> LoginResult:
        start.wait()
        time.sleep(delay)
        return authenticate(database, email, password)

    with mock.patch.object(passwords.bcrypt, "checkpw", wraps=passwords.bcrypt.checkpw) as checked:
        with ThreadPoolExecutor(max_workers=20) as pool:
            wrong = [pool.submit(sign_in, f"wrong password {i}", 0) for i in range(19)]
            right = pool.submit(sign_in, PASSWORD, 0.3)
            results = [f.result() for f in wrong] + [right.result()]
    assert checked.call_count == MAX_FAILURES
    assert sum(r.message.startswith(WRONG) for r in results) == MAX_FAILURES
    assert not results[-1].ok and results[-1].message.startswith("Too many failed sign-ins")
    reasons = [reason for _ok, reason in attempts(database, actor.org_id, email)]
    assert sorted(reasons) == sorted(["INVALID_PASSWORD"] * MAX_FAILURES + ["ACCOUNT_LOCKED"] * 15)


def test_a_password_over_72_bytes_never_signs_in_even_when_its_first_72_bytes_are_right(database, actor):
    """Issue [C] 2: bcrypt reads 72 bytes; a longer password used to be checked on those alone."""
    email = f"long-{uuid.uuid4().hex[:8]}@example.org"
    exact = "a-72-byte-passphrase-".ljust(MAX_BYTES, "x")
    add_user(database, actor, email, "reviewer", password=exact, password_rounds=4)
    with mock.patch.object(passwords.bcrypt, "checkpw", wraps=passwords.bcrypt.checkpw) as checked:
        longer = authenticate(database, email, exact + "y")
        huge = authenticate(database, email, exact + "z" * 1_000_000)
    assert not longer.ok and not huge.ok and longer.message.startswith(WRONG)
    assert checked.call_count == 2  # a failure that costs the same work as any other
    assert authenticate(database, email, exact).ok


@pytest.mark.parametrize("too_long", ["é" * 37, "p" * 73, "🔑" * 19])  # 74, 73 and 76 bytes; 37, 73, 19 characters
def test_every_way_to_set_a_password_refuses_more_than_72_bytes(database, org, actor, person, too_long):
    from click.testing import CliRunner

    from byte_core.cli import cli

    message = "password too long: at most 72 bytes in UTF-8"
    with pytest.raises(InvalidInput, match=message):
        add_user(database, actor, f"x-{uuid.uuid4().hex[:6]}@example.org", "reviewer", password=too_long)
    with pytest.raises(InvalidInput, match=message):
        reset_password(database, actor, person.email, too_long)
    with pytest.raises(InvalidInput, match=message):
        change_password(database, person, PASSWORD, too_long)
    slug = org.slug
    for args in (["users", "add", f"y-{uuid.uuid4().hex[:6]}@example.org", "--roles", "hr", "--password", too_long],
                 ["users", "reset-password", person.email, "--password", too_long]):
        outcome = CliRunner().invoke(cli, [*args, "--org", slug])
        assert outcome.exit_code == 1 and message in outcome.output, outcome.output
    assert authenticate(database, person.email, PASSWORD).ok  # nothing was changed


def test_ending_sessions_takes_effect_at_once_with_no_clock_in_the_comparison(database, actor, person):
    """Issue [C] 3: a session issued less than a second before a password change or a revocation used to
    stay valid (issue times compared at whole seconds). Now the rows themselves end."""
    here, elsewhere = authenticate(database, person.email, PASSWORD), authenticate(database, person.email, PASSWORD)
    assert live(database, here) and live(database, elsewhere)
    change_password(database, person, PASSWORD, "a brand new passphrase", keep_session=here.session.id)
    assert live(database, elsewhere) is None  # issued milliseconds before the change
    assert live(database, here) is not None  # the browser that changed it stays signed in
    assert not authenticate(database, person.email, PASSWORD).ok

    again = authenticate(database, person.email, "a brand new passphrase")
    revoke_sessions(database, actor, person.email)
    assert live(database, again) is None and live(database, here) is None
    after = authenticate(database, person.email, "a brand new passphrase")
    assert live(database, after) is not None  # signing in again after a revocation works at once
    reset_password(database, actor, person.email, "reset by the admin 1")
    assert live(database, after) is None


def test_only_an_admin_resets_passwords_or_revokes_sessions(database, actor, person):
    with pytest.raises(PermissionDenied):
        reset_password(database, person, person.email, "another long passphrase")
    with pytest.raises(PermissionDenied):
        revoke_sessions(database, person, person.email)
    reset_password(database, actor, person.email, "reset by the admin 1")
    assert authenticate(database, person.email, "reset by the admin 1").ok


def test_a_deactivated_account_cannot_sign_in_and_its_sessions_end(database, actor, person):
    signed_in = authenticate(database, person.email, PASSWORD)
    deactivate(database, actor, person.email)
    result = authenticate(database, person.email, PASSWORD)
    assert not result.ok and "deactivated" in result.message
    assert live(database, signed_in) is None


def test_roles_are_read_fresh_on_every_check(database, actor, person):
    from byte_core.users import set_roles

    signed_in = authenticate(database, person.email, PASSWORD)
    set_roles(database, actor, person.email, "reviewer,hr")
    assert live(database, signed_in).roles == {"reviewer", "hr"}
