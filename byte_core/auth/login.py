"""Signing in, with the rules streamlit-authenticator lacks (DESIGN.md §5): attempts and lockouts kept
in the database, equal work for unknown users, audit of every sign-in and credential change, and
sessions that end when a password changes or an admin revokes them."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from .. import activity
from ..access import Actor, require_role
from ..db import Database
from ..errors import InvalidInput, PermissionDenied
from ..models import LoginAttempt, User
from .passwords import check_password_policy, hash_password, verify_password

MAX_FAILURES = 5
WINDOW = timedelta(minutes=15)
WRONG = "Email or password is incorrect."
SAME_SESSION = timedelta(milliseconds=1)  # issue times travel as float timestamps in the cookie


@dataclass(frozen=True)
class LoginResult:
    ok: bool
    message: str
    actor: Actor | None = None
    locked_until: datetime | None = None


def user_entity_id(user_id: str) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"byte:user:{user_id}")


def actor_of(user: User) -> Actor:
    return Actor(user.org_id, user.id, frozenset(user.roles or []), user.email)


def authenticate(db: Database, email: str, password: str, *, ip: str | None = None, user_agent: str | None = None,
                 now: datetime | None = None) -> LoginResult:
    now = now or datetime.now(timezone.utc)
    email = (email or "").strip().lower()
    if not email or not password:
        return LoginResult(False, "Enter your email and password.")
    with db.session(None, login_email=email) as session:
        user = _user_by_email(session, email)
        failures = session.scalars(select(LoginAttempt.created_at).where(
            func.lower(LoginAttempt.email) == email, LoginAttempt.was_successful.is_(False),
            # Attempts refused while locked are kept for the audit but do not extend the lock, so the
            # "try again at" time shown stays true.
            LoginAttempt.failure_reason.is_distinct_from("ACCOUNT_LOCKED"),
            LoginAttempt.created_at > now - WINDOW, LoginAttempt.created_at <= now)
            .order_by(LoginAttempt.created_at)).all()

        def attempt(ok: bool, reason: str | None) -> None:
            _record_attempt(session, user, email, ip, user_agent, reason if not ok else None, now)

        if len(failures) >= MAX_FAILURES:
            until = failures[-MAX_FAILURES] + WINDOW
            attempt(False, "ACCOUNT_LOCKED")
            return LoginResult(False, f"Too many failed sign-ins. Try again at {until:%H:%M} UTC.", locked_until=until)
        correct = verify_password(password, user.password_hash if user else None)
        if user is None or not correct:
            attempt(False, "USER_NOT_FOUND" if user is None else "INVALID_PASSWORD")
            left = MAX_FAILURES - len(failures) - 1
            hint = f" {left} attempt{'s' if left != 1 else ''} left before a 15-minute lockout." if left <= 2 else ""
            return LoginResult(False, WRONG + hint)
        if not user.is_active:
            attempt(False, "ACCOUNT_INACTIVE")
            return LoginResult(False, "This account is deactivated. Ask an admin to reactivate it.")
        attempt(True, None)
        session.info["org_id"] = user.org_id
    return _signed_in(db, user, now, {"ip": ip})


def authenticate_identity(db: Database, email: str | None, *, provider: str, email_verified: bool | None,
                          issued_at: datetime | None = None, ip: str | None = None, user_agent: str | None = None,
                          now: datetime | None = None) -> LoginResult:
    """Sign-in through an OpenID Connect provider (`st.login`): the provider vouched for the email, so no
    password and no lockout, but the email must be verified and belong to an active user here, and an
    identity issued before the user's sessions were revoked is refused like an old cookie."""
    now = now or datetime.now(timezone.utc)
    email = (email or "").strip().lower()
    if not email:
        return LoginResult(False, f"{provider} did not share an email address, so no BYTE account can be matched.")
    with db.session(None, login_email=email) as session:
        user = _user_by_email(session, email)
        reason = ("EMAIL_NOT_VERIFIED" if email_verified is False else "USER_NOT_FOUND" if user is None
                  else "ACCOUNT_INACTIVE" if not user.is_active
                  else "SESSION_REVOKED" if issued_at is not None and _ended_since(user, issued_at) else None)
        _record_attempt(session, user, email, ip, f"oidc:{provider} {user_agent or ''}", reason, now)
    if reason is not None:
        return LoginResult(False, {
            "EMAIL_NOT_VERIFIED": f"{provider} has not verified {email}; verify it there, then sign in again.",
            "USER_NOT_FOUND": f"There is no BYTE account for {email}. Ask an admin to add you.",
            "ACCOUNT_INACTIVE": "This account is deactivated. Ask an admin to reactivate it.",
            "SESSION_REVOKED": "Your earlier sessions were ended (password changed or sessions revoked). "
                               f"Sign in with {provider} again.",
        }[reason])
    return _signed_in(db, user, now, {"ip": ip, "via": f"oidc:{provider}"})


