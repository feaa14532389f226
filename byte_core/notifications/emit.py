"""`emit`: lifecycle events become notification rows, email outbox rows and webhook deliveries, in the
caller's transaction (so nothing is lost, and nothing is sent for a change that rolls back).

One statement per call whatever the number of events: the events travel as one array per field,
recipients are resolved by a join against users (the assignee, or every active holder of the role),
preferences by a join against notification_preferences, and the three INSERTs are data-modifying CTEs.
The engine calls it once per batch of up to 100 executions.
"""
from __future__ import annotations

import json
from typing import Iterable

from sqlalchemy import text
from sqlalchemy.orm import Session

from .events import DEFAULT_EMAIL, DEFAULT_IN_APP, FAILURE_ROLES, PERSON_KINDS, LifecycleEvent
from .settings import email_enabled

OUTBOX_CHANNEL = "byte_outbox"

_EMIT = text("""
WITH ev AS (
  SELECT u.*, gen_random_uuid() AS event_id
  FROM unnest(CAST(:kind AS text[]), CAST(:org_id AS text[]), CAST(:at AS timestamptz[]), CAST(:task_id AS uuid[]),
              CAST(:execution_id AS uuid[]), CAST(:contact_id AS uuid[]), CAST(:assigned_to AS text[]),
              CAST(:assigned_role AS text[]), CAST(:title AS text[]), CAST(:actor AS text[]),
              CAST(:details AS text[]))
       AS u(kind, org_id, at, task_id, execution_id, contact_id, assigned_to, assigned_role, title, actor, details)
), e AS (
  SELECT ev.kind, ev.org_id, ev.at, ev.event_id, ev.task_id, ev.assigned_to, ev.assigned_role, ev.actor,
         COALESCE(ev.execution_id, t.workflow_execution_id) AS execution_id,
         COALESCE(ev.contact_id, t.contact_id, x.contact_id) AS contact_id,
         COALESCE(NULLIF(ev.title, ''), t.title, NULLIF(trim(concat_ws(' ', c.first_name, c.last_name)), ''),
                  ev.kind) AS title,
         ev.details::jsonb AS details, t.due_date
  FROM ev
  LEFT JOIN tasks t ON t.id = ev.task_id
  LEFT JOIN workflow_executions x ON x.id = ev.execution_id
  LEFT JOIN contacts c ON c.id = COALESCE(ev.contact_id, t.contact_id, x.contact_id)
), r AS (
  SELECT e.*, u.id AS user_id,
         COALESCE(p.in_app_kinds, CAST(:default_in_app AS text[])) @> ARRAY[e.kind] AS in_app,
         CASE WHEN NOT CAST(:email_on AS boolean)
                   OR NOT COALESCE(p.email_kinds, CAST(:default_email AS text[])) @> ARRAY[e.kind] THEN 'none'
              WHEN p.email_mode = 'digest' THEN 'digest'
              ELSE 'immediate' END AS email_state
  FROM e
  JOIN users u ON u.is_active AND u.id IS DISTINCT FROM e.actor AND e.kind = ANY(CAST(:person_kinds AS text[]))
   AND (u.id = e.assigned_to OR lower(u.email) = lower(e.assigned_to)
        OR (e.assigned_to IS NULL AND e.assigned_role = ANY(u.roles))
        OR (e.kind = 'execution_failed' AND u.roles && CAST(:failure_roles AS text[])))
  LEFT JOIN notification_preferences p ON p.user_id = u.id
), n AS (
  INSERT INTO notifications (org_id, user_id, kind, title, body, task_id, workflow_execution_id, contact_id,
                             actor_user_id, in_app, email_state, created_at)
  SELECT org_id, user_id, kind, title, COALESCE(details->>'body', details->>'error', details->>'reason'), task_id,
         execution_id, contact_id, actor, in_app, email_state, at
  FROM r WHERE in_app OR email_state <> 'none'
  RETURNING id, org_id, user_id, email_state, created_at
), o AS (
  INSERT INTO email_outbox (org_id, user_id, to_address, kind, notification_ids, created_at)
  SELECT n.org_id, n.user_id, u.email, 'notification', ARRAY[n.id], n.created_at
  FROM n JOIN users u ON u.id = n.user_id
  WHERE n.email_state = 'immediate'
  RETURNING 1
), w AS (
  INSERT INTO webhook_deliveries (org_id, endpoint_id, event, payload, created_at)
  SELECT e.org_id, we.id, e.kind, jsonb_build_object(
           'id', e.event_id, 'event', replace(e.kind, '_', '.'), 'occurred_at', e.at, 'organization', e.org_id,
           'data', jsonb_strip_nulls(jsonb_build_object(
             'task_id', e.task_id, 'execution_id', e.execution_id, 'contact_id', e.contact_id, 'title', e.title,
             'assigned_to', e.assigned_to, 'assigned_role', e.assigned_role, 'actor_user_id', e.actor,
             'due_date', e.due_date, 'details', e.details))),
         e.at
  FROM e JOIN webhook_endpoints we ON we.is_active AND e.kind = ANY(we.events)
  RETURNING 1
), counts AS (
  SELECT (SELECT count(*) FROM n) AS notifications, (SELECT count(*) FROM o) AS emails,
         (SELECT count(*) FROM w) AS deliveries
)
SELECT notifications, emails, deliveries,
       CASE WHEN emails + deliveries > 0 THEN pg_notify(:channel, :notify_org) END AS woke
FROM counts
""")


def emit(session: Session, events: Iterable[LifecycleEvent]) -> tuple[int, int, int]:
    """Write what `events` cause, in `session`'s transaction: returns (notifications, emails, deliveries).
    Delivery happens later, in the scheduler; a NOTIFY on commit makes it start at once. Rows are due
    at the database's now(), not at the event's time: a `tick --now` in the future must not hold mail back."""
    events = list(events)
    if not events:
        return 0, 0, 0
    params = {
        "kind": [e.kind for e in events], "org_id": [e.org_id for e in events], "at": [e.at for e in events],
        "task_id": [e.task_id for e in events], "execution_id": [e.execution_id for e in events],
        "contact_id": [e.contact_id for e in events],
        "assigned_to": [None if e.assigned_to is None else str(e.assigned_to) for e in events],
        "assigned_role": [e.assigned_role for e in events], "title": [e.title or "" for e in events],
        "actor": [e.actor_user_id for e in events],
        "details": [json.dumps(e.details or {}, default=str) for e in events],
        "default_in_app": list(DEFAULT_IN_APP), "default_email": list(DEFAULT_EMAIL),
        "person_kinds": list(PERSON_KINDS), "failure_roles": list(FAILURE_ROLES), "email_on": email_enabled(),
        "channel": OUTBOX_CHANNEL, "notify_org": session.info.get("org_id") or events[0].org_id,
    }
    row = session.execute(_EMIT, params).one()
    return int(row.notifications), int(row.emails), int(row.deliveries)
