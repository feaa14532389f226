"""Read models for the Home page: my work, the pipeline at a glance, scheduler health."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import and_, func, or_, select

from .access import Actor
from .db import Database
from .models import SchedulerHeartbeat, Task, WorkflowDefinition, WorkflowExecution
from .workflow.definitions import phase_positions

from .workflow.lifecycle import TASK_OPEN as OPEN


def my_queue_filter(actor: Actor):
    """Tasks I hold, plus unclaimed tasks of my roles."""
    return or_(Task.assigned_to == actor.user_id,
               and_(Task.assigned_to.is_(None), Task.assigned_role.in_(sorted(actor.roles))))


@dataclass(frozen=True)
class WorkSummary:
    mine: int
    my_roles: int
    overdue: int
    due_today: int


def work_summary(db: Database, actor: Actor, today: date | None = None) -> WorkSummary:
    today = today or datetime.now(timezone.utc).date()
    with db.session(actor.org_id) as session:
        row = session.execute(select(
            func.count().filter(Task.assigned_to == actor.user_id),
            func.count().filter(Task.assigned_to.is_(None)),
            func.count().filter(Task.due_date < today),
            func.count().filter(Task.due_date == today),
        ).where(Task.status.in_(OPEN), my_queue_filter(actor))).one()
    return WorkSummary(*row)


def pipeline(db: Database, actor: Actor) -> list[dict]:
    """Executions per workflow, status and phase (an index-only scan: no join before grouping), phases
    named and in their definition's order."""
    e = WorkflowExecution
    with db.session(actor.org_id) as session:
        rows = session.execute(select(e.workflow_definition_id, e.status, e.current_phase_id, func.count())
                               .group_by(e.workflow_definition_id, e.status, e.current_phase_id)).all()
        definitions = {d.id: d for d in session.scalars(select(WorkflowDefinition))}
    result = []
    for definition_id, status, phase_id, count in rows:
        definition = definitions.get(definition_id)
        order, phase = phase_positions(definition).get(phase_id, (99, phase_id or "(none)"))
        result.append({"workflow": definition.name if definition else "?", "status": status, "phase": phase,
                       "phase_order": order, "count": count})
    return sorted(result, key=lambda r: (r["workflow"], r["phase_order"]))


@dataclass(frozen=True)
class WorkerHealth:
    """A scheduler process, as every organization may see it: liveness and counts, no error text (errors
    name other organizations' data; each organization sees its own failures through `recent_failures`)."""

    worker_id: str
    last_tick_at: datetime
    seconds_ago: float
    claimed: int
    advanced: int


def scheduler_health(db: Database) -> list[WorkerHealth]:
    with db.session(None) as session:
        rows = session.scalars(select(SchedulerHeartbeat).where(
            SchedulerHeartbeat.last_tick_at > func.now() - timedelta(hours=1))
            .order_by(SchedulerHeartbeat.last_tick_at.desc())).all()
    now = datetime.now(timezone.utc)
    return [WorkerHealth(r.worker_id, r.last_tick_at, (now - r.last_tick_at).total_seconds(), r.claimed, r.advanced)
            for r in rows]


@dataclass(frozen=True)
class RecentFailure:
    execution_id: object
    error: str | None
    at: datetime | None


def recent_failures(db: Database, actor: Actor, *, hours: int = 24, limit: int = 5) -> tuple[int, list[RecentFailure]]:
    """This organization's executions that failed in the last `hours`: how many, and the latest few."""
    e = WorkflowExecution
    since = datetime.now(timezone.utc) - timedelta(hours=hours)
    where = (e.status == "failed", e.updated_at >= since)
    with db.session(actor.org_id) as session:
        total = session.scalar(select(func.count()).select_from(e).where(*where)) or 0
        latest = session.execute(select(e.id, e.last_error, e.updated_at).where(*where)
                                 .order_by(e.updated_at.desc()).limit(limit)).all()
    return total, [RecentFailure(*row) for row in latest]
