"""Server-side sessions (issue [C] 3-5). The browser holds a random token in an HttpOnly cookie; the server
keeps only its SHA-256 in `user_sessions`, so ending a session is changing a row, effective at the next
request with no clock comparison, and a cookie that is not a live token is simply "signed out".

Sign-in creates the row together with a one-time handoff code (valid `HANDOFF_TTL`); the page sends the
browser to /api/session/start with it (byte_core/auth/http.py), which mints the token and sets the cookie.
"""
from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import select, text, update

from ..access import Actor, require_role
from ..db import Database
from ..errors import NotFound, PermissionDenied
from ..models import User, UserSession
from .accounts import actor_of, audit_account

COOKIE_NAME = "byte_session"
LIFETIME = timedelta(hours=12)  # absolute: a session never outlives a working day
HANDOFF_TTL = timedelta(seconds=60)
TOUCH_EVERY = timedelta(minutes=1)  # last_seen_at is written at most this often, not on every click
KEEP_ENDED = timedelta(days=30)  # ended rows stay this long for the account pages, then are pruned
# What secrets.token_urlsafe(32) produces; anything else is refused before touching the database.
_SECRET_SHAPE = re.compile(r"[A-Za-z0-9_-]{40,64}")


@dataclass(frozen=True)
class IssuedSession:
    id: uuid.UUID
    handoff_code: str


@dataclass(frozen=True)
class SessionInfo:
    id: uuid.UUID
    user_email: str
    created_at: datetime
    last_seen_at: datetime
    ip: str | None
    user_agent: str | None


_BROWSERS = (("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"), ("Chromium/", "Chromium"),
             ("Chrome/", "Chrome"), ("Safari/", "Safari"))
_SYSTEMS = (("Windows", "Windows"), ("Android", "Android"), ("iPhone", "iOS"), ("iPad", "iOS"),
            ("Mac OS X", "macOS"), ("CrOS", "ChromeOS"), ("Linux", "Linux"))


def device_label(user_agent: str | None) -> str:
    """'Chrome on Linux' from a User-Agent header, for people to recognise their devices by."""
    agent = user_agent or ""
    browser = next((name for marker, name in _BROWSERS if marker in agent), None)
    system = next((name for marker, name in _SYSTEMS if marker in agent), None)
    if browser and system:
        return f"{browser} on {system}"
    return browser or system or "Unknown browser"


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(timezone.utc)


def well_formed(secret: object) -> bool:
    return isinstance(secret, str) and _SECRET_SHAPE.fullmatch(secret) is not None


# --- issuing ------------------------------------------------------------------------------------------------------
def open_session(session, user: User, *, ip: str | None, user_agent: str | None, now: datetime) -> IssuedSession:
    """A new session row in the caller's transaction (the sign-in's, with its audit row). Long-ended rows of
    the same user are pruned here, so the table stays the size of the active sessions."""
    session.execute(UserSession.__table__.delete().where(
        UserSession.org_id == user.org_id, UserSession.user_id == user.id,
        (UserSession.expires_at < now - KEEP_ENDED) | (UserSession.revoked_at < now - KEEP_ENDED)))
    code = secrets.token_urlsafe(32)
    row = UserSession(id=uuid.uuid4(), org_id=user.org_id, user_id=user.id, handoff_hash=digest(code),
                      handoff_expires_at=now + HANDOFF_TTL, created_at=now, last_seen_at=now,
                      expires_at=now + LIFETIME, ip=ip, user_agent=(user_agent or "")[:300] or None)
    session.add(row)
    return IssuedSession(row.id, code)


def _find(db: Database, column, secret_hash: str) -> tuple[str, uuid.UUID] | None:
    """(org, id) of the one row whose `column` is `secret_hash`: readable before the org is known through
    the token_lookup policy (migration 0007), and only that row."""
    with db.session(None) as session:
        session.execute(text("SELECT set_config('app.session_lookup', :hash, true)"), {"hash": secret_hash})
        found = session.execute(select(UserSession.org_id, UserSession.id).where(column == secret_hash)).first()
    return (found.org_id, found.id) if found else None


def redeem_handoff(db: Database, code: object, *, now: datetime | None = None) -> str | None:
    """The cookie token for a valid handoff code, which is used up; None for anything else (unknown,
    expired, already used, revoked, malformed). The token exists only in the answer: its hash is stored."""
    if not well_formed(code):
        return None
    now, code_hash = _now(now), digest(code)
    found = _find(db, UserSession.handoff_hash, code_hash)
    if found is None:
        return None
    org_id, session_id = found
    token = secrets.token_urlsafe(32)
    with db.session(org_id) as session:
        # Conditional on the code still being there: of two concurrent redemptions, one wins.
        redeemed = session.execute(update(UserSession).where(
            UserSession.id == session_id, UserSession.handoff_hash == code_hash,
            UserSession.handoff_expires_at > now, UserSession.revoked_at.is_(None), UserSession.expires_at > now,
        ).values(token_hash=digest(token), handoff_hash=None, handoff_expires_at=None, last_seen_at=now)
            .returning(UserSession.id)).first()
    return token if redeemed else None


