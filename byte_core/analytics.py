"""Read models for the Analytics page. Every aggregation runs in SQL and returns a few chart-ready rows;
nothing loads a whole table into Python."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from sqlalchemy import func, select, true

from .access import Actor, require_role
from .db import Database
from .models import ActivityLog, Task, User, WorkflowDefinition, WorkflowExecution, StepVisit
from .workflow.definitions import phase_positions

E, T, V = WorkflowExecution, Task, StepVisit
from .workflow.lifecycle import TASK_OPEN as OPEN
CYCLE_SAMPLE = 10_000
WORKLOAD_SAMPLE = 20_000


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
        positions = phase_positions(definition)
        mine = [(positions.get(phase, (-1,))[0], total, now) for d, phase, total, now in groups if d == definition_id]
        if not mine:
            continue
        for index, name in sorted(positions.values()):
            rows.append({"workflow": definition.name, "phase": name, "order": index + 1,
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
        position, name = phase_positions(definition).get(phase_id, (98, phase_id))
        order = position + 1
        result.append({"workflow": definition.name if definition else "?", "phase": name, "order": order,
                       "p50_hours": round(float(p50), 2), "p90_hours": round(float(p90), 2), "executions": count})
    return sorted(result, key=lambda r: (r["workflow"], r["order"]))


def overdue_and_late(db: Database, actor: Actor, f: AnalyticsFilter, today: date | None = None
                     ) -> list[dict[str, Any]]:
    """Per role and person: open tasks past their due date, and tasks finished after it (tasks created in
    the range). Two queries, each an index-only range: open tasks by due date, finished ones by completion
    time (a task created in the range finished after the range began)."""
    require_role(actor, "manager", "admin")
    today = today or datetime.now(timezone.utc).date()
    where = _tasks_in(f)
    with db.session(actor.org_id) as session:
        overdue = session.execute(select(T.assigned_role, T.assigned_to, func.count())
                                  .where(*where, T.status.in_(OPEN), T.due_date < today)
                                  .group_by(T.assigned_role, T.assigned_to)).all()
        late = session.execute(select(T.assigned_role, T.completed_by, func.count())
                               .where(*where, T.status == "done", T.completed_at >= f.since,
                                      func.date(T.completed_at) > T.due_date)
                               .group_by(T.assigned_role, T.completed_by)).all()
        emails = _emails(session)
    counts: dict[tuple[str, str], list[int]] = {}
    for column, rows in ((0, overdue), (1, late)):
        for role, user_id, count in rows:
            key = (role or "(person)", emails.get(user_id, "(unclaimed)") if user_id else "(unclaimed)")
            counts.setdefault(key, [0, 0])[column] += count
    return [{"role": role, "person": who, "overdue_open": overdue_open, "finished_late": finished_late}
            for (role, who), (overdue_open, finished_late) in sorted(counts.items(), key=lambda i: (-i[1][0], i[0]))]


TIMEOUT_ERROR = "% timed out after %"  # the engine's message when a wait with on_timeout "fail" runs out
FOLLOWED = {"fail": "failed the execution", "escalate": "escalated", "goto": "went to another step"}


def timeouts(db: Database, actor: Actor, f: AnalyticsFilter) -> list[dict[str, Any]]:
    """Waits that ran out of time, for executions started in the range, per workflow, step and what followed.
    A wait whose policy fails the execution leaves no `step_timed_out` row (the failing run's writes are rolled
    back), so those are the failed executions whose error says so; escalations and gotos come from the log."""
    require_role(actor, "manager", "admin")
    in_range = _executions_in(f)
    step_id, policy = ActivityLog.details["step_id"].astext, ActivityLog.details["policy"].astext
    with db.session(actor.org_id) as session:
        failed = session.execute(select(E.workflow_definition_id, E.current_step_id, func.count())
                                 .where(*in_range, E.status == "failed", E.last_error.like(TIMEOUT_ERROR))
                                 .group_by(E.workflow_definition_id, E.current_step_id)).all()
        # An event follows its execution's start, so the log is read from the range's start only.
        moved_on = session.execute(select(E.workflow_definition_id, step_id, policy, func.count())
                                   .join(E, E.id == ActivityLog.workflow_execution_id)
                                   .where(ActivityLog.action == "step_timed_out", ActivityLog.created_at >= f.since,
                                          policy != "fail", *in_range)
                                   .group_by(E.workflow_definition_id, step_id, policy)).all()
        definitions = _definitions(session)
    counts: dict[tuple[str, str, str], int] = {}
    for definition_id, step, followed, count in [(d, s, "fail", c) for d, s, c in failed] + list(moved_on):
        definition = definitions.get(definition_id)
        steps = (definition.steps or {}).get("steps", []) if definition else []
        name = next((x.get("name") for x in steps if x.get("id") == step), step) or "?"
        key = (definition.name if definition else "?", name, FOLLOWED.get(followed, followed or "?"))
        counts[key] = counts.get(key, 0) + count
    return [{"workflow": w, "step": s, "what_followed": p, "timeouts": c}
            for (w, s, p), c in sorted(counts.items(), key=lambda item: (-item[1], item[0]))]


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
    """Per person: tasks held open now, tasks completed in the range (both exact, each counted through its
    own partial index), and median hours from creation to done over the range's latest WORKLOAD_SAMPLE
    completions (the exact median sorted every completion: 0.3 s at 340k)."""
    require_role(actor, "manager", "admin")
    in_definition = ([T.workflow_execution_id.in_(select(E.id).where(E.workflow_definition_id == f.definition_id))]
                     if f.definition_id else [])
    hours = func.extract("epoch", T.completed_at - T.created_at) / 3600
    with db.session(actor.org_id) as session:
        held = dict(session.execute(select(T.assigned_to, func.count())
                                    .where(T.status.in_(OPEN), T.assigned_to.is_not(None), *in_definition)
                                    .group_by(T.assigned_to)).all())
        finished = [T.status == "done", T.completed_at >= f.since, T.completed_at < f.until,
                    T.completed_by.is_not(None), *in_definition]
        counts = dict(session.execute(select(T.completed_by, func.count()).where(*finished)
                                      .group_by(T.completed_by)).all())
        latest = (select(T.completed_by, hours.label("hours")).where(*finished)
                  .order_by(T.completed_at.desc()).limit(WORKLOAD_SAMPLE).subquery())
        medians = dict(session.execute(select(latest.c.completed_by,
                                              func.percentile_cont(0.5).within_group(latest.c.hours))
                                       .group_by(latest.c.completed_by)).all())
        done = {user_id: (count, medians.get(user_id)) for user_id, count in counts.items()}
        emails = _emails(session)
    rows = []
    for user_id in set(held) | set(done):
        if user_id not in emails:
            continue
        count, median = done.get(user_id, (0, None))
        rows.append({"person": emails[user_id], "open_held": held.get(user_id, 0), "completed": count,
                     "median_hours_to_done": round(float(median), 1) if median is not None else None})
    return sorted(rows, key=lambda r: (-r["open_held"], -r["completed"], r["person"]))


def _emails(session) -> dict[uuid.UUID, str]:
    return dict(session.execute(select(User.id, User.email)).all())


def pipeline_board(db: Database, actor: Actor, today: date | None = None) -> list[dict[str, Any]]:
    """For each workflow, its phases in order with running executions and how many of them are overdue (an
    open task of theirs is past its due date). Every phase of every definition appears, empty ones as 0."""
    require_role(actor, "manager", "admin")
    today = today or datetime.now(timezone.utc).date()
    with db.session(actor.org_id) as session:
        running = session.execute(select(E.workflow_definition_id, E.current_phase_id, func.count())
                                  .where(E.status == "running")
                                  .group_by(E.workflow_definition_id, E.current_phase_id)).all()
        # From the overdue tasks (few) to their executions, rather than a lookup per running execution.
        overdue = session.execute(select(E.workflow_definition_id, E.current_phase_id, func.count(E.id.distinct()))
                                  .join(T, T.workflow_execution_id == E.id)
                                  .where(E.status == "running", T.status.in_(OPEN), T.due_date < today)
                                  .group_by(E.workflow_definition_id, E.current_phase_id)).all()
        definitions = _definitions(session)
    now = {(d, p): c for d, p, c in running}
    late = {(d, p): c for d, p, c in overdue}
    rows = []
    for definition_id, definition in sorted(definitions.items(), key=lambda item: item[1].name):
        for phase_id, (index, name) in sorted(phase_positions(definition).items(), key=lambda item: item[1][0]):
            rows.append({"workflow": definition.name, "definition_id": definition_id, "phase_id": phase_id,
                         "phase": name, "order": index + 1, "running": now.get((definition_id, phase_id), 0),
                         "overdue": late.get((definition_id, phase_id), 0)})
    return rows


@dataclass(frozen=True)
class WeekFigures:
    started: int
    finished: int
    median_cycle_hours: float | None


def week_over_week(db: Database, actor: Actor, today: date | None = None, definition_id: uuid.UUID | None = None
                   ) -> tuple[WeekFigures, WeekFigures]:
    """(last 7 days including today, the 7 days before): executions started, executions completed, and the
    median hours from start to completion of those completed."""
    require_role(actor, "manager", "admin")
    today = today or datetime.now(timezone.utc).date()
    weeks = []
    for first in (today - timedelta(days=6), today - timedelta(days=13)):
        f = AnalyticsFilter(first, first + timedelta(days=6), definition_id)
        finished_where = [E.status == "completed", E.completed_at >= f.since, E.completed_at < f.until]
        if definition_id:
            finished_where.append(E.workflow_definition_id == definition_id)
        hours = func.extract("epoch", E.completed_at - E.started_at) / 3600
        with db.session(actor.org_id) as session:
            started = session.scalar(select(func.count()).select_from(E).where(*_executions_in(f))) or 0
            finished, median = session.execute(select(func.count(), func.percentile_cont(0.5).within_group(hours))
                                               .where(*finished_where)).one()
        weeks.append(WeekFigures(started, finished or 0, round(float(median), 1) if median is not None else None))
    return weeks[0], weeks[1]


CHARTS = {chart.__name__: chart for chart in (phase_funnel, started_completed_over_time, cycle_time_per_phase,
                                               approval_rates, overdue_and_late, timeouts, reviewer_workload)}


def all_charts(db: Database, actor: Actor, f: AnalyticsFilter, workers: int = 3) -> dict[str, list[dict[str, Any]]]:
    """Every chart's rows, the aggregations running side by side on their own connections (each is one
    read-only query or two, so the page waits for the slowest rather than for their sum)."""
    require_role(actor, "manager", "admin")
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(workers, thread_name_prefix="analytics") as pool:
        futures = {name: pool.submit(chart, db, actor, f) for name, chart in CHARTS.items()}
        return {name: future.result() for name, future in futures.items()}
