"""Moving running executions to another version of their definition, and putting them back.

A plan is checked whole before anything changes: every step the chosen executions sit on must map to a
step of the target version, and a waiting step must land on a waiting step. Then each execution moves
in its own transaction (all of it or none of it), with an activity row from → to, and is recorded with
what it was before, so the migration can be reverted while nothing newer happened to an execution.

How an execution moves (its current step S, mapped to T):
- same kind of step (an approval onto an approval, a wait for the same task, a delay onto a delay):
  its step visit moves to T and keeps its open task ("kept"); the timer restarts from T's settings;
- another waiting kind: the visit's open tasks are closed, the visit is left, and the engine enters T
  afresh, creating T's task ("recreated");
- not waiting on anything (due): it simply continues at T ("moved").
"""
from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

from sqlalchemy import select

from .. import activity
from ..access import Actor, require_role
from ..db import Database
from ..errors import InvalidInput, NotFound
from ..ids import as_uuid
from ..models import Contact, WorkflowDefinition, WorkflowExecution, WorkflowMigration, WorkflowMigrationItem
from . import store
from .definition import Definition, Step
from .definitions import get_definition_row, load_version
from .lifecycle import VISIT_OPEN
from .steps.registry import WAIT_TYPES, spec_of
from .store import utcnow

WAITING = WAIT_TYPES
LIVE = ("running", "paused")


@dataclass(frozen=True)
class PlannedMove:
    execution_id: uuid.UUID
    contact: str
    status: str
    from_step: str
    to_step: str
    mode: str  # kept | recreated | moved


@dataclass
class MigrationPlan:
    definition_id: uuid.UUID
    workflow: str
    from_version: int
    to_version: int
    mapping: dict[str, str]
    moves: list[PlannedMove] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def by_step(self) -> dict[tuple[str, str, str], int]:
        """(from step, to step, mode) -> how many executions: what the preview shows per step."""
        return dict(Counter((m.from_step, m.to_step, m.mode) for m in self.moves))


@dataclass
class MigrationReport:
    migration_id: uuid.UUID | None
    migrated: int = 0
    failed: list[tuple[uuid.UUID, str]] = field(default_factory=list)


def _kind(source: Step, target: Step, mapping: dict[str, str]) -> str:
    """kept when the target waits on the same thing: the same type, and for a step that waits on an earlier
    step's task, that same (mapped) step."""
    if source.type != target.type:
        return "recreated"
    source_task = _awaited_step(source)
    if source_task is not None:
        return "kept" if mapping.get(source_task, source_task) == _awaited_step(target) else "recreated"
    return "kept"


def _awaited_step(step: Step) -> str | None:
    """The earlier step whose task `step` waits on (None when it creates its own or waits on none)."""
    source = spec_of(step.type).task_source(step.id, step.config)
    return source if source not in (None, step.id) else None


def plan_migration(db: Database, actor: Actor, workflow: str, from_version: int, to_version: int,
                   mapping: dict[str, str] | None = None, *, at_step: str | None = None,
                   phase: str | None = None, limit: int | None = None) -> MigrationPlan:
    """Which executions would move where, and every problem that forbids it (nothing is changed)."""
    require_role(actor, "admin")
    mapping = {k.strip(): v.strip() for k, v in (mapping or {}).items()}
    with db.session(actor.org_id) as session:
        row = get_definition_row(session, workflow)
        if from_version == to_version:
            raise InvalidInput("choose two different versions")
        old, new = _version(session, row, from_version), _version(session, row, to_version)
        query = (select(WorkflowExecution.id, WorkflowExecution.status, WorkflowExecution.current_step_id,
                        WorkflowExecution.step_seq, Contact.first_name, Contact.last_name)
                 .join(Contact, Contact.id == WorkflowExecution.contact_id)
                 .where(WorkflowExecution.workflow_definition_id == row.id,
                        WorkflowExecution.definition_version == from_version, WorkflowExecution.status.in_(LIVE))
                 .order_by(WorkflowExecution.started_at, WorkflowExecution.id))
        if at_step:
            query = query.where(WorkflowExecution.current_step_id == at_step)
        if phase:
            query = query.where(WorkflowExecution.current_phase_id == phase)
        if limit:
            query = query.limit(limit)
        executions = session.execute(query).all()
        waiting = _waiting_visits(session, [(e.id, e.step_seq) for e in executions])
    plan = MigrationPlan(row.id, row.name, from_version, to_version, mapping)
    for source_id, target_id in mapping.items():
        if old.step(source_id) is None:
            plan.problems.append(f"--map {source_id}={target_id}: version {from_version} has no step {source_id}")
        if new.step(target_id) is None:
            plan.problems.append(f"--map {source_id}={target_id}: version {to_version} has no step {target_id}")
    sitting = Counter(e.current_step_id for e in executions)
    for step_id, count in sorted(sitting.items()):
        target_id = mapping.get(step_id, step_id)
        source, target = old.step(step_id), new.step(target_id)
        if target is None:
            plan.problems.append(f"{count} execution(s) sit on {step_id}, which version {to_version} does not have: "
                                 f"map it to a step of version {to_version} (e.g. --map {step_id}=STEP)")
        elif source is not None and source.type in WAITING and target.type not in WAITING:
            plan.problems.append(f"{count} execution(s) wait at {step_id} ({source.type}); {target_id} is a "
                                 f"{target.type} step, so they would stop waiting: map {step_id} to a waiting step")
    if plan.problems:
        return plan
    for e in executions:
        source, target = old.step(e.current_step_id), new.step(mapping.get(e.current_step_id, e.current_step_id))
        mode = _kind(source, target, mapping) if e.id in waiting and source is not None else "moved"
        plan.moves.append(PlannedMove(e.id, f"{e.first_name} {e.last_name}", e.status, e.current_step_id, target.id,
                                      mode))
    return plan