# --- checking -----------------------------------------------------------------------------------------------------
def session_actor(db: Database, org_id: str, session_id: uuid.UUID, *, now: datetime | None = None) -> Actor | None:
    """The actor of a live session, read fresh (roles apply at once), or None when it has ended: revoked,
    expired, or its user deactivated. Checked on every page run."""
    now = _now(now)
    with db.session(org_id) as session:
        row = session.execute(select(UserSession, User).join(User, User.id == UserSession.user_id)
                              .where(UserSession.id == session_id)).first()
        if row is None:
            return None
        live, user = row
        if live.revoked_at is not None or live.expires_at <= now or not user.is_active:
            return None
        if now - live.last_seen_at >= TOUCH_EVERY:
            live.last_seen_at = now
        return actor_of(user)


def session_for_token(db: Database, token: object, *, now: datetime | None = None
                      ) -> tuple[uuid.UUID, Actor] | None:
    """The session a cookie names, or None for any value that is not a live token (garbage, forged,
    revoked, expired): an unreadable cookie means signed out, never an error."""
    if not well_formed(token):
        return None
    found = _find(db, UserSession.token_hash, digest(token))
    if found is None:
        return None
    org_id, session_id = found
    actor = session_actor(db, org_id, session_id, now=now)
    return (session_id, actor) if actor is not None else None


# --- listing and ending -------------------------------------------------------------------------------------------
def revoke_user_sessions(session, user: User, reason: str, *, now: datetime,
                         except_id: uuid.UUID | None = None) -> int:
    """End every live session of `user` (but `except_id`) in the caller's transaction; how many ended."""
    where = [UserSession.org_id == user.org_id, UserSession.user_id == user.id, UserSession.revoked_at.is_(None)]
    if except_id is not None:
        where.append(UserSession.id != except_id)
    ended = session.execute(update(UserSession).where(*where).values(revoked_at=now, revoked_reason=reason)
                            .returning(UserSession.id)).all()
    return len(ended)


def list_sessions(db: Database, actor: Actor, email: str | None = None, *, now: datetime | None = None
                  ) -> list[SessionInfo]:
    """Live sessions, newest first: the actor's own, or (admin) those of the user with `email`."""
    now = _now(now)
    with db.session(actor.org_id, user_id=actor.user_id) as session:
        user = _target_user(session, actor, email)
        rows = session.scalars(select(UserSession).where(
            UserSession.org_id == actor.org_id, UserSession.user_id == user.id, UserSession.revoked_at.is_(None),
            UserSession.expires_at > now).order_by(UserSession.last_seen_at.desc(), UserSession.created_at.desc()))
        return [SessionInfo(r.id, user.email, r.created_at, r.last_seen_at, r.ip, r.user_agent) for r in rows]


def end_session(db: Database, actor: Actor, session_id: uuid.UUID, *, reason: str = "signed_out") -> None:
    """End one session: the actor's own (sign out this or another device), or any of the org's as admin."""
    now = datetime.now(timezone.utc)
    with db.session(actor.org_id, user_id=actor.user_id) as session:
        row = session.get(UserSession, session_id, with_for_update=True)
        if row is None or (row.user_id != actor.user_id and not actor.has_any("admin")):
            raise NotFound("that session does not exist or has already ended")
        if row.revoked_at is not None:
            return
        row.revoked_at, row.revoked_reason = now, reason
        owner = session.get(User, row.user_id)
        audit_account(session, owner, "signed_out" if reason == "signed_out" else "session_revoked",
                      {"email": owner.email, "session": str(session_id), "by": actor.label}, by=actor)


def sign_out_everywhere(db: Database, actor: Actor, email: str | None = None) -> int:
    """End every session of the actor (or, as admin, of the user with `email`): how many ended."""
    now = datetime.now(timezone.utc)
    with db.session(actor.org_id, user_id=actor.user_id) as session:
        user = _target_user(session, actor, email, lock=True)
        # Also refuses an OpenID identity issued before now (login.authenticate_identity).
        user.sessions_revoked_at = now
        ended = revoke_user_sessions(session, user, "revoked" if user.id != actor.user_id else "signed_out_everywhere",
                                     now=now)
        audit_account(session, user, "sessions_revoked", {"email": user.email, "by": actor.label, "ended": ended},
                      by=actor)
    return ended


def _target_user(session, actor: Actor, email: str | None, *, lock: bool = False) -> User:
    if email is None or (actor.email and email.strip().lower() == actor.email.lower()):
        if actor.user_id is None:
            raise PermissionDenied("only a signed-in user has sessions of their own")
        user = session.get(User, actor.user_id, with_for_update=lock)
        if user is None:
            raise NotFound("your account no longer exists")
        return user
    require_role(actor, "admin")
    from ..users import find_user

    return find_user(session, email)
