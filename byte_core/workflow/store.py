"""All workflow SQL: the one owner of `workflow_executions`, `workflow_execution_steps` (step visits) and
`tasks` rows. The engine (pure) and the commands (what people do) call it; nothing else writes these
tables. Read models (task_queue, dashboard, analytics, inspect) only read them, through `TASK_OPEN`.

Every write here happens in the caller's transaction; callers write their activity rows in the same one.
"""
from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable

from sqlalchemy import bindparam, func, select, text, tuple_, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from ..bulk_rows import insert_rows, update_rows
from ..errors import NotFound
from ..models import ActivityLog, Contact, StepVisit, Task, User, WorkflowExecution
from ..notifications import emit
from ..notifications.events import events_from_activity
from .definition import Definition
from .definitions import load_version
from .engine import (ExecutionState, RunResult, Snapshot, TaskState, VisitState, activity_row, failure_result,
                     run_execution, user_key)
from .lifecycle import TASK_OPEN, VISIT_OPEN, TaskView

log = logging.getLogger("byte.workflow.store")
WAKE_CHANNEL = "byte_wake"
E, V, T = WorkflowExecution.__table__, StepVisit.__table__, Task.__table__


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


# --- waking the schedulers ------------------------------------------------------------------------------------
def wake(session: Session, org_id: str | None = None) -> None:
    """Ask listening schedulers to look at this organization once the transaction commits."""
    session.execute(text("SELECT pg_notify(:channel, :org)"),
                    {"channel": WAKE_CHANNEL, "org": org_id or session.info["org_id"]})


def nudge(session: Session, execution_id: uuid.UUID, now: datetime) -> None:
    """Make a running execution due now so the scheduler re-checks what it waits on."""
    result = session.execute(update(WorkflowExecution).where(
        WorkflowExecution.id == execution_id, WorkflowExecution.status == "running").values(next_run_at=now))
    if result.rowcount:
        wake(session)


# --- executions ------------------------------------------------------------------------------------------------
_EXECUTION_COLUMNS = [E.c.id, E.c.org_id, E.c.workflow_definition_id, E.c.definition_version, E.c.contact_id,
                      E.c.current_step_id, E.c.current_phase_id, E.c.step_seq, E.c.variables, E.c.source,
                      E.c.source_id, E.c.metadata]


def _state(row) -> ExecutionState:
    return ExecutionState(row.id, row.org_id, row.workflow_definition_id, row.definition_version, row.contact_id,
                          row.current_step_id, row.current_phase_id, row.step_seq, row.variables or {}, row.source,
                          row.source_id, row.metadata or {})


def claim_due(session: Session, now: datetime, limit: int) -> list[ExecutionState]:
    """Due running executions, locked for this transaction; rows other workers hold are skipped."""
    rows = session.execute(select(*_EXECUTION_COLUMNS)
                           .where(E.c.status == "running", E.c.next_run_at <= now)
                           .order_by(E.c.next_run_at).limit(limit).with_for_update(skip_locked=True))
    return [_state(r) for r in rows]


def lock_running(session: Session, execution_id: uuid.UUID) -> ExecutionState | None:
    row = session.execute(select(*_EXECUTION_COLUMNS).where(E.c.id == execution_id, E.c.status == "running")
                          .with_for_update()).first()
    return _state(row) if row else None


def lock_execution(session: Session, execution_id: uuid.UUID) -> WorkflowExecution:
    row = session.scalar(select(WorkflowExecution).where(WorkflowExecution.id == execution_id).with_for_update())
    if row is None:
        raise NotFound(f"no execution {execution_id} in this organization")
    return row


def set_execution_status(session: Session, execution: WorkflowExecution, status: str, reason: str,
                         now: datetime) -> None:
    """A person's pause/resume/cancel/retry: a running execution is due at once (and schedulers woken)."""
    execution.status, execution.status_reason, execution.updated_at = status, reason, now
    execution.next_run_at = now if status == "running" else None
    if status == "running":
        execution.last_error = None
        wake(session)


def insert_execution(session: Session, values: dict[str, Any]) -> None:
    session.execute(E.insert().values(**values))


# --- advancing a batch -------------------------------------------------------------------------------------------
@dataclass
class AdvanceStats:
    executions: int = 0
    steps: int = 0
    failed: int = 0


