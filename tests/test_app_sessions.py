"""The browser session in the app (AppTest): sign-in sends the browser through /api/session/start, a new
browser session is signed in by its cookie alone, a bad cookie is a sign-in page (never an error), sign-out
ends the row and clears the cookie, and My account / Users list and end sessions (issue [C] 4-5)."""
from __future__ import annotations

import re
from contextlib import contextmanager
from types import SimpleNamespace
from unittest import mock

import pytest
from streamlit.testing.v1 import AppTest

from byte_core.access import Actor
from byte_core.auth.sessions import COOKIE_NAME, list_sessions, redeem_handoff, session_actor
from byte_core.db import get_database
from byte_core.demo import seed_demo
from tests.test_app_pages import APP, ROLE_PASSWORD, signed_in

START = re.compile(r'window\.location\.replace\("(/api/session/start\?code=([A-Za-z0-9_-]+)&next=[^"]*)"\)')


@pytest.fixture(scope="module")
def demo(database):
    return seed_demo(database, password_rounds=4)


@contextmanager
def browser_cookies(cookies: dict):
    """What st.context reads from the browser's WebSocket handshake (AppTest has no browser to send it)."""
    client = SimpleNamespace(cookies=cookies, headers=[("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Firefox/131.0")],
                             remote_ip="10.1.2.3")
    with mock.patch("streamlit.runtime.context._get_client_context", return_value=client):
        yield


def cookie_for(at: AppTest) -> str:
    """Follow the sign-in's trip through /api/session/start as the browser would: the cookie's token."""
    match = next(m for m in (START.search(h.value) for h in at.html) if m)
    token = redeem_handoff(get_database(), match.group(2))
    assert token
    return token


def test_sign_in_sends_the_browser_to_session_start_and_writes_no_cookie_from_javascript(demo):
    at = signed_in("reviewer")
    assert at.title[0].value.startswith("Welcome")
    scripts = [h.value for h in at.html]
    assert any(START.search(s) for s in scripts), scripts
    assert not any("document.cookie" in s for s in scripts)


def test_a_new_browser_session_is_signed_in_by_its_cookie_alone(demo, database):
    token = cookie_for(signed_in("manager"))
    with browser_cookies({COOKIE_NAME: token}):
        at = AppTest.from_file(APP, default_timeout=30)
        at.run()
    assert not at.exception and at.title[0].value.startswith("Welcome")
    assert at.session_state["actor"].email == ROLE_PASSWORD["manager"][0]
    assert not at.html  # nothing more to set


@pytest.mark.parametrize("cookie", ["garbage", "A" * 43, "eyJhbGciOiJub25lIn0.eyJ1c2VybmFtZSI6ImEifQ.", "%" * 5000])
def test_an_unreadable_or_forged_cookie_shows_the_sign_in_page(demo, cookie):
    with browser_cookies({COOKIE_NAME: cookie}):
        at = AppTest.from_file(APP, default_timeout=30)
        at.run()
    assert not at.exception, at.exception
    assert at.subheader[0].value == "Sign in" and not at.error


def test_signing_out_ends_the_row_and_sends_the_browser_to_clear_the_cookie(demo, database):
    at = signed_in("hr")
    actor, session_id = at.session_state["actor"], at.session_state["session_id"]
    # The button's on_click sets sign_out_requested, handled by app.py at the top of the next run; AppTest
    # reruns only the page script after the first run, so that next run is a fresh AppTest with the session.
    after = AppTest.from_file(APP, default_timeout=30)
    after.session_state["actor"], after.session_state["session_id"] = actor, session_id
    after.session_state["sign_out_requested"] = True
    after.run()
    assert after.subheader[0].value == "Sign in" and "actor" not in after.session_state
    assert any('"/api/session/end?next=/"' in h.value for h in after.html)
    assert session_actor(database, actor.org_id, session_id) is None


def test_a_revoked_session_ends_at_the_next_run_with_a_reason(demo, database):
    from byte_core.auth.login import revoke_sessions

    at = signed_in("hr")
    revoke_sessions(database, Actor.system(demo.org_id, label="test"), at.session_state["actor"].email)
    after = AppTest.from_file(APP, default_timeout=30)
    after.session_state["actor"] = at.session_state["actor"]
    after.session_state["session_id"] = at.session_state["session_id"]
    after.run()
    assert "Your session ended" in after.warning[0].value
    assert after.subheader[0].value == "Sign in" and "actor" not in after.session_state


def test_my_account_lists_my_devices_and_signs_out_another_one(demo, database):
    other = signed_in("manager")
    at = signed_in("manager")
    at.switch_page("pages/account.py").run()
    assert not at.exception, at.exception
    assert "(this device)" in " ".join(at.dataframe[0].value["device"])
    at.selectbox(key="account_device").set_value(other.session_state["session_id"])
    at.button(key="account_device_out").click().run()
    assert not at.exception and any("Signed out" in s.value for s in at.success)
    assert session_actor(database, demo.org_id, other.session_state["session_id"]) is None
    assert session_actor(database, demo.org_id, at.session_state["session_id"]) is not None


def test_an_admin_signs_a_user_out_of_one_device_from_users(demo, database):
    victim = signed_in("reviewer")
    email = victim.session_state["actor"].email
    at = signed_in("admin")
    at.switch_page("pages/users.py").run()
    at.selectbox(key="users_target").set_value(email).run()
    at.selectbox(key="users_device").set_value(victim.session_state["session_id"]).run()
    at.button(key="users_device_out").click().run()
    assert not at.exception, at.exception
    assert any("is signed out of" in s.value for s in at.success)
    assert session_actor(database, demo.org_id, victim.session_state["session_id"]) is None
    admin = at.session_state["actor"]
    assert victim.session_state["session_id"] not in {s.id for s in list_sessions(database, admin, email)}
