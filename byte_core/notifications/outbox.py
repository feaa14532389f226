"""The outbox mechanics shared by emails and webhook deliveries.

A worker claims due rows with FOR UPDATE SKIP LOCKED and marks them `sending` with a lease, in a short
transaction of its own; it then talks to the network holding no transaction, and records each result.
So several workers never take the same row, a slow server never holds a database connection, and a
worker that dies mid-send leaves rows that another one takes again once the lease has run out (at-least-
once: the idempotency key, Message-ID or X-BYTE-Delivery, lets the receiver drop such a repeat).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

TABLES = ("email_outbox", "webhook_deliveries")
DONE_COLUMN = {"email_outbox": "sent_at", "webhook_deliveries": "delivered_at"}


@dataclass(frozen=True)
class RetryPolicy:
    base_seconds: float = 30.0
    max_seconds: float = 3600.0
    max_attempts: int = 8
    lease_seconds: float = 120.0

    def delay(self, attempts: int) -> timedelta:
        """Exponential backoff: base, 2·base, 4·base ... capped; `attempts` counts the one that just failed."""
        return timedelta(seconds=min(self.max_seconds, self.base_seconds * 2 ** max(0, attempts - 1)))


@dataclass(frozen=True)
class Outcome:
    """What one attempt came to: sent, or an error that is retried unless `permanent` or out of attempts."""

    id: object
    sent: bool
    error: str | None = None
    permanent: bool = False
    status_code: int | None = None


def claim(session: Session, table: str, limit: int, policy: RetryPolicy):
    """Due rows of the session's organization, now leased to the caller (attempts counted at claim)."""
    assert table in TABLES
    return session.execute(text(f"""
        UPDATE {table} SET status = 'sending', attempts = attempts + 1,
               locked_until = now() + make_interval(secs => :lease)
        WHERE id IN (SELECT id FROM {table}
                     WHERE (status = 'pending' AND next_attempt_at <= now())
                        OR (status = 'sending' AND locked_until < now())
                     ORDER BY next_attempt_at LIMIT :limit FOR UPDATE SKIP LOCKED)
        RETURNING *"""), {"lease": policy.lease_seconds, "limit": limit}).all()


def record(session: Session, table: str, outcomes: list[Outcome], attempts: dict, policy: RetryPolicy) -> None:
    """Write every attempt's result in one UPDATE: sent, retried later, or given up with the reason kept."""
    if not outcomes:
        return
    assert table in TABLES
    statuses, delays, errors, codes = [], [], [], []
    for outcome in outcomes:
        tries = attempts[outcome.id]
        if outcome.sent:
            statuses.append("sent")
        elif outcome.permanent or tries >= policy.max_attempts:
            statuses.append("failed")
        else:
            statuses.append("pending")
        delays.append(policy.delay(tries).total_seconds())
        errors.append(None if outcome.sent else (outcome.error or "unknown error")[:1000])
        codes.append(outcome.status_code)
    code_column = ", response_status = u.code" if table == "webhook_deliveries" else ""
    session.execute(text(f"""
        UPDATE {table} AS t SET status = u.status, locked_until = NULL, last_error = u.error{code_column},
               {DONE_COLUMN[table]} = CASE WHEN u.status = 'sent' THEN now() END,
               next_attempt_at = CASE WHEN u.status = 'pending' THEN now() + make_interval(secs => u.delay)
                                      ELSE t.next_attempt_at END
        FROM unnest(CAST(:ids AS uuid[]), CAST(:statuses AS text[]), CAST(:delays AS float8[]),
                    CAST(:errors AS text[]), CAST(:codes AS int[])) AS u(id, status, delay, error, code)
        WHERE t.id = u.id AND t.status = 'sending'"""),
        {"ids": [o.id for o in outcomes], "statuses": statuses, "delays": delays, "errors": errors, "codes": codes})