def _version(session, row: WorkflowDefinition, version: int) -> Definition:
    try:
        return load_version(session, row.id, version)
    except NotFound:
        raise InvalidInput(f"{row.name} has no version {version} (latest: {row.version})") from None


def _waiting_visits(session, pairs: list[tuple[uuid.UUID, int]]) -> set[uuid.UUID]:
    found = set()
    for start in range(0, len(pairs), 1000):
        chunk = [p for p in pairs[start:start + 1000] if p[1]]
        if not chunk:
            continue
        from sqlalchemy import tuple_

        from ..models import StepVisit
        found |= set(session.scalars(select(StepVisit.workflow_execution_id).where(
            tuple_(StepVisit.workflow_execution_id, StepVisit.seq).in_(chunk), StepVisit.status.in_(VISIT_OPEN))))
    return found


def migrate(db: Database, actor: Actor, plan: MigrationPlan,
            progress: Callable[[int, int], None] | None = None) -> MigrationReport:
    """Carry out a plan, one execution per transaction; the ones that changed since the plan are reported,
    never half-moved."""
    require_role(actor, "admin")
    if plan.problems:
        raise InvalidInput("the migration is refused, nothing was changed:\n" + "\n".join(f"- {p}" for p in plan.problems))
    if not plan.moves:
        raise InvalidInput("no running or paused execution matches: nothing to migrate")
    with db.session(actor.org_id, user_id=actor.user_id) as session:
        migration = WorkflowMigration(id=uuid.uuid4(), org_id=actor.org_id, workflow_definition_id=plan.definition_id,
                                      from_version=plan.from_version, to_version=plan.to_version, mapping=plan.mapping,
                                      created_by=actor.user_id)
        session.add(migration)
        session.flush()
        activity.record(session, entity_type="workflow_definition", entity_id=plan.definition_id,
                        action="migration_started", details={"migration": str(migration.id), "workflow": plan.workflow,
                                                             "from": plan.from_version, "to": plan.to_version,
                                                             "executions": len(plan.moves), "mapping": plan.mapping})
    report = MigrationReport(migration.id)
    for done, move in enumerate(plan.moves, start=1):
        try:
            _move_one(db, actor, plan, move, migration.id)
            report.migrated += 1
        except Exception as exc:  # noqa: BLE001 - this execution stays as it was; the others go on
            reason = str(exc) if isinstance(exc, InvalidInput) else f"{type(exc).__name__}: {exc}"
            report.failed.append((move.execution_id, reason))
            _record_failure(db, actor, migration.id, move, reason)
        if progress:
            progress(done, len(plan.moves))
    with db.session(actor.org_id, user_id=actor.user_id) as session:
        row = session.get(WorkflowMigration, migration.id)
        row.status, row.migrated, row.failed, row.finished_at = "done", report.migrated, len(report.failed), utcnow()
    return report