def advance(session: Session, executions: list[ExecutionState], now: datetime) -> AdvanceStats:
    """Advance every given (locked, running) execution as far as it can go at `now`.

    The batch's writes go in together inside a savepoint; if the database refuses them (one execution's
    data breaks a constraint or an index limit), each execution is applied on its own and the ones the
    database refuses fail alone, with the database's reason."""
    stats = AdvanceStats(executions=len(executions))
    if not executions:
        return stats
    definitions: dict[uuid.UUID, Definition | Exception] = {}
    for execution in executions:
        try:
            definitions[execution.id] = load_version(session, execution.workflow_definition_id,
                                                     execution.definition_version)
        except Exception as exc:  # noqa: BLE001 - a missing version fails its executions, not the batch
            definitions[execution.id] = exc
    snapshots = load_snapshots(session, executions, definitions)
    results = []
    for execution in executions:
        definition = definitions[execution.id]
        if isinstance(definition, Exception):
            results.append(failure_result(execution, execution.current_step_id, str(definition), now))
        else:
            results.append(run_execution(snapshots[execution.id], definition, now))
    try:
        with session.begin_nested():
            apply_results(session, executions, results, now)
    except DBAPIError:
        log.warning("a batch of %d executions was refused by the database; applying them one by one",
                    len(executions), exc_info=True)
        _apply_one_by_one(session, executions, results, now)
    for result in results:
        stats.steps += result.steps_done
        stats.failed += result.failure is not None or result.ended == "failed"
    return stats


def _apply_one_by_one(session: Session, executions: list[ExecutionState], results: list[RunResult],
                      now: datetime) -> None:
    by_id = {e.id: e for e in executions}
    for index, result in enumerate(results):
        execution = by_id[result.execution_id]
        try:
            with session.begin_nested():
                apply_results(session, [execution], [result], now)
        except DBAPIError as exc:
            reason = f"{execution.current_step_id or 'step'}: the database refused this step's data " \
                     f"({type(exc.orig).__name__}: {str(exc.orig).splitlines()[0][:300]})"
            failed = failure_result(execution, execution.current_step_id, reason, now)
            results[index] = failed
            with session.begin_nested():
                apply_results(session, [execution], [failed], now)


def load_snapshots(session: Session, executions: list[ExecutionState],
                   definitions: dict[uuid.UUID, Definition | Exception]) -> dict[uuid.UUID, Snapshot]:
    """Everything the batch's runs read, loaded up front in a few queries (the runs then run no SQL)."""
    ids = [e.id for e in executions]
    contact_rows = session.execute(select(Contact.__table__).where(
        Contact.__table__.c.id.in_({e.contact_id for e in executions}))).mappings()
    contacts = {row["id"]: dict(row) for row in contact_rows}
    pairs = [(e.id, e.step_seq) for e in executions if e.step_seq]
    visits: dict[uuid.UUID, VisitState] = {}
    if pairs:
        for row in session.execute(select(V).where(tuple_(V.c.workflow_execution_id, V.c.seq).in_(pairs))):
            visits[row.workflow_execution_id] = VisitState(
                row.id, row.seq, row.step_id, row.phase_id, row.step_type, row.entered_at, row.status, row.outcome,
                row.left_at, row.duration_ms, row.timeout_at, row.output or {}, row.error)
    tasks: dict[uuid.UUID, dict[uuid.UUID, TaskState]] = {i: {} for i in ids}
    for row in session.execute(select(T.c.id, T.c.workflow_execution_id, T.c.title, T.c.status, T.c.outcome,
                                      T.c.outcome_comment, T.c.completed_by, T.c.assigned_to, T.c.assigned_role)
                               .where(T.c.workflow_execution_id.in_(ids), T.c.step_visit_id.is_not(None))):
        tasks[row.workflow_execution_id][row.id] = TaskState(
            row.id, row.title, row.status, row.outcome, row.outcome_comment, row.completed_by, row.assigned_to,
            row.assigned_role)
    users = _named_users(session, definitions.values())
    return {e.id: Snapshot(e, visits.get(e.id), tasks[e.id], contacts.get(e.contact_id), users) for e in executions}


def _named_users(session: Session, definitions: Iterable[Definition | Exception]) -> dict[str, str | None]:
    keys = set()
    for definition in definitions:
        if isinstance(definition, Definition):
            for step in definition.steps:
                target = step.config.get("assign_to") or {}
                if isinstance(target, dict) and target.get("type") == "user" and target.get("user"):
                    keys.add(user_key(target["user"]))
    if not keys:
        return {}
    found: dict[str, str | None] = dict.fromkeys(keys)
    for user_id, email in session.execute(select(User.id, User.email).where(
            User.is_active.is_(True), (User.id.in_(keys)) | (func.lower(User.email).in_(keys)))):
        found[user_key(user_id)] = user_id
        found[user_key(email)] = user_id
    return found


