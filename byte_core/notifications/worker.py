"""The delivery worker: takes due emails and webhook deliveries out of the outbox and sends them.

It runs in the scheduler process on its own thread (never in a page or the engine's batch): it wakes on
`byte_outbox` notifications sent by the writing transaction, and sweeps every organization every few
seconds for retries that came due and anything a notification missed. Any number of workers may run:
rows are leased with FOR UPDATE SKIP LOCKED (see outbox.py).
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from ..db import Database
from ..models import WebhookEndpoint
from . import email as mail
from . import webhooks
from .emit import OUTBOX_CHANNEL
from .outbox import Outcome, RetryPolicy, claim, record
from .settings import SmtpSettings, smtp_settings

log = logging.getLogger("byte.outbox")
BATCH = 50


@dataclass
class DeliveryStats:
    emails_sent: int = 0
    emails_failed: int = 0
    webhooks_sent: int = 0
    webhooks_failed: int = 0
    last_error: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, kind: str, outcomes: list[Outcome]) -> None:
        sent = sum(o.sent for o in outcomes)
        with self.lock:
            setattr(self, f"{kind}_sent", getattr(self, f"{kind}_sent") + sent)
            setattr(self, f"{kind}_failed", getattr(self, f"{kind}_failed") + len(outcomes) - sent)
            errors = [o.error for o in outcomes if o.error]
            if errors:
                self.last_error = errors[-1][:500]


class DeliveryWorker:
    def __init__(self, db: Database, *, email_policy: RetryPolicy | None = None,
                 webhook_policy: RetryPolicy | None = None, batch_size: int = BATCH,
                 smtp: SmtpSettings | None = None):
        self.db = db
        self.email_policy = email_policy or RetryPolicy()
        self.webhook_policy = webhook_policy or RetryPolicy(base_seconds=60, max_attempts=8)
        self.batch_size = batch_size
        self._smtp = smtp
        self.stats = DeliveryStats()

    def smtp(self) -> SmtpSettings | None:
        return self._smtp or smtp_settings()

    # --- one organization ------------------------------------------------------------------------------------
    def deliver_emails(self, org_id: str) -> int:
        """Send every due email of the organization, batch after batch; returns how many were attempted."""
        settings = self.smtp()
        if settings is None:
            return 0

        def prepare(session, rows) -> list:
            items = mail.load_items(session, [i for row in rows for i in row.notification_ids])
            return [(row.id, mail.compose(row, [items[i] for i in row.notification_ids if i in items], settings))
                    for row in rows]

        return self._drain(org_id, "email_outbox", self.email_policy, prepare,
                           lambda messages: mail.send_batch(settings, messages), "emails")

    def deliver_webhooks(self, org_id: str) -> int:
        def prepare(session, rows) -> list:
            endpoints = {e.id: e for e in session.query(WebhookEndpoint).filter(
                WebhookEndpoint.id.in_({row.endpoint_id for row in rows}))}
            return [(row, endpoints[row.endpoint_id]) for row in rows]

        return self._drain(org_id, "webhook_deliveries", self.webhook_policy, prepare,
                           lambda pairs: [webhooks.send(row, endpoint) for row, endpoint in pairs], "webhooks")

    def _drain(self, org_id: str, table: str, policy: RetryPolicy, prepare, send, kind: str) -> int:
        """Claim a batch and `prepare` it in one short transaction, `send` it holding no transaction (a slow
        server never keeps a connection busy), record the outcomes; repeat until nothing is due."""
        done = 0
        while True:
            with self.db.session(org_id) as session:
                rows = claim(session, table, self.batch_size, policy)
                if not rows:
                    return done
                prepared = prepare(session, rows)
            outcomes = send(prepared)
            with self.db.session(org_id) as session:
                record(session, table, outcomes, {row.id: row.attempts for row in rows}, policy)
            self.stats.add(kind, outcomes)
            done += len(rows)
            if len(rows) < self.batch_size:
                return done

    def deliver(self, org_id: str) -> int:
        return self.deliver_emails(org_id) + self.deliver_webhooks(org_id)

    def deliver_all(self) -> int:
        from ..workflow.runner import org_ids

        return sum(self.deliver(org_id) for org_id in org_ids(self.db))

    # --- the loop ---------------------------------------------------------------------------------------------
    def serve(self, stopping: threading.Event, sweep_seconds: float = 5.0) -> None:
        """Until `stopping` is set: deliver on each `byte_outbox` notification, and sweep regularly."""
        import time

        import psycopg

        url = self.db.app_url.replace("postgresql+psycopg://", "postgresql://")
        while not stopping.is_set():
            try:
                with psycopg.connect(url, autocommit=True) as conn:
                    conn.execute(f"LISTEN {OUTBOX_CHANNEL}")
                    self._safely(self.deliver_all)
                    last_sweep = time.monotonic()
                    while not stopping.is_set():
                        orgs = {n.payload for n in conn.notifies(timeout=1.0, stop_after=1)}
                        if orgs:
                            orgs |= {n.payload for n in conn.notifies(timeout=0.0)}
                        for org_id in sorted(o for o in orgs if o):
                            self._safely(self.deliver, org_id)
                        if time.monotonic() - last_sweep >= sweep_seconds:
                            self._safely(self.deliver_all)
                            last_sweep = time.monotonic()
            except Exception as exc:  # noqa: BLE001 - reconnect after a dropped connection
                if stopping.is_set():
                    return
                log.warning("outbox listener lost its connection (%s); reconnecting", exc)
                stopping.wait(1)

    def _safely(self, action, *args) -> None:
        try:
            action(*args)
        except Exception as exc:  # noqa: BLE001 - the rows stay in the outbox; the next sweep retries
            log.exception("outbox delivery failed")
            with self.stats.lock:
                self.stats.last_error = f"{type(exc).__name__}: {exc}"[:500]
