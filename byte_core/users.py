"""Local users and roles (replaces Clerk users). Every change is audited."""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from . import activity
from .access import ROLES, Actor, require_role
from .auth.passwords import hash_password
from .auth.sessions import revoke_user_sessions
from .db import Database
from .errors import Conflict, InvalidInput, NotFound
from .models import Organization, User

EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")


def normalise_email(email: str) -> str:
    cleaned = (email or "").strip().lower()
    if not EMAIL_PATTERN.match(cleaned):
        raise InvalidInput(f"{email!r} is not a valid email address")
    return cleaned


def parse_roles(roles: str | list[str]) -> list[str]:
    items = [r.strip().lower() for r in (roles.split(",") if isinstance(roles, str) else roles) if r.strip()]
    if not items:
        raise InvalidInput(f"give at least one role: {', '.join(ROLES)}")
    unknown = [r for r in items if r not in ROLES]
    if unknown:
        raise InvalidInput(f"unknown role {', '.join(unknown)}: choose from {', '.join(ROLES)}")
    return sorted(set(items), key=ROLES.index)


def _user_entity_id(user_id: str) -> uuid.UUID:
    # activity_log.entity_id is a UUID while user ids are text: one stable UUID per user id.
    from .auth.accounts import user_entity_id

    return user_entity_id(user_id)


def _audit(session: Session, actor: Actor, user: User, action: str, details: dict) -> None:
    activity.record(session, entity_type="user", entity_id=_user_entity_id(user.id), action=action,
                    details={"user_id": user.id, "email": user.email, **details}, user_id=actor.user_id)


def add_user(db: Database, actor: Actor, email: str, roles: str | list[str], *, password: str | None,
             first_name: str | None = None, last_name: str | None = None, password_rounds: int = 12) -> User:
    require_role(actor, "admin")
    email = normalise_email(email)
    role_list = parse_roles(roles)
    password_hash = hash_password(password, rounds=password_rounds) if password else None
    # Emails are unique across organizations (sign-in finds the user by email alone). The check reads only
    # this organization; an address taken elsewhere is refused by the unique index, with the same message,
    # so the answer never says which organization holds it.
    taken = Conflict(f"{email} is already registered: choose another address")
    with db.session(actor.org_id, user_id=actor.user_id) as session:
        if session.scalar(select(User.id).where(func.lower(User.email) == email)):
            raise taken
        user = User(id="user_" + uuid.uuid4().hex[:20], org_id=actor.org_id, email=email, first_name=first_name,
                    last_name=last_name, roles=role_list, role=role_list[0], password_hash=password_hash,
                    password_changed_at=datetime.now(timezone.utc) if password_hash else None)
        session.add(user)
        try:
            with session.begin_nested():
                session.flush()
        except IntegrityError:
            raise taken from None
        _audit(session, actor, user, "user_created", {"roles": role_list})
    return user


def list_users(db: Database, actor: Actor) -> list[User]:
    require_role(actor, "admin", "manager")
    with db.session(actor.org_id) as session:
        return list(session.scalars(select(User).order_by(func.lower(User.email))))


@dataclass(frozen=True)
class Profile:
    """How the signed-in person and their organization are named on screen."""
    first_name: str
    display_name: str
    org_name: str


def profile(db: Database, actor: Actor) -> Profile:
    """The greeting and sidebar names: first name (else the name or email), and the organization's name."""
    with db.session(actor.org_id) as session:
        row = session.execute(select(User.first_name, User.last_name, User.email)
                              .where(User.id == actor.user_id)).first()
        org_name = session.scalar(select(Organization.name).where(Organization.id == actor.org_id))
    first, last, email = row if row else (None, None, actor.email)
    display = " ".join(x for x in (first, last) if x) or email or actor.label
    return Profile(first or display, display, org_name or actor.org_id)


def find_user(session: Session, email_or_id: str) -> User:
    key = (email_or_id or "").strip()
    user = session.scalar(select(User).where((User.id == key) | (func.lower(User.email) == key.lower())))
    if user is None:
        raise NotFound(f"no user {key!r} in this organization")
    return user


def set_roles(db: Database, actor: Actor, email_or_id: str, roles: str | list[str]) -> User:
    require_role(actor, "admin")
    role_list = parse_roles(roles)
    with db.session(actor.org_id, user_id=actor.user_id) as session:
        user = find_user(session, email_or_id)
        before = list(user.roles or [])
        _guard_last_admin(session, user, removing="admin" not in role_list)
        user.roles, user.role = role_list, role_list[0]
        _audit(session, actor, user, "roles_changed", {"before": before, "after": role_list})
    return user


def deactivate(db: Database, actor: Actor, email_or_id: str) -> User:
    require_role(actor, "admin")
    with db.session(actor.org_id, user_id=actor.user_id) as session:
        user = find_user(session, email_or_id)
        if not user.is_active:
            return user
        _guard_last_admin(session, user, removing=True)
        now = datetime.now(timezone.utc)
        user.is_active = False
        user.sessions_revoked_at = now
        ended = revoke_user_sessions(session, user, "deactivated", now=now)
        _audit(session, actor, user, "user_deactivated", {"sessions_ended": ended})
    return user


def reactivate(db: Database, actor: Actor, email_or_id: str) -> User:
    require_role(actor, "admin")
    with db.session(actor.org_id, user_id=actor.user_id) as session:
        user = find_user(session, email_or_id)
        user.is_active = True
        _audit(session, actor, user, "user_reactivated", {})
    return user


def _guard_last_admin(session: Session, user: User, *, removing: bool) -> None:
    if not removing or "admin" not in (user.roles or []) or not user.is_active:
        return
    admins = session.scalar(select(func.count()).select_from(User).where(
        User.roles.contains(["admin"]), User.is_active.is_(True), User.id != user.id))
    if not admins:
        raise Conflict(f"{user.email} is the last active admin: make someone else admin first")
