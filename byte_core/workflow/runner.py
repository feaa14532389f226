"""PostgreSQL as the queue: claim due executions with SKIP LOCKED, advance them, wake other workers."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from ..db import Database
from ..models import WorkflowExecution
from .engine import advance

WAKE_CHANNEL = "byte_wake"
DEFAULT_BATCH = 100


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def wake(session: Session) -> None:
    """Ask listening schedulers to look at this organization once the transaction commits."""
    session.execute(text("SELECT pg_notify(:channel, :org)"), {"channel": WAKE_CHANNEL, "org": session.info["org_id"]})


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


def claim_due(session: Session, now: datetime, limit: int) -> list[WorkflowExecution]:
    return list(session.scalars(
        select(WorkflowExecution)
        .where(WorkflowExecution.status == "running", WorkflowExecution.next_run_at <= now)
        .order_by(WorkflowExecution.next_run_at)
        .limit(limit)
        .with_for_update(skip_locked=True)))


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
        execution = session.scalar(select(WorkflowExecution).where(
            WorkflowExecution.id == execution_id, WorkflowExecution.status == "running").with_for_update())
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
