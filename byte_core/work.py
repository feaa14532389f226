"""All background work of one organization: due executions first (a person's decision is waiting to be
carried on: nothing runs before it), then intake, then the executions intake started. The scheduler
process and `byte scheduler tick` both use this."""
from __future__ import annotations

from datetime import datetime

from .db import Database
from .intake.service import process_pending
from .workflow.runner import DEFAULT_BATCH, TickResult, drain_org, org_ids


def drain_everything(db: Database, org_id: str, now: datetime | None = None, batch_size: int = DEFAULT_BATCH
                     ) -> TickResult:
    result = drain_org(db, org_id, now, batch_size)
    submissions = process_pending(db, org_id, now=now)
    if submissions:
        result.add(drain_org(db, org_id, now, batch_size))
    result.submissions = submissions
    return result


def tick_everything(db: Database, now: datetime | None = None) -> TickResult:
    total = TickResult()
    for org_id in org_ids(db):
        total.add(drain_everything(db, org_id, now))
    return total
