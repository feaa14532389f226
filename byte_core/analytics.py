"""Read models for the Analytics page. Every aggregation runs in SQL and returns a few chart-ready rows;
nothing loads a whole table into Python."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from sqlalchemy import and_, case, func, literal, or_, select, true

from .access import Actor, require_role
from .db import Database
from .models import ActivityLog, Task, User, WorkflowDefinition, WorkflowExecution, WorkflowExecutionStep

E, T, V = WorkflowExecution, Task, WorkflowExecutionStep
CYCLE_SAMPLE = 20_000


@dataclass(frozen=True)
class AnalyticsFilter:
    start: date
    end: date
    definition_id: uuid.UUID | None = None

    @property
    def since(self) -> datetime:
        return datetime.combine(self.start, time.min, timezone.utc)

    @property
    def until(self) -> datetime:
        return datetime.combine(self.end + timedelta(days=1), time.min, timezone.utc)


def _executions_in(f: AnalyticsFilter) -> list:
    where = [E.started_at >= f.since, E.started_at < f.until]
    if f.definition_id:
        where.append(E.workflow_definition_id == f.definition_id)
    return where


def _tasks_in(f: AnalyticsFilter) -> list:
    where = [T.created_at >= f.since, T.created_at < f.until]
    if f.definition_id:
        where.append(T.workflow_execution_id.in_(select(E.id).where(E.workflow_definition_id == f.definition_id)))
    return where


def _definitions(session) -> dict[uuid.UUID, WorkflowDefinition]:
    return {d.id: d for d in session.scalars(select(WorkflowDefinition))}


def phase_funnel(db: Database, actor: Actor, f: AnalyticsFilter) -> list[dict[str, Any]]:
    """Per workflow and phase, in phase order: executions that reached the phase (their current phase is
    this one or a later one) and executions sitting in it now (running or paused)."""
    require_role(actor, "manager", "admin")
    with db.session(actor.org_id) as session:
        groups = session.execute(select(E.workflow_definition_id, E.current_phase_id,
                                        func.count(), func.count().filter(E.status.in_(("running", "paused"))))
                                 .where(*_executions_in(f)).group_by(E.workflow_definition_id, E.current_phase_id)).all()
        definitions = _definitions(session)
    rows = []
    for definition_id, definition in definitions.items():
        phases = sorted(definition.phases or [], key=lambda p: p.get("order", 0))
        order = {p["id"]: i for i, p in enumerate(phases)}
        mine = [(order.get(phase, -1), total, now) for d, phase, total, now in groups if d == definition_id]
        if not mine:
            continue
        for index, phase in enumerate(phases):
            rows.append({"workflow": definition.name, "phase": phase.get("name", phase["id"]), "order": index + 1,
                         "reached": sum(t for o, t, _ in mine if o >= index),
                         "in_phase_now": sum(n for o, _, n in mine if o == index)})
    return rows


def started_completed_over_time(db: Database, actor: Actor, f: AnalyticsFilter) -> list[dict[str, Any]]:
    require_role(actor, "manager", "admin")
    day = func.date_trunc("day", E.started_at)
    finished_day = func.date_trunc("day", func.coalesce(E.completed_at, E.updated_at))
    with db.session(actor.org_id) as session:
        started = session.execute(select(day, func.count()).where(*_executions_in(f)).group_by(day)).all()
        where = [func.coalesce(E.completed_at, E.updated_at) >= f.since,
                 func.coalesce(E.completed_at, E.updated_at) < f.until, E.status.in_(("completed", "failed"))]
        if f.definition_id:
            where.append(E.workflow_definition_id == f.definition_id)
        finished = session.execute(select(finished_day, func.count().filter(E.status == "completed"),
                                          func.count().filter(E.status == "failed"))
                                   .where(*where).group_by(finished_day)).all()
    by_day: dict[date, dict[str, Any]] = {}
    for moment, count in started:
        by_day.setdefault(moment.date(), {"day": moment.date(), "started": 0, "completed": 0, "failed": 0})["started"] = count
    for moment, completed, failed in finished:
        row = by_day.setdefault(moment.date(), {"day": moment.date(), "started": 0, "completed": 0, "failed": 0})
        row["completed"], row["failed"] = completed, failed
    return [by_day[d] for d in sorted(by_day)]


def cycle_time_per_phase(db: Database, actor: Actor, f: AnalyticsFilter) -> list[dict[str, Any]]:
    """Hours an execution spent in each phase it has left, p50 and p90, from the step history of the latest
    CYCLE_SAMPLE executions started in the range (percentiles settle long before that; reading every step
    of 300k executions took seconds)."""
    require_role(actor, "manager", "admin")
    sample = (select(E.id, E.workflow_definition_id).where(*_executions_in(f)).order_by(E.started_at.desc())
              .limit(CYCLE_SAMPLE).subquery())
    # LATERAL: each sampled execution's own steps through (workflow_execution_id, seq); joined plainly, the
    # planner scanned the step rows of every execution in the organization.
    phases = (select(V.phase_id.label("phase_id"),
                     (func.extract("epoch", func.max(V.left_at) - func.min(V.entered_at)) / 3600).label("hours"))
              .where(V.workflow_execution_id == sample.c.id, V.left_at.is_not(None), V.phase_id.is_not(None))
              .group_by(V.phase_id).lateral())
    per_visit = (select(sample.c.workflow_definition_id.label("definition_id"), phases.c.phase_id, phases.c.hours)
                 .select_from(sample).join(phases, true()).subquery())
    with db.session(actor.org_id) as session:
        rows = session.execute(select(per_visit.c.definition_id, per_visit.c.phase_id,
                                      func.percentile_cont(0.5).within_group(per_visit.c.hours),
                                      func.percentile_cont(0.9).within_group(per_visit.c.hours), func.count())
                               .group_by(per_visit.c.definition_id, per_visit.c.phase_id)).all()
        definitions = _definitions(session)
    result = []
    for definition_id, phase_id, p50, p90, count in rows:
        definition = definitions.get(definition_id)
        phases = {p["id"]: (p.get("order", 0), p.get("name", p["id"])) for p in (definition.phases or [])} if definition else {}
        order, name = phases.get(phase_id, (99, phase_id))
        result.append({"workflow": definition.name if definition else "?", "phase": name, "order": order,
                       "p50_hours": round(float(p50), 2), "p90_hours": round(float(p90), 2), "executions": count})
    return sorted(result, key=lambda r: (r["workflow"], r["order"]))


def overdue_and_late(db: Database, actor: Actor, f: AnalyticsFilter, today: date | None = None
                     ) -> list[dict[str, Any]]:
    """Per role and person: open tasks past their due date, and tasks finished after it."""
    require_role(actor, "manager", "admin")
    today = today or datetime.now(timezone.utc).date()
    open_overdue = and_(T.status.in_(("todo", "in_progress")), T.due_date < today)
    done_late = and_(T.status == "done", func.date(T.completed_at) > T.due_date)
    person = func.coalesce(User.email, literal("(unclaimed)"))
    with db.session(actor.org_id) as session:
        rows = session.execute(select(func.coalesce(T.assigned_role, literal("(person)")), person,
                                      func.count().filter(open_overdue), func.count().filter(done_late))
                               .outerjoin(User, User.id == T.assigned_to)
                               .where(*_tasks_in(f), T.due_date.is_not(None), or_(open_overdue, done_late))
                               .group_by(T.assigned_role, person)).all()
    return [{"role": role, "person": who, "overdue_open": overdue, "finished_late": late}
            for role, who, overdue, late in sorted(rows, key=lambda r: (-r[2], r[0], r[1]))]


def timeouts(db: Database, actor: Actor, f: AnalyticsFilter) -> list[dict[str, Any]]:
    """Wait steps that timed out, per step, with the policy that followed."""
    require_role(actor, "manager", "admin")
    step, policy = ActivityLog.details["step"].astext, ActivityLog.details["policy"].astext
    where = [ActivityLog.action == "step_timed_out", ActivityLog.created_at >= f.since,
             ActivityLog.created_at < f.until]
    if f.definition_id:
        where.append(ActivityLog.workflow_execution_id.in_(
            select(E.id).where(E.workflow_definition_id == f.definition_id)))
    with db.session(actor.org_id) as session:
        rows = session.execute(select(step, policy, func.count()).where(*where).group_by(step, policy)).all()
    return [{"step": s or "?", "policy": p or "fail", "timeouts": c} for s, p, c in sorted(rows, key=lambda r: -r[2])]


def approval_rates(db: Database, actor: Actor, f: AnalyticsFilter) -> list[dict[str, Any]]:
    require_role(actor, "manager", "admin")
    with db.session(actor.org_id) as session:
        rows = session.execute(select(E.workflow_definition_id, T.created_by_step_id,
                                      func.count().filter(T.outcome == "approved"),
                                      func.count().filter(T.outcome == "rejected"))
                               .join(E, E.id == T.workflow_execution_id)
                               .where(*_tasks_in(f), T.task_type == "approval", T.status == "done")
                               .group_by(E.workflow_definition_id, T.created_by_step_id)).all()
        definitions = _definitions(session)
    result = []
    for definition_id, step_id, approved, rejected in rows:
        definition = definitions.get(definition_id)
        steps = (definition.steps or {}).get("steps", []) if definition else []
        name = next((s.get("name") for s in steps if s.get("id") == step_id), step_id)
        decided = approved + rejected
        result.append({"workflow": definition.name if definition else "?", "step": name, "approved": approved,
                       "rejected": rejected, "approval_rate": round(approved / decided, 3) if decided else None})
    return sorted(result, key=lambda r: (r["workflow"], r["step"] or ""))


def reviewer_workload(db: Database, actor: Actor, f: AnalyticsFilter) -> list[dict[str, Any]]:
    """Per person: tasks held open now, tasks completed in the range, median hours from creation to done."""
    require_role(actor, "manager", "admin")
    completed_in = and_(T.status == "done", T.completed_at >= f.since, T.completed_at < f.until)
    hours = func.extract("epoch", T.completed_at - T.created_at) / 3600
    who = case((T.status == "done", T.completed_by), else_=T.assigned_to)
    where = [or_(T.status.in_(("todo", "in_progress")), completed_in), who.is_not(None)]
    if f.definition_id:
        where.append(T.workflow_execution_id.in_(select(E.id).where(E.workflow_definition_id == f.definition_id)))
    with db.session(actor.org_id) as session:
        per_person = (select(who.label("user_id"), func.count().filter(T.status.in_(("todo", "in_progress"))).label("open"),
                             func.count().filter(completed_in).label("done"),
                             func.percentile_cont(0.5).within_group(hours).filter(completed_in).label("median"))
                      .where(*where).group_by(who).subquery())
        rows = session.execute(select(User.email, per_person.c.open, per_person.c.done, per_person.c.median)
                               .join(User, User.id == per_person.c.user_id)).all()
    return [{"person": email, "open_held": held, "completed": done,
             "median_hours_to_done": round(float(median), 1) if median is not None else None}
            for email, held, done, median in sorted(rows, key=lambda r: (-r[1], -r[2], r[0]))]
