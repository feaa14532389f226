"""Notifications ([F]): people hear about their work in the app, by email and through outgoing webhooks.

Lifecycle code calls one thing, inside its own transaction:

    from byte_core.notifications import LifecycleEvent, emit
    emit(session, [LifecycleEvent(kind="task_created", org_id=..., at=now, task_id=..., ...)])

Everything that leaves the building goes through the outbox (email_outbox, webhook_deliveries) and is
delivered by the scheduler's delivery worker (worker.py), never by a page or the engine.
"""
from .emit import emit
from .events import (KINDS, PERSON_KINDS, WEBHOOK_KINDS, LifecycleEvent, events_from_activity, execution_event,
                     mention_events, task_event)

__all__ = ["emit", "LifecycleEvent", "KINDS", "PERSON_KINDS", "WEBHOOK_KINDS", "events_from_activity",
           "execution_event", "task_event", "mention_events"]
