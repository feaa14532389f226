"""Periodic work of the scheduler: 'due within 24 h' and 'overdue' reminders (each once per task, kept
idempotent by a task_reminders row written in the same statement), and the daily email digests."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import text

from ..db import Database
from .emit import emit
from .events import LifecycleEvent

# An overdue task older than this is not announced: turning the feature on must not flood people with
# every task that was already late, and a week-old delay is what Home's overdue counter is for.
OVERDUE_WINDOW_DAYS = 7
SWEEP_LIMIT = 1000

_REMIND = text("""
WITH due AS (
  SELECT t.id, CASE WHEN t.due_date < CAST(:today AS date) THEN 'task_overdue' ELSE 'task_due_soon' END AS kind
  FROM tasks t
  WHERE t.status IN ('todo', 'in_progress') AND t.due_date IS NOT NULL
    AND t.due_date <= CAST(:tomorrow AS date)
    AND t.due_date >= CAST(:today AS date) - CAST(:window AS integer)
  ORDER BY t.due_date LIMIT :limit
), fresh AS (
  INSERT INTO task_reminders (task_id, kind, org_id, created_at)
  SELECT id, kind, :org, :now FROM due
  ON CONFLICT (task_id, kind) DO NOTHING
  RETURNING task_id, kind
)
SELECT fresh.kind, t.id, t.org_id, t.workflow_execution_id, t.contact_id, t.assigned_to, t.assigned_role, t.title,
       t.due_date
FROM fresh JOIN tasks t ON t.id = fresh.task_id
""")


def send_reminders(db: Database, org_id: str, now: datetime | None = None) -> int:
    """Tasks of the organization that just became due within 24 h or overdue: one notification each,
    however often this runs (the sweep and any number of schedulers)."""
    now = now or datetime.now(timezone.utc)
    with db.session(org_id) as session:
        rows = session.execute(_REMIND, {"today": now.date(), "tomorrow": (now + timedelta(hours=24)).date(),
                                         "window": OVERDUE_WINDOW_DAYS, "limit": SWEEP_LIMIT, "org": org_id,
                                         "now": now}).all()
        emit(session, [LifecycleEvent(kind=r.kind, org_id=r.org_id, at=now, task_id=r.id,
                                      execution_id=r.workflow_execution_id, contact_id=r.contact_id,
                                      assigned_to=r.assigned_to, assigned_role=r.assigned_role, title=r.title,
                                      details={"due_date": r.due_date.isoformat()}) for r in rows])
    return len(rows)


_DIGEST = text("""
WITH due_users AS (
  SELECT p.user_id FROM notification_preferences p
  WHERE p.email_mode = 'digest'
    AND CAST(:now AS timestamptz) >= date_trunc('day', CAST(:now AS timestamptz) AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
                                     + make_interval(hours => p.digest_hour)
    AND (p.last_digest_at IS NULL OR p.last_digest_at < date_trunc('day', CAST(:now AS timestamptz) AT TIME ZONE 'UTC')
                                     AT TIME ZONE 'UTC' + make_interval(hours => p.digest_hour))
  FOR UPDATE OF p SKIP LOCKED
), marked AS (
  UPDATE notification_preferences p SET last_digest_at = :now FROM due_users d WHERE p.user_id = d.user_id
  RETURNING p.user_id
), taken AS (
  UPDATE notifications n SET email_state = 'digested'
  FROM marked m WHERE n.user_id = m.user_id AND n.email_state = 'digest'
  RETURNING n.id, n.user_id, n.created_at
), grouped AS (
  SELECT user_id, array_agg(id ORDER BY created_at) AS ids FROM taken GROUP BY user_id
), queued AS (
  INSERT INTO email_outbox (org_id, user_id, to_address, kind, notification_ids)
  SELECT :org, g.user_id, u.email, 'digest', g.ids FROM grouped g JOIN users u ON u.id = g.user_id AND u.is_active
  RETURNING 1
)
SELECT count(*) AS digests, CASE WHEN count(*) > 0 THEN pg_notify(:channel, :org) END FROM queued
""")


def queue_digests(db: Database, org_id: str, now: datetime | None = None) -> int:
    """One digest email per user whose chosen hour (UTC) has come today and who has something waiting."""
    from .emit import OUTBOX_CHANNEL

    now = now or datetime.now(timezone.utc)
    with db.session(org_id) as session:
        return int(session.execute(_DIGEST, {"now": now, "org": org_id, "channel": OUTBOX_CHANNEL}).first()[0])


# What is kept: read notifications for 90 days, the delivery records of sent emails and webhooks for 30
# (failed ones as long as unread notifications, so an admin can still see why).
_PRUNE = text("""
WITH n AS (DELETE FROM notifications WHERE read_at < CAST(:now AS timestamptz) - interval '90 days'
           AND email_state <> 'digest' RETURNING 1),
     o AS (DELETE FROM email_outbox WHERE status = 'sent' AND sent_at < CAST(:now AS timestamptz) - interval '30 days'
           RETURNING 1),
     w AS (DELETE FROM webhook_deliveries WHERE status = 'sent'
           AND delivered_at < CAST(:now AS timestamptz) - interval '30 days' RETURNING 1)
SELECT (SELECT count(*) FROM n) + (SELECT count(*) FROM o) + (SELECT count(*) FROM w)
""")


def prune(db: Database, org_id: str, now: datetime | None = None) -> int:
    with db.session(org_id) as session:
        return int(session.execute(_PRUNE, {"now": now or datetime.now(timezone.utc)}).scalar_one())


def sweep(db: Database, org_id: str, now: datetime | None = None) -> tuple[int, int, int]:
    """The scheduler's minute job for one organization: reminders, digests, pruning."""
    return send_reminders(db, org_id, now), queue_digests(db, org_id, now), prune(db, org_id, now)
