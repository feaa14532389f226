"""What people do with their notifications: read them, mark them read, choose what they receive; and
what an admin sees of email (configured or not, what waits, the last error)."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import func, select, text, update

from .. import activity
from ..access import Actor, require_role
from ..db import Database
from ..errors import InvalidInput, PermissionDenied
from ..models import EmailOutbox, Notification, NotificationPreference, User
from .events import DEFAULT_EMAIL, DEFAULT_IN_APP, HEADLINES, PERSON_KINDS
from .settings import email_enabled, link_for, smtp_settings


def _person(actor: Actor) -> str:
    if actor.user_id is None:
        raise PermissionDenied("notifications belong to people: sign in as a user")
    return actor.user_id


# --- reading ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class NotificationView:
    id: uuid.UUID
    kind: str
    headline: str
    title: str
    body: str | None
    created_at: datetime
    read: bool
    task_id: uuid.UUID | None
    execution_id: uuid.UUID | None
    link: str


def unread_count(db: Database, actor: Actor) -> int:
    if actor.user_id is None:
        return 0
    with db.session(actor.org_id) as session:
        return session.scalar(select(func.count()).select_from(Notification).where(
            Notification.user_id == actor.user_id, Notification.in_app.is_(True), Notification.read_at.is_(None))) or 0


def list_notifications(db: Database, actor: Actor, *, unread_only: bool = False, offset: int = 0, limit: int = 25
                       ) -> tuple[list[NotificationView], int]:
    user_id = _person(actor)
    where = [Notification.user_id == user_id, Notification.in_app.is_(True)]
    if unread_only:
        where.append(Notification.read_at.is_(None))
    with db.session(actor.org_id) as session:
        total = session.scalar(select(func.count()).select_from(Notification).where(*where)) or 0
        rows = session.scalars(select(Notification).where(*where).order_by(Notification.created_at.desc())
                               .offset(offset).limit(limit)).all()
    return [NotificationView(n.id, n.kind, HEADLINES.get(n.kind, n.kind), n.title, n.body, n.created_at,
                             n.read_at is not None, n.task_id, n.workflow_execution_id,
                             link_for(n.task_id, n.workflow_execution_id)) for n in rows], total


def mark_read(db: Database, actor: Actor, ids: list[Any] | None = None, *, everything: bool = False) -> int:
    """Mark some (or all) of one's own notifications read; returns how many changed. Personal state, so
    not written to the activity log."""
    user_id = _person(actor)
    where = [Notification.user_id == user_id, Notification.in_app.is_(True), Notification.read_at.is_(None)]
    if not everything:
        keys = [i if isinstance(i, uuid.UUID) else uuid.UUID(str(i)) for i in (ids or [])]
        if not keys:
            return 0
        where.append(Notification.id.in_(keys))
    with db.session(actor.org_id, user_id=user_id) as session:
        return session.execute(update(Notification).where(*where)
                               .values(read_at=datetime.now(timezone.utc))).rowcount or 0


# --- preferences ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Preferences:
    in_app: tuple[str, ...]
    email: tuple[str, ...]
    email_mode: str  # immediate | digest
    digest_hour: int  # UTC


def get_preferences(db: Database, actor: Actor) -> Preferences:
    user_id = _person(actor)
    with db.session(actor.org_id) as session:
        row = session.get(NotificationPreference, user_id)
    if row is None:
        return Preferences(DEFAULT_IN_APP, DEFAULT_EMAIL, "immediate", 8)
    return Preferences(tuple(row.in_app_kinds), tuple(row.email_kinds), row.email_mode, row.digest_hour)


def set_preferences(db: Database, actor: Actor, prefs: Preferences) -> Preferences:
    user_id = _person(actor)
    unknown = [k for k in (*prefs.in_app, *prefs.email) if k not in PERSON_KINDS]
    if unknown:
        raise InvalidInput(f"unknown notification kind {', '.join(unknown)}")
    if prefs.email_mode not in ("immediate", "digest"):
        raise InvalidInput("email is sent immediately or as a daily digest")
    if not 0 <= int(prefs.digest_hour) <= 23:
        raise InvalidInput("the digest hour is between 0 and 23 (UTC)")
    values = {"in_app_kinds": [k for k in PERSON_KINDS if k in prefs.in_app],
              "email_kinds": [k for k in PERSON_KINDS if k in prefs.email], "email_mode": prefs.email_mode,
              "digest_hour": int(prefs.digest_hour)}
    with db.session(actor.org_id, user_id=user_id) as session:
        row = session.get(NotificationPreference, user_id)
        if row is None:
            session.add(NotificationPreference(user_id=user_id, org_id=actor.org_id, **values))
        else:
            for key, value in values.items():
                setattr(row, key, value)
        from ..auth.login import user_entity_id

        activity.record(session, entity_type="user", entity_id=user_entity_id(user_id),
                        action="notification_preferences_changed", details=values)
    return Preferences(tuple(values["in_app_kinds"]), tuple(values["email_kinds"]), prefs.email_mode,
                       int(prefs.digest_hour))


# --- email (admin) --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class EmailStatus:
    configured: bool
    server: str | None  # host, security, sender: never the password
    problem: str | None  # BYTE_SMTP_URL set but unreadable
    pending: int
    failed: int
    sent_24h: int
    last_error: str | None


def email_status(db: Database, actor: Actor) -> EmailStatus:
    require_role(actor, "admin")
    server = problem = None
    try:
        settings = smtp_settings()
        server = settings.display if settings else None
    except InvalidInput as exc:
        problem = str(exc)
    with db.session(actor.org_id) as session:
        counts = session.execute(text(
            "SELECT count(*) FILTER (WHERE status IN ('pending', 'sending')) AS pending, "
            "count(*) FILTER (WHERE status = 'failed') AS failed, "
            "count(*) FILTER (WHERE status = 'sent' AND sent_at > now() - interval '1 day') AS sent "
            "FROM email_outbox")).one()
        last_error = session.scalar(select(EmailOutbox.last_error).where(EmailOutbox.last_error.is_not(None))
                                    .order_by(EmailOutbox.next_attempt_at.desc()).limit(1))
    return EmailStatus(email_enabled(), server, problem, counts.pending, counts.failed, counts.sent, last_error)


def queue_test_email(db: Database, actor: Actor, to: str) -> uuid.UUID:
    """An outbox row for a test message to `to` (delivered like any other email)."""
    from ..users import normalise_email

    require_role(actor, "admin")
    address = normalise_email(to)
    if not email_enabled():
        raise InvalidInput("email is off: set BYTE_SMTP_URL (and BYTE_SMTP_FROM) and restart the scheduler")
    with db.session(actor.org_id, user_id=actor.user_id) as session:
        user_id = session.scalar(select(User.id).where(func.lower(User.email) == address))
        row = EmailOutbox(id=uuid.uuid4(), org_id=actor.org_id, user_id=user_id, to_address=address, kind="test",
                          notification_ids=[])
        session.add(row)
    return row.id


def outbox_row(db: Database, actor: Actor, outbox_id: uuid.UUID) -> EmailOutbox | None:
    with db.session(actor.org_id) as session:
        return session.get(EmailOutbox, outbox_id)