def _move_one(db: Database, actor: Actor, plan: MigrationPlan, move: PlannedMove, migration_id: uuid.UUID) -> None:
    now = utcnow()
    with db.session(actor.org_id, user_id=actor.user_id) as session:
        execution = store.lock_execution(session, move.execution_id)
        if (execution.status not in LIVE or execution.definition_version != plan.from_version
                or execution.current_step_id != move.from_step):
            raise InvalidInput(f"it changed since the plan (now {execution.status} at {execution.current_step_id}, "
                               f"version {execution.definition_version})")
        new = load_version(session, plan.definition_id, plan.to_version)
        target = new.step(move.to_step)
        visit = store.visit_at(session, execution.id, execution.step_seq) if execution.step_seq else None
        before: dict[str, Any] = {"version": plan.from_version, "step_id": move.from_step,
                                  "phase_id": execution.current_phase_id, "step_seq": execution.step_seq,
                                  "visit_id": str(visit.id) if visit else None,
                                  "visit_status": visit.status if visit else None,
                                  "timeout_at": visit.timeout_at.isoformat() if visit and visit.timeout_at else None}
        mode = move.mode if visit is not None and visit.status in VISIT_OPEN else "moved"
        variables = dict(execution.variables or {})
        if mode == "kept":
            store.update_visit(session, visit.id, step_id=target.id, phase_id=target.phase_id, step_type=target.type,
                               timeout_at=None)
            source_key = _awaited_step(load_version(session, plan.definition_id, plan.from_version)
                                       .step(move.from_step))
            target_key = _awaited_step(target)
            if source_key and target_key and source_key != target_key and source_key in variables:
                variables[target_key] = variables[source_key]  # the new version reads the task id there
        elif mode == "recreated":
            awaited_step = _awaited_step(load_version(session, plan.definition_id, plan.from_version)
                                         .step(move.from_step))
            awaited = []  # a wait on an earlier step's task: the new step makes its own, so that one closes
            if awaited_step:
                task_id = (variables.get(awaited_step) or {}).get("task_id")
                awaited = [uuid.UUID(task_id)] if task_id else []
            before["closed_tasks"] = [str(t) for t in store.close_visit_tasks(
                session, [visit.id], f"the execution moved to version {plan.to_version}", now, also=awaited)]
            store.update_visit(session, visit.id, status="cancelled", outcome="migrated", left_at=now)
        store.place_execution(session, execution, version=plan.to_version, step_id=target.id,
                              phase_id=target.phase_id, step_seq=execution.step_seq, now=now, variables=variables)
        activity.record(session, entity_type="workflow_execution", entity_id=execution.id, action="execution_migrated",
                        contact_id=execution.contact_id,
                        details={"migration": str(migration_id), "from_version": plan.from_version,
                                 "to_version": plan.to_version, "from_step": move.from_step, "to_step": target.id,
                                 "mode": mode, "by": actor.label})
        session.add(WorkflowMigrationItem(org_id=actor.org_id, migration_id=migration_id,
                                          workflow_execution_id=execution.id, status="migrated", mode=mode,
                                          from_step_id=move.from_step, to_step_id=target.id, before=before))


def _record_failure(db: Database, actor: Actor, migration_id: uuid.UUID, move: PlannedMove, reason: str) -> None:
    with db.session(actor.org_id, user_id=actor.user_id) as session:
        session.add(WorkflowMigrationItem(org_id=actor.org_id, migration_id=migration_id,
                                          workflow_execution_id=move.execution_id, status="failed", mode=move.mode,
                                          from_step_id=move.from_step, to_step_id=move.to_step, error=reason))


# --- revert -----------------------------------------------------------------------------------------------------
@dataclass
class RevertReport:
    reverted: int = 0
    kept: list[tuple[uuid.UUID, str]] = field(default_factory=list)


def revert_migration(db: Database, actor: Actor, migration_id: Any,
                     progress: Callable[[int, int], None] | None = None) -> RevertReport:
    """Put back every execution of a migration that nothing newer has happened to; say why for the others."""
    require_role(actor, "admin")
    key = as_uuid(migration_id, "migration")
    with db.session(actor.org_id) as session:
        migration = session.get(WorkflowMigration, key)
        if migration is None:
            raise NotFound(f"no migration {key} in this organization")
        if migration.status == "reverted":
            raise InvalidInput("this migration was already reverted")
        items = list(session.scalars(select(WorkflowMigrationItem).where(
            WorkflowMigrationItem.migration_id == key, WorkflowMigrationItem.status == "migrated")))
    report = RevertReport()
    for done, item in enumerate(items, start=1):
        try:
            _revert_one(db, actor, migration, item)
            report.reverted += 1
        except InvalidInput as exc:
            report.kept.append((item.workflow_execution_id, str(exc)))
        if progress:
            progress(done, len(items))
    with db.session(actor.org_id, user_id=actor.user_id) as session:
        row = session.get(WorkflowMigration, key)
        row.status = "reverted"
        activity.record(session, entity_type="workflow_definition", entity_id=row.workflow_definition_id,
                        action="migration_reverted", details={"migration": str(key), "reverted": report.reverted,
                                                              "kept": len(report.kept)})
    return report