_EXEC_SET = ("variables", "step_seq", "current_step_id", "current_phase_id", "updated_at", "next_run_at", "status",
             "completed_at", "metadata", "last_error", "status_reason")
_VISIT_SET = ("status", "outcome", "left_at", "duration_ms", "timeout_at", "output", "error")
# Not bulk_rows.update_rows: `tags` is an array column, and unnest would flatten an array of arrays.
_UPDATE_CONTACT = Contact.__table__.update().where(Contact.__table__.c.id == bindparam("key")).values(
    tags=bindparam("v_tags"), metadata=bindparam("v_metadata"), updated_at=bindparam("v_updated_at"))


def apply_results(session: Session, executions: list[ExecutionState], results: list[RunResult],
                  now: datetime) -> None:
    """Write what the runs returned: new visits, then tasks (they point at visits), then audit rows
    (they point at tasks), then the executions themselves; failures and endings close open tasks."""
    by_id = {e.id: e for e in executions}
    good = [r for r in results if r.failure is None]
    new_visits = [_visit_row(by_id[r.execution_id], v) for r in good for v in r.new_visits]
    insert_rows(session, StepVisit, new_visits)
    update_rows(session, StepVisit, [{"id": v.id, **{c: getattr(v, c) for c in _VISIT_SET}}
                                     for r in good for v in r.changed_visits])
    insert_rows(session, Task, [task for r in good for task in r.new_tasks])
    for result in good:
        for task_id, values in result.task_changes:
            update_task(session, task_id, **values)
    contacts = [{"key": by_id[r.execution_id].contact_id, "v_tags": r.contact_changes["tags"],
                 "v_metadata": r.contact_changes["metadata"], "v_updated_at": now} for r in good if r.contact_changes]
    if contacts:
        session.execute(_UPDATE_CONTACT, contacts)
    audit = [row for r in results for row in r.activity]
    insert_rows(session, ActivityLog, audit)
    update_rows(session, WorkflowExecution, [{"id": r.execution_id, **{c: r.execution[c] for c in _EXEC_SET}}
                                             for r in good])
    ended = [r.execution_id for r in good if r.ended == "completed"]
    if ended:
        close_open_tasks(session, ended, "the execution completed", now)
    for result in results:
        if result.ended == "failed":
            execution = by_id[result.execution_id]
            _remember_closed(session, execution.id,
                             close_open_tasks(session, [execution.id], f"the execution failed: "
                                              f"{result.execution['last_error']}", now))
        elif result.failure is not None:
            record_failure(session, by_id[result.execution_id], *result.failure, now)
    # People hear about new, escalated and failed work in the transaction that made it (one statement).
    emit(session, events_from_activity(audit))


def _visit_row(execution: ExecutionState, visit: VisitState) -> dict[str, Any]:
    return {"id": visit.id, "org_id": execution.org_id, "workflow_execution_id": execution.id, "seq": visit.seq,
            "step_id": visit.step_id, "phase_id": visit.phase_id, "step_type": visit.step_type,
            "entered_at": visit.entered_at, "status": visit.status, "outcome": visit.outcome,
            "left_at": visit.left_at, "duration_ms": visit.duration_ms, "timeout_at": visit.timeout_at,
            "output": visit.output, "error": visit.error}


def record_failure(session: Session, execution: ExecutionState, failing_step: str | None, reason: str,
                   now: datetime) -> None:
    """The execution fails alone: its open visit is marked failed, its open tasks are closed with the
    reason (remembered, so a retry re-opens exactly those). The run's other writes were never applied."""
    session.execute(V.update().where(V.c.workflow_execution_id == execution.id, V.c.seq == execution.step_seq,
                                     V.c.status.in_(VISIT_OPEN))
                    .values(status="failed", error=reason, left_at=now))
    session.execute(E.update().where(E.c.id == execution.id).values(
        status="failed", last_error=reason, status_reason=reason, next_run_at=None, updated_at=now))
    _remember_closed(session, execution.id,
                     close_open_tasks(session, [execution.id], f"the execution failed: {reason}", now))


