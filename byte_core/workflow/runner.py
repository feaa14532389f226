"""The scheduler's loop over PostgreSQL as the queue: claim due executions (SKIP LOCKED), advance them,
organization by organization. The SQL is in `store`; the rules are in `engine` and `lifecycle`."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from ..db import Database
from .store import advance, claim_due, lock_running, utcnow

DEFAULT_BATCH = 100


@dataclass
class TickResult:
    claimed: int = 0
    steps: int = 0
    failed: int = 0
    batches: int = 0
    submissions: int = 0

    def add(self, other: "TickResult") -> None:
        self.claimed += other.claimed
        self.steps += other.steps
        self.failed += other.failed
        self.batches += other.batches
        self.submissions += other.submissions


def run_batch(db: Database, org_id: str, now: datetime | None = None, batch_size: int = DEFAULT_BATCH) -> TickResult:
    """Claim and advance one batch of one organization in one transaction."""
    moment = now or utcnow()
    with db.session(org_id) as session:
        executions = claim_due(session, moment, batch_size)
        if not executions:
            return TickResult()
        stats = advance(session, executions, moment)
    return TickResult(claimed=stats.executions, steps=stats.steps, failed=stats.failed, batches=1)


def run_execution(db: Database, org_id: str, execution_id, now: datetime | None = None) -> TickResult:
    """Advance one execution now, whatever its next_run_at (the demo seed and operators use this)."""
    moment = now or utcnow()
    with db.session(org_id) as session:
        execution = lock_running(session, uuid.UUID(str(execution_id)))
        if execution is None:
            return TickResult()
        stats = advance(session, [execution], moment)
    return TickResult(claimed=stats.executions, steps=stats.steps, failed=stats.failed, batches=1)


def drain_org(db: Database, org_id: str, now: datetime | None = None, batch_size: int = DEFAULT_BATCH,
              max_batches: int | None = None) -> TickResult:
    total = TickResult()
    while max_batches is None or total.batches < max_batches:
        result = run_batch(db, org_id, now, batch_size)
        if not result.claimed:
            break
        total.add(result)
    return total


def org_ids(db: Database) -> list[str]:
    """Every organization's id, through the SECURITY DEFINER lookup (organizations is under RLS)."""
    from ..orgs import all_org_ids

    return all_org_ids(db)


def tick(db: Database, now: datetime | None = None, batch_size: int = DEFAULT_BATCH) -> TickResult:
    """Everything due as of `now`, across every organization (`byte scheduler tick`)."""
    total = TickResult()
    for org_id in org_ids(db):
        total.add(drain_org(db, org_id, now, batch_size))
    return total
