"""Optional OIDC sign-in (`st.login`): with an `[auth]` section in secrets, a verified identity whose email
belongs to an active BYTE user signs in as that user; anything else is refused with a reason."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from byte_core.access import Actor
from byte_core.auth.login import revoke_sessions
from byte_core.demo import DEMO_USERS, seed_demo
from tests.test_app_pages import shown

APP = str(Path(__file__).resolve().parents[1] / "app.py")
ADMIN_EMAIL = next(email for email, roles, *_ in DEMO_USERS if roles[0] == "admin")
REVIEWER_EMAIL = next(email for email, roles, *_ in DEMO_USERS if roles[0] == "reviewer")
AUTH = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "test-cookie-secret",
        "client_id": "byte-dashboard", "client_secret": "not-used-by-apptest",
        "server_metadata_url": "https://idp.example.com/.well-known/openid-configuration"}


@pytest.fixture(scope="module")
def demo(database):
    return seed_demo(database, password_rounds=4)


def identity_app(email: str, *, verified: bool = True, issued: datetime | None = None, auth=AUTH) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    if auth is not None:
        at.secrets["auth"] = auth
    at.user = {"is_logged_in": True, "email": email, "email_verified": verified, "iss": "https://idp.example.com",
               "iat": int((issued or datetime.now(timezone.utc)).timestamp())}
    at.run()
    assert not at.exception, at.exception
    return at


def test_a_verified_identity_signs_in_as_the_matching_user(demo):
    at = identity_app(ADMIN_EMAIL.upper())
    assert at.title[0].value.startswith("Welcome")
    assert at.session_state["actor"].email == ADMIN_EMAIL
    assert "Alex Admin" in [m.value for m in at.sidebar.markdown][0]  # the sidebar names the person
    # The same server-side session as a password sign-in, so it is listed and revocable like one.
    assert at.session_state["session_id"] and any("/api/session/start?code=" in h.value for h in at.html)


def test_signing_out_also_ends_the_identity(demo):
    at = identity_app(ADMIN_EMAIL)
    assert at.sidebar.button[0].label == "Sign out" and at.session_state["via_identity"]
    # The button's on_click sets sign_out_requested, handled by app.py at the top of the next run. AppTest
    # reruns only the page script of a multipage app after its first run, so that next run is a fresh
    # AppTest carrying the same session; the click itself is exercised by the browser test.
    after = AppTest.from_file(APP, default_timeout=30)
    after.secrets["auth"], after.user = AUTH, dict(at.user)
    for key in ("actor", "session_id", "via_identity"):
        after.session_state[key] = at.session_state[key]
    after.session_state["sign_out_requested"] = True
    after.run()
    assert after.user == {"is_logged_in": False}  # st.logout() ran, so the next visit does not sign straight in
    assert after.subheader[0].value == "Sign in" and "actor" not in after.session_state


def test_unknown_and_unverified_emails_are_refused_and_the_password_form_stays(demo):
    at = identity_app("stranger@elsewhere.example.com")
    assert "There is no BYTE account for stranger@elsewhere.example.com" in shown(at.error[0].value)
    assert at.subheader[0].value == "Sign in" and at.button(key="sso_logout")
    at = identity_app(ADMIN_EMAIL, verified=False)
    assert "has not verified" in at.error[0].value


def test_without_an_auth_section_the_identity_is_ignored(demo):
    at = identity_app(ADMIN_EMAIL, auth=None)
    assert at.subheader[0].value == "Sign in" and not at.error
    assert not [b for b in at.button if b.key and b.key.startswith("sso_")]


def test_the_sign_in_page_offers_each_configured_provider(demo):
    at = AppTest.from_file(APP, default_timeout=30)
    at.secrets["auth"] = {"redirect_uri": AUTH["redirect_uri"], "cookie_secret": "x",
                          "okta": {k: v for k, v in AUTH.items() if k.startswith(("client", "server"))}}
    at.user = {"is_logged_in": False}
    at.run()
    assert at.button(key="sso_okta").label == "Sign in with Okta"


def test_an_identity_issued_before_a_revocation_is_refused(demo, database):
    issued = datetime.now(timezone.utc) - timedelta(minutes=5)
    revoke_sessions(database, Actor.system(demo.org_id, label="test"), REVIEWER_EMAIL)
    at = identity_app(REVIEWER_EMAIL, issued=issued)
    assert "earlier sessions were ended" in at.error[0].value
    at = identity_app(REVIEWER_EMAIL, issued=datetime.now(timezone.utc) + timedelta(seconds=2))
    assert at.title[0].value.startswith("Welcome")