def _remember_closed(session: Session, execution_id: uuid.UUID, closed: dict[uuid.UUID, list[uuid.UUID]]) -> None:
    ids = [str(task_id) for task_id in closed.get(execution_id, [])]
    session.execute(text("UPDATE workflow_executions SET metadata = coalesce(metadata, '{}'::jsonb)"
                         " || jsonb_build_object('closed_by_failure', CAST(:ids AS jsonb)) WHERE id = :id"),
                    {"ids": json.dumps(ids), "id": execution_id})


_CLOSE_SQL = """
WITH closed AS (
  UPDATE tasks SET status = 'cancelled', closed_reason = :reason, version = version + 1, updated_at = :now
   WHERE {column} = ANY(:ids) AND status IN ('todo', 'in_progress')
  RETURNING id, org_id, workflow_execution_id, contact_id, title
), audit AS (
  INSERT INTO activity_log (id, org_id, entity_type, entity_id, workflow_execution_id, contact_id, task_id, action,
                            details, created_at)
  SELECT gen_random_uuid(), org_id, 'task', id, workflow_execution_id, contact_id, id, 'task_closed',
         jsonb_build_object('reason', CAST(:reason AS text), 'title', title), :now FROM closed
)
SELECT workflow_execution_id, id FROM closed"""
_CLOSE_OPEN_TASKS = text(_CLOSE_SQL.format(column="workflow_execution_id"))
_CLOSE_VISIT_TASKS = text(_CLOSE_SQL.format(column="step_visit_id"))
_CLOSE_TASKS = text(_CLOSE_SQL.format(column="id"))


def close_open_tasks(session: Session, execution_ids: list[uuid.UUID], reason: str, now: datetime
                     ) -> dict[uuid.UUID, list[uuid.UUID]]:
    """Close (cancel) every open task of these executions with `reason`, one audit row per task."""
    closed: dict[uuid.UUID, list[uuid.UUID]] = {}
    for execution_id, task_id in session.execute(_CLOSE_OPEN_TASKS, {"ids": list(execution_ids), "reason": reason,
                                                                     "now": now}):
        closed.setdefault(execution_id, []).append(task_id)
    return closed


def close_visit_tasks(session: Session, visit_ids: list[uuid.UUID], reason: str, now: datetime,
                      also: list[uuid.UUID] = ()) -> list[uuid.UUID]:
    """Close the open tasks created by these step visits (and the tasks `also` names), one audit row each."""
    closed = [task_id for _, task_id in session.execute(_CLOSE_VISIT_TASKS, {"ids": list(visit_ids), "reason": reason,
                                                                             "now": now})]
    if also:
        closed += [task_id for _, task_id in session.execute(_CLOSE_TASKS, {"ids": list(also), "reason": reason,
                                                                            "now": now})]
    return closed


def cancel_open_visits(session: Session, execution_id: uuid.UUID, now: datetime) -> None:
    session.execute(V.update().where(V.c.workflow_execution_id == execution_id, V.c.status.in_(VISIT_OPEN))
                    .values(status="cancelled", left_at=now))


_REOPEN_TASKS = text("""
WITH reopened AS (
  UPDATE tasks SET status = CASE WHEN assigned_to IS NULL THEN 'todo' ELSE 'in_progress' END, closed_reason = NULL,
                   version = version + 1, updated_at = :now
   WHERE id = ANY(:ids) AND status = 'cancelled'
  RETURNING id, org_id, workflow_execution_id, contact_id, title
), audit AS (
  INSERT INTO activity_log (id, org_id, entity_type, entity_id, workflow_execution_id, contact_id, task_id, action,
                            details, created_at)
  SELECT gen_random_uuid(), org_id, 'task', id, workflow_execution_id, contact_id, id, 'task_reopened',
         jsonb_build_object('reason', CAST(:reason AS text), 'title', title), :now FROM reopened
)
SELECT id FROM reopened""")


def reopen_after_failure(session: Session, execution: WorkflowExecution, now: datetime) -> list[uuid.UUID]:
    """Undo what a failure closed, so a retry goes on with exactly the work that was open: the failed visit
    is open again (its timer restarts now) and the tasks the failure closed are open again."""
    session.execute(V.update().where(V.c.workflow_execution_id == execution.id, V.c.seq == execution.step_seq,
                                     V.c.status == "failed")
                    .values(status="running", error=None, left_at=None, timeout_at=None,
                            output=V.c.output.op("||")(func.jsonb_build_object("timer_restarted_at", now.isoformat()))))
    ids = [uuid.UUID(i) for i in (execution.metadata_ or {}).get("closed_by_failure", [])]
    if ids:
        ids = reopen_tasks(session, ids, "the execution was retried", now)
    execution.metadata_ = {k: v for k, v in (execution.metadata_ or {}).items() if k != "closed_by_failure"}
    return ids


