"""Signing in: attempts and lockouts kept in the database and decided under a per-email lock, equal work
for unknown users, audit of every sign-in and credential change. A successful sign-in opens a server-side
session (sessions.py); a password change or an admin's revocation ends the user's sessions there."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select, text

from ..access import Actor, require_role
from ..db import Database
from ..errors import InvalidInput, PermissionDenied
from ..models import LoginAttempt, User
from .accounts import actor_of, audit_account, user_entity_id  # noqa: F401 - user_entity_id is imported from here
from .passwords import check_password_policy, hash_password, verify_password
from .sessions import IssuedSession, open_session, revoke_user_sessions, sign_out_everywhere

MAX_FAILURES = 5
WINDOW = timedelta(minutes=15)
WRONG = "Email or password is incorrect."
# First key of the two-key advisory lock that serialises sign-ins per email (the second is the email's
# hash), so it cannot collide with a single-key advisory lock taken elsewhere.
LOGIN_LOCK_SPACE = 0x6279


@dataclass(frozen=True)
class LoginResult:
    ok: bool
    message: str
    actor: Actor | None = None
    locked_until: datetime | None = None
    session: IssuedSession | None = None


def authenticate(db: Database, email: str, password: str, *, ip: str | None = None, user_agent: str | None = None,
                 now: datetime | None = None) -> LoginResult:
    email = (email or "").strip().lower()
    if not email or not password:
        return LoginResult(False, "Enter your email and password.")
    with db.session(None, login_email=email) as session:
        # Count, check and record under one lock per email, held until this attempt is committed: parallel
        # sign-ins queue here, so within the window at most MAX_FAILURES wrong passwords are ever checked.
        session.execute(text("SELECT pg_advisory_xact_lock(:space, hashtext(:email))"),
                        {"space": LOGIN_LOCK_SPACE, "email": email})
        now = now or datetime.now(timezone.utc)  # read after the wait, so every earlier attempt counts
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
    return _signed_in(db, user, now, {"ip": ip}, user_agent)


def authenticate_identity(db: Database, email: str | None, *, provider: str, email_verified: bool | None,
                          issued_at: datetime | None = None, ip: str | None = None, user_agent: str | None = None,
                          now: datetime | None = None) -> LoginResult:
    """Sign-in through an OpenID Connect provider (`st.login`): the provider vouched for the email, so no
    password and no lockout, but the email must be verified and belong to an active user here, and an
    identity issued before the user's sessions were revoked (or password changed) is refused."""
    now = now or datetime.now(timezone.utc)
    email = (email or "").strip().lower()
    if not email:
        return LoginResult(False, f"{provider} did not share an email address, so no BYTE account can be matched.")
    with db.session(None, login_email=email) as session:
        user = _user_by_email(session, email)
        reason = ("EMAIL_NOT_VERIFIED" if email_verified is False else "USER_NOT_FOUND" if user is None
                  else "ACCOUNT_INACTIVE" if not user.is_active
                  else "SESSION_REVOKED" if issued_at is not None and _revoked_since(user, issued_at) else None)
        _record_attempt(session, user, email, ip, f"oidc:{provider} {user_agent or ''}", reason, now)
    if reason is not None:
        return LoginResult(False, {
            "EMAIL_NOT_VERIFIED": f"{provider} has not verified {email}; verify it there, then sign in again.",
            "USER_NOT_FOUND": f"There is no BYTE account for {email}. Ask an admin to add you.",
            "ACCOUNT_INACTIVE": "This account is deactivated. Ask an admin to reactivate it.",
            "SESSION_REVOKED": "Your earlier sessions were ended (password changed or sessions revoked). "
                               f"Sign in with {provider} again.",
        }[reason])
    return _signed_in(db, user, now, {"ip": ip, "via": f"oidc:{provider}"}, user_agent)


def _user_by_email(session, email: str) -> User | None:
    """Looked up in a login session (`login_email` set): the one row RLS lets it see, in any organization."""
    return session.scalar(select(User).where(func.lower(User.email) == email))


def _record_attempt(session, user: User | None, email: str, ip: str | None, user_agent: str | None,
                    failure: str | None, now: datetime) -> None:
    session.add(LoginAttempt(org_id=user.org_id if user else None, email=email, ip_address=ip,
                             user_agent=(user_agent or "")[:300], was_successful=failure is None,
                             failure_reason=failure, created_at=now))


def _signed_in(db: Database, user: User, now: datetime, details: dict, user_agent: str | None) -> LoginResult:
    """The session row and the sign-in audit, in the user's organization (the lookup ran before it was known)."""
    with db.session(user.org_id, user_id=user.id) as session:
        fresh = session.get(User, user.id)
        fresh.last_login_at = now
        issued = open_session(session, fresh, ip=details.get("ip"), user_agent=user_agent, now=now)
        audit_account(session, fresh, "signed_in", details)
        return LoginResult(True, "Signed in.", actor=actor_of(fresh), session=issued)


def _revoked_since(user: User, issued_at: datetime) -> bool:
    """An identity token issued before the user's last revocation or password change is refused. Compared
    at full precision; the token's `iat` is whole seconds rounded down, so the doubt goes to refusing."""
    cutoffs = (user.password_changed_at, user.sessions_revoked_at)
    return any(cutoff is not None and issued_at < cutoff for cutoff in cutoffs)


def change_password(db: Database, actor: Actor, current_password: str, new_password: str, *,
                    keep_session=None) -> None:
    """Change the actor's own password; every other session of theirs ends (`keep_session`, this browser's,
    lives on)."""
    if actor.user_id is None:
        raise PermissionDenied("only a signed-in user can change their password")
    check_password_policy(new_password)
    with db.session(actor.org_id, user_id=actor.user_id) as session:
        user = session.get(User, actor.user_id)
        if not verify_password(current_password, user.password_hash):
            raise InvalidInput("your current password is not correct")
        _set_password(session, user, new_password, actor, "password_changed", keep_session=keep_session)


def reset_password(db: Database, admin: Actor, email: str, new_password: str) -> None:
    """An admin sets a user's password; all of that user's sessions end."""
    require_role(admin, "admin")
    check_password_policy(new_password)
    from ..users import find_user

    with db.session(admin.org_id, user_id=admin.user_id) as session:
        _set_password(session, find_user(session, email), new_password, admin, "password_reset")


def _set_password(session, user: User, new_password: str, actor: Actor, action: str, *, keep_session=None) -> None:
    now = datetime.now(timezone.utc)
    user.password_hash = hash_password(new_password)
    user.password_changed_at = now
    ended = revoke_user_sessions(session, user, action, now=now, except_id=keep_session)
    audit_account(session, user, action, {"email": user.email, "by": actor.label, "sessions_ended": ended}, by=actor)


def revoke_sessions(db: Database, admin: Actor, email: str) -> int:
    """An admin signs a user out everywhere: how many sessions ended."""
    require_role(admin, "admin")
    return sign_out_everywhere(db, admin, email)
