"""Server-side sessions (issue [C] 4-5): a random token in an HttpOnly cookie, only its SHA-256 in
`user_sessions`; the handoff code that leads to it is one-time and short-lived; the /api/ routes set and
clear the cookie with the right attributes; anything that is not a live token means "signed out"."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import datetime, timedelta, timezone
from http.cookies import SimpleCookie

import pytest
from sqlalchemy import select, update
from starlette.applications import Starlette
from starlette.testclient import TestClient

from byte_core.access import Actor
from byte_core.auth.http import routes
from byte_core.auth.login import authenticate
from byte_core.auth.sessions import (COOKIE_NAME, HANDOFF_TTL, LIFETIME, device_label, digest, end_session,
                                     list_sessions, redeem_handoff, session_actor, session_for_token,
                                     sign_out_everywhere)
from byte_core.errors import NotFound, PermissionDenied
from byte_core.models import ActivityLog, UserSession
from byte_core.users import add_user

from tests.test_auth import PASSWORD, person  # noqa: F401 - `person` is a fixture


@pytest.fixture
def client(database):
    with TestClient(Starlette(routes=routes), base_url="http://127.0.0.1", follow_redirects=False) as test_client:
        yield test_client


def sign_in(database, person):
    result = authenticate(database, person.email, PASSWORD, ip="127.0.0.1", user_agent="Mozilla/5.0 (X11; Linux "
                          "x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0 Safari/537.36")
    assert result.ok
    return result


def row(database, org_id, session_id) -> UserSession:
    with database.session(org_id) as session:
        return session.get(UserSession, session_id)


def test_only_hashes_are_stored_and_the_handoff_code_works_once(database, person):
    result = sign_in(database, person)
    stored = row(database, person.org_id, result.session.id)
    assert stored.handoff_hash == digest(result.session.handoff_code) and stored.token_hash is None
    token = redeem_handoff(database, result.session.handoff_code)
    assert token and token != result.session.handoff_code
    stored = row(database, person.org_id, result.session.id)
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest() and stored.handoff_hash is None
    assert token not in {str(v) for v in vars(stored).values()}  # the token itself is nowhere in the row
    assert redeem_handoff(database, result.session.handoff_code) is None  # used up
    found = session_for_token(database, token)
    assert found is not None and found[0] == result.session.id and found[1].user_id == person.user_id


def test_a_handoff_code_expires_and_a_revoked_session_cannot_redeem_it(database, person):
    late = sign_in(database, person)
    assert redeem_handoff(database, late.session.handoff_code,
                          now=datetime.now(timezone.utc) + HANDOFF_TTL + timedelta(seconds=1)) is None
    ended = sign_in(database, person)
    end_session(database, person, ended.session.id)
    assert redeem_handoff(database, ended.session.handoff_code) is None


def test_session_start_sets_an_httponly_lax_cookie_and_returns_to_a_local_path(database, person, client):
    code = sign_in(database, person).session.handoff_code
    response = client.get("/api/session/start", params={"code": code, "next": "/tasks?view=mine"})
    assert response.status_code == 303 and response.headers["location"] == "/tasks?view=mine"
    header = response.headers["set-cookie"]
    cookie = SimpleCookie(header)[COOKIE_NAME]
    assert cookie["httponly"] and cookie["samesite"].lower() == "lax" and cookie["path"] == "/"
    assert not cookie["secure"] and int(cookie["max-age"]) == 12 * 3600
    assert session_for_token(database, cookie.value) is not None
    assert response.headers["cache-control"] == "no-store" and response.headers["referrer-policy"] == "no-referrer"


def test_the_cookie_is_secure_behind_an_https_proxy(database, person, client):
    code = sign_in(database, person).session.handoff_code
    response = client.get("/api/session/start", params={"code": code, "next": "/"},
                          headers={"X-Forwarded-Proto": "https"})
    assert SimpleCookie(response.headers["set-cookie"])[COOKIE_NAME]["secure"]


def test_no_cookie_for_a_cross_site_trip_or_a_bad_code_and_never_a_redirect_elsewhere(database, person, client):
    code = sign_in(database, person).session.handoff_code
    cross_site = client.get("/api/session/start", params={"code": code, "next": "/"},
                            headers={"Sec-Fetch-Site": "cross-site"})
    assert cross_site.status_code == 303 and "set-cookie" not in cross_site.headers
    assert redeem_handoff(database, code) is not None  # the cross-site trip did not use the code up
    for bad in ("", "nope", "x" * 5000, code):  # the last one is used up now
        response = client.get("/api/session/start", params={"code": bad, "next": "/"})
        assert response.status_code == 303 and "set-cookie" not in response.headers
    elsewhere = client.get("/api/session/end", params={"next": "https://evil.example/"})
    assert elsewhere.headers["location"] == "/"


def test_session_end_clears_the_cookie(client):
    response = client.get("/api/session/end", params={"next": "/"})
    cookie = SimpleCookie(response.headers["set-cookie"])[COOKIE_NAME]
    assert response.status_code == 303 and cookie.value == "" and int(cookie["max-age"]) == 0 and cookie["httponly"]


def _forged_jwt(alg: str) -> str:
    """A cookie in the shape the old streamlit-authenticator JWT had, signed with a key nobody holds."""
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    head = b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    body = b64(json.dumps({"username": "admin@demo.example.com", "exp_date": 4102444800}).encode())
    signature = "" if alg == "none" else b64(hmac.new(b"guess", f"{head}.{body}".encode(), hashlib.sha512).digest())
    return f"{head}.{body}.{signature}"


@pytest.mark.parametrize("cookie", [None, "", "garbage", "x" * 43, "é" * 43, "a" * 100_000, "\x00" * 43,
                                    "'; DROP TABLE user_sessions; --", 12345, b"bytes", _forged_jwt("none"),
                                    _forged_jwt("HS512")])
def test_an_unreadable_or_forged_cookie_is_simply_signed_out(database, cookie):
    """Issue [C] 5: a forged cookie (alg=none, HS512) used to raise InvalidAlgorithmError on the page."""
    assert session_for_token(database, cookie) is None
    assert redeem_handoff(database, cookie) is None


def test_a_session_ends_after_its_lifetime_and_notes_activity_at_most_once_a_minute(database, person):
    result = sign_in(database, person)
    created = row(database, person.org_id, result.session.id).created_at
    assert session_actor(database, person.org_id, result.session.id, now=created + timedelta(seconds=30))
    assert row(database, person.org_id, result.session.id).last_seen_at == created  # no write on every click
    assert session_actor(database, person.org_id, result.session.id, now=created + timedelta(minutes=2))
    assert row(database, person.org_id, result.session.id).last_seen_at == created + timedelta(minutes=2)
    assert session_actor(database, person.org_id, result.session.id, now=created + LIFETIME) is None


def test_long_ended_sessions_are_pruned_at_the_users_next_sign_in(database, person):
    old, recent = sign_in(database, person), sign_in(database, person)
    end_session(database, person, old.session.id)
    end_session(database, person, recent.session.id)
    with database.session(person.org_id) as session:
        session.get(UserSession, old.session.id).revoked_at = datetime.now(timezone.utc) - timedelta(days=31)
    sign_in(database, person)
    assert row(database, person.org_id, old.session.id) is None
    assert row(database, person.org_id, recent.session.id) is not None  # kept a while for the audit


def test_a_token_guessed_in_the_right_shape_finds_nothing(database, person):
    result = sign_in(database, person)
    token = redeem_handoff(database, result.session.handoff_code)
    assert session_for_token(database, token[:-1] + ("A" if token[-1] != "A" else "B")) is None


def test_my_sessions_are_listed_and_ended_one_by_one_or_everywhere(database, person):
    here, there, third = sign_in(database, person), sign_in(database, person), sign_in(database, person)
    listed = list_sessions(database, person)
    assert {s.id for s in listed} == {here.session.id, there.session.id, third.session.id}
    assert device_label(listed[0].user_agent) == "Chrome on Linux" and listed[0].ip == "127.0.0.1"
    end_session(database, person, there.session.id, reason="revoked")
    assert {s.id for s in list_sessions(database, person)} == {here.session.id, third.session.id}
    assert sign_out_everywhere(database, person) == 2
    assert list_sessions(database, person) == []
    with database.session(person.org_id) as session:
        actions = session.scalars(select(ActivityLog.action).where(ActivityLog.user_id == person.user_id)).all()
    assert actions.count("session_revoked") == 1 and actions.count("sessions_revoked") == 1


def test_only_an_admin_sees_or_ends_someone_elses_sessions(database, actor, person):
    other = Actor(person.org_id, add_user(database, actor, f"o-{uuid.uuid4().hex[:8]}@example.org", "reviewer",
                                          password=PASSWORD, password_rounds=4).id, frozenset(["reviewer"]))
    result = sign_in(database, person)
    with pytest.raises(PermissionDenied):
        list_sessions(database, other, person.email)
    with pytest.raises(NotFound):
        end_session(database, other, result.session.id)
    assert [s.id for s in list_sessions(database, actor, person.email)] == [result.session.id]
    end_session(database, actor, result.session.id, reason="revoked")
    assert list_sessions(database, actor, person.email) == []


def test_another_organization_cannot_see_or_end_my_session(database, person):
    from tests.conftest import new_org

    stranger = Actor.system(new_org(database).id)
    result = sign_in(database, person)
    with database.session(stranger.org_id) as session:  # row-level security, below the services
        assert session.scalar(select(UserSession).where(UserSession.id == result.session.id)) is None
        assert session.execute(update(UserSession).where(UserSession.id == result.session.id)
                               .values(revoked_at=datetime.now(timezone.utc), revoked_reason="x")).rowcount == 0
    with pytest.raises(NotFound):
        end_session(database, stranger, result.session.id)
    with pytest.raises(NotFound):
        list_sessions(database, stranger, person.email)
    assert list_sessions(database, person)