def reopen_tasks(session: Session, task_ids: list[uuid.UUID], reason: str, now: datetime) -> list[uuid.UUID]:
    """Re-open tasks the lifecycle closed (never ones people finished), one audit row each."""
    return [row.id for row in session.execute(_REOPEN_TASKS, {"ids": list(task_ids), "reason": reason, "now": now})]


# --- visits and positions (migrations between versions) ------------------------------------------------------------
def visit_at(session: Session, execution_id: uuid.UUID, seq: int) -> StepVisit | None:
    return session.scalar(select(StepVisit).where(StepVisit.workflow_execution_id == execution_id,
                                                  StepVisit.seq == seq))


def visits_after(session: Session, execution_id: uuid.UUID, seq: int) -> list[StepVisit]:
    return list(session.scalars(select(StepVisit).where(StepVisit.workflow_execution_id == execution_id,
                                                        StepVisit.seq > seq).order_by(StepVisit.seq)))


def update_visit(session: Session, visit_id: uuid.UUID, **values: Any) -> None:
    session.execute(V.update().where(V.c.id == visit_id).values(**values))


def tasks_of_visits(session: Session, visit_ids: list[uuid.UUID]) -> list[Task]:
    return list(session.scalars(select(Task).where(Task.step_visit_id.in_(visit_ids))))


def place_execution(session: Session, execution: WorkflowExecution, *, version: int, step_id: str,
                    phase_id: str | None, step_seq: int, now: datetime, variables: dict | None = None) -> None:
    """Put an execution on a step of a version (a migration or its revert); a running one is due at once."""
    execution.definition_version, execution.current_step_id, execution.current_phase_id = version, step_id, phase_id
    execution.step_seq, execution.updated_at = step_seq, now
    if variables is not None:
        execution.variables = variables
    if execution.status == "running":
        execution.next_run_at = now
        wake(session)


# --- tasks -------------------------------------------------------------------------------------------------------
def lock_task(session: Session, task_id: uuid.UUID) -> tuple[Task, TaskView]:
    """The task under a row lock (its execution's row locked too, so a pause cannot slip in between),
    with what the lifecycle rules need to judge an action on it."""
    task = session.scalar(select(Task).where(Task.id == task_id).with_for_update(of=Task))
    if task is None:
        raise NotFound("This task does not exist in this organization (it may have been removed).")
    execution = None
    if task.workflow_execution_id is not None:
        execution = session.execute(select(E.c.status, E.c.status_reason, E.c.updated_at)
                                    .where(E.c.id == task.workflow_execution_id).with_for_update()).first()
    view = TaskView(task.id, task.title, task.task_type or "standard", task.status, task.version, task.assigned_to,
                    task.assigned_role, task.updated_at, task.completed_at, task.completed_by, task.outcome,
                    task.closed_reason, execution.status if execution else None,
                    execution.status_reason if execution else None, execution.updated_at if execution else None)
    return task, view


def update_task(session: Session, task_id: uuid.UUID, **values: Any) -> None:
    """Change a task; every change moves its version on (what optimistic concurrency compares)."""
    session.execute(T.update().where(T.c.id == task_id).values(**values, version=T.c.version + 1))


def open_task_ids(session: Session, task_ids: list[uuid.UUID]) -> list[uuid.UUID]:
    return list(session.scalars(select(Task.id).where(Task.id.in_(task_ids), Task.status.in_(TASK_OPEN))
                                .order_by(Task.id)))


def user_name(session: Session, user_id: str | None) -> str:
    if user_id is None:
        return "nobody"
    user = session.get(User, user_id)
    return user.display_name if user else "a former user"


def record(session: Session, execution: ExecutionState | WorkflowExecution, action: str, details: dict[str, Any],
           now: datetime) -> None:
    """An execution-level audit row written by the engine side (no person acting)."""
    state = execution if isinstance(execution, ExecutionState) else _state_of(execution)
    insert_rows(session, ActivityLog, [activity_row(state, action, details, now)])


def _state_of(row: WorkflowExecution) -> ExecutionState:
    return ExecutionState(row.id, row.org_id, row.workflow_definition_id, row.definition_version, row.contact_id,
                          row.current_step_id, row.current_phase_id, row.step_seq, row.variables or {}, row.source,
                          row.source_id, row.metadata_ or {})