def _user_by_email(session, email: str) -> User | None:
    """Looked up in a login session (`login_email` set): the one row RLS lets it see, in any organization."""
    return session.scalar(select(User).where(func.lower(User.email) == email))


def _record_attempt(session, user: User | None, email: str, ip: str | None, user_agent: str | None,
                    failure: str | None, now: datetime) -> None:
    session.add(LoginAttempt(id=uuid.uuid4(), org_id=user.org_id if user else None, email=email, ip_address=ip,
                             user_agent=(user_agent or "")[:300], was_successful=failure is None,
                             failure_reason=failure, created_at=now))


def _signed_in(db: Database, user: User, now: datetime, details: dict) -> LoginResult:
    # Audit in the user's organization (the lookup above ran before the org was known).
    with db.session(user.org_id, user_id=user.id) as session:
        fresh = session.get(User, user.id)
        fresh.last_login_at = now
        activity.record(session, entity_type="user", entity_id=user_entity_id(user.id), action="signed_in",
                        details=details)
        return LoginResult(True, "Signed in.", actor=actor_of(fresh))


def _ended_since(user: User, issued_at: datetime) -> bool:
    """A password change or a revocation after `issued_at` ends whatever was issued then, and a session
    signed out (see end_session) stays ended even if its cookie survived."""
    if any(cutoff is not None and issued_at < cutoff - timedelta(seconds=1)
           for cutoff in (user.password_changed_at, user.sessions_revoked_at)):
        return True
    return any(abs(ended - issued_at) < SAME_SESSION for ended in user.ended_sessions or [])


def end_session(db: Database, actor: Actor, issued_at: datetime, keep_for: timedelta) -> None:
    """Sign-out: remember this session's issue time, so its cookie is refused even if the browser kept it.
    Entries older than `keep_for` (a cookie's lifetime) are dropped: those cookies have expired anyway."""
    if actor.user_id is None:
        return
    now = datetime.now(timezone.utc)
    with db.session(actor.org_id, user_id=actor.user_id) as session:
        user = session.get(User, actor.user_id, with_for_update=True)
        if user is None:
            return
        user.ended_sessions = [t for t in user.ended_sessions or [] if t > now - keep_for] + [issued_at]
        activity.record(session, entity_type="user", entity_id=user_entity_id(user.id), action="signed_out",
                        details={"email": user.email})


def session_still_valid(db: Database, email: str, issued_at: datetime) -> Actor | None:
    """The current actor for a session issued at `issued_at`, or None when it must end: the user was
    deactivated, changed password, or had their sessions revoked since. Roles are read fresh."""
    email = (email or "").strip().lower()
    with db.session(None, login_email=email) as session:
        user = _user_by_email(session, email)
    if user is None or not user.is_active or _ended_since(user, issued_at):
        return None
    return actor_of(user)


def change_password(db: Database, actor: Actor, current_password: str, new_password: str) -> None:
    if actor.user_id is None:
        raise PermissionDenied("only a signed-in user can change their password")
    check_password_policy(new_password)
    with db.session(actor.org_id, user_id=actor.user_id) as session:
        user = session.get(User, actor.user_id)
        if not verify_password(current_password, user.password_hash):
            raise InvalidInput("your current password is not correct")
        _set_password(session, user, new_password, actor, "password_changed")


def reset_password(db: Database, admin: Actor, email: str, new_password: str) -> None:
    require_role(admin, "admin")
    check_password_policy(new_password)
    from ..users import find_user

    with db.session(admin.org_id, user_id=admin.user_id) as session:
        _set_password(session, find_user(session, email), new_password, admin, "password_reset")


def _set_password(session, user: User, new_password: str, actor: Actor, action: str) -> None:
    user.password_hash = hash_password(new_password)
    user.password_changed_at = datetime.now(timezone.utc)
    activity.record(session, entity_type="user", entity_id=user_entity_id(user.id), action=action,
                    details={"email": user.email, "by": actor.label}, user_id=actor.user_id)


def revoke_sessions(db: Database, admin: Actor, email: str) -> None:
    require_role(admin, "admin")
    from ..users import find_user

    with db.session(admin.org_id, user_id=admin.user_id) as session:
        user = find_user(session, email)
        user.sessions_revoked_at = datetime.now(timezone.utc)
        activity.record(session, entity_type="user", entity_id=user_entity_id(user.id), action="sessions_revoked",
                        details={"email": user.email, "by": admin.label}, user_id=admin.user_id)