def _revert_one(db: Database, actor: Actor, migration: WorkflowMigration, item: WorkflowMigrationItem) -> None:
    now = utcnow()
    before = item.before
    with db.session(actor.org_id, user_id=actor.user_id) as session:
        execution = store.lock_execution(session, item.workflow_execution_id)
        moved_on = (execution.status not in LIVE or execution.definition_version != migration.to_version
                    or execution.current_step_id != item.to_step_id)
        later = store.visits_after(session, execution.id, before["step_seq"])
        if item.mode == "recreated":
            fresh_tasks = store.tasks_of_visits(session, [v.id for v in later])
            untouched = (len(later) <= 1 and all(v.status in VISIT_OPEN and v.step_id == item.to_step_id for v in later)
                         and all(t.status in ("todo", "in_progress") and t.version == 1 for t in fresh_tasks))
        else:
            untouched = not later
        if moved_on or not untouched:
            raise InvalidInput(f"kept on version {migration.to_version}: it moved on since the migration "
                               f"(now {execution.status} at {execution.current_step_id})")
        visit_id = uuid.UUID(before["visit_id"]) if before.get("visit_id") else None
        if item.mode == "kept":
            store.update_visit(session, visit_id, step_id=item.from_step_id, timeout_at=_moment(before["timeout_at"]),
                               phase_id=before["phase_id"], step_type=load_version(
                                   session, migration.workflow_definition_id, migration.from_version)
                               .step(item.from_step_id).type)
        elif item.mode == "recreated":
            store.close_visit_tasks(session, [v.id for v in later], "the migration was reverted", now)
            for visit in later:
                store.update_visit(session, visit.id, status="cancelled", outcome="migration reverted", left_at=now)
            store.update_visit(session, visit_id, status=before["visit_status"], outcome=None, left_at=None,
                               timeout_at=_moment(before["timeout_at"]))
            store.reopen_tasks(session, [uuid.UUID(t) for t in before.get("closed_tasks", [])],
                               "the migration was reverted", now)
        store.place_execution(session, execution, version=migration.from_version, step_id=item.from_step_id,
                              phase_id=before["phase_id"], step_seq=before["step_seq"], now=now)
        activity.record(session, entity_type="workflow_execution", entity_id=execution.id,
                        action="execution_migration_reverted", contact_id=execution.contact_id,
                        details={"migration": str(migration.id), "back_to_version": migration.from_version,
                                 "back_to_step": item.from_step_id, "by": actor.label})
        session.execute(WorkflowMigrationItem.__table__.update().where(WorkflowMigrationItem.id == item.id)
                        .values(status="reverted"))


def _moment(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@dataclass(frozen=True)
class StepImpact:
    step_id: str
    running: int
    change: str  # unchanged | changed | removed
    migration: str  # what migrating its executions would do


def impact(old: Definition, new: Definition, pinned: dict[str, int]) -> list[StepImpact]:
    """Before publishing `new`: for each step of `old` that executions sit on, whether the draft removes or
    changes it, and what a migration would do with them (with no mapping given)."""
    rows = []
    for step_id, count in sorted(pinned.items()):
        source, target = old.step(step_id), new.step(step_id)
        if target is None:
            rows.append(StepImpact(step_id, count, "removed", "needs a mapping to a step of the new version"))
            continue
        same = source is not None and (source.type, source.name, source.phase_id, source.config) == \
            (target.type, target.name, target.phase_id, target.config)
        if source is not None and source.type in WAITING and target.type not in WAITING:
            what = f"refused: {step_id} would stop waiting (now a {target.type} step); map it elsewhere"
        elif source is not None and source.type in WAITING:
            what = {"kept": "tasks kept, timers restart with the new settings",
                    "recreated": "open tasks closed, the new step creates its own"}[_kind(source, target, {})]
        else:
            what = "continues at the same step"
        rows.append(StepImpact(step_id, count, "unchanged" if same else "changed", what))
    return rows


@dataclass(frozen=True)
class MigrationSummary:
    id: uuid.UUID
    from_version: int
    to_version: int
    status: str
    migrated: int
    failed: int
    created_at: datetime
    by: str | None


def list_migrations(db: Database, actor: Actor, definition_id: uuid.UUID) -> list[MigrationSummary]:
    from ..models import User

    with db.session(actor.org_id) as session:
        rows = session.execute(select(WorkflowMigration, User.email).outerjoin(User, User.id == WorkflowMigration.created_by)
                               .where(WorkflowMigration.workflow_definition_id == definition_id)
                               .order_by(WorkflowMigration.created_at.desc()).limit(20)).all()
    return [MigrationSummary(m.id, m.from_version, m.to_version, m.status, m.migrated, m.failed, m.created_at, email)
            for m, email in rows]
