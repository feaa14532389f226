"""Workflow definitions as stored: validated before save, versioned, pinned by executions.

The `workflow_definitions` row always mirrors the newest version (seed 000 columns: `phases` is a
list, `steps` is `{"steps": [...]}`); `workflow_definition_versions` keeps every version immutable.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .. import activity
from ..access import Actor, require_role
from ..db import Database
from ..errors import NotFound
from ..models import WorkflowDefinition, WorkflowDefinitionVersion, WorkflowExecution
from .definition import Definition, parse_definition, stored_definition


@dataclass(frozen=True)
class SaveResult:
    id: uuid.UUID
    name: str
    version: int
    created: bool
    changed: bool


@dataclass(frozen=True)
class DefinitionSummary:
    id: uuid.UUID
    name: str
    description: str | None
    version: int
    is_active: bool
    running: int
    total: int


def definition_payload(row: WorkflowDefinition | WorkflowDefinitionVersion, name: str | None = None,
                       description: str | None = None) -> dict[str, Any]:
    """The editable JSON of a stored definition or version (the file format of `byte workflow import`)."""
    steps = row.steps["steps"] if isinstance(row.steps, dict) else row.steps
    return {
        "name": name if name is not None else getattr(row, "name", ""),
        "description": description if description is not None else getattr(row, "description", None) or "",
        "phases": row.phases or [],
        "steps": steps or [],
        "variables": row.variables or {},
    }


def _content(payload: dict[str, Any]) -> tuple:
    return (payload["phases"], payload["steps"], payload.get("variables") or {})


def save_definition(db: Database, actor: Actor, data: dict[str, Any]) -> SaveResult:
    """Validate and store; a changed definition becomes a new version, an unchanged one is a no-op."""
    require_role(actor, "admin")
    parsed = parse_definition(data)
    payload = parsed.to_dict()
    with db.session(actor.org_id, user_id=actor.user_id) as session:
        row = session.scalar(select(WorkflowDefinition).where(WorkflowDefinition.name == parsed.name)
                             .with_for_update())
        if row is None:
            row = WorkflowDefinition(id=uuid.uuid4(), org_id=actor.org_id, name=parsed.name, version=1,
                                     is_active=True)
            session.add(row)
            created, version = True, 1
        else:
            if _content(definition_payload(row)) == _content(payload) and row.description == parsed.description:
                return SaveResult(row.id, row.name, row.version, created=False, changed=False)
            created, version = False, row.version + 1
        row.description = parsed.description
        row.phases, row.steps, row.variables = payload["phases"], {"steps": payload["steps"]}, payload["variables"]
        row.version = version
        session.flush()
        session.add(WorkflowDefinitionVersion(
            org_id=actor.org_id, workflow_definition_id=row.id, version=version, phases=payload["phases"],
            steps={"steps": payload["steps"]}, variables=payload["variables"], description=parsed.description,
            created_by=actor.user_id))
        activity.record(session, entity_type="workflow_definition", entity_id=row.id,
                        action="definition_created" if created else "definition_versioned",
                        details={"name": row.name, "version": version, "steps": len(payload["steps"])})
    return SaveResult(row.id, row.name, version, created=created, changed=True)


def set_active(db: Database, actor: Actor, name_or_id: str, active: bool) -> WorkflowDefinition:
    require_role(actor, "admin")
    with db.session(actor.org_id, user_id=actor.user_id) as session:
        row = get_definition_row(session, name_or_id)
        if row.is_active != active:
            row.is_active = active
            activity.record(session, entity_type="workflow_definition", entity_id=row.id,
                            action="definition_activated" if active else "definition_deactivated",
                            details={"name": row.name})
    return row


def get_definition_row(session: Session, name_or_id: str | uuid.UUID) -> WorkflowDefinition:
    key = str(name_or_id).strip()
    condition = WorkflowDefinition.name == key
    try:
        condition = condition | (WorkflowDefinition.id == uuid.UUID(key))
    except ValueError:
        pass
    row = session.scalar(select(WorkflowDefinition).where(condition))
    if row is None:
        raise NotFound(f"no workflow definition {key!r}; `byte workflow list` shows them")
    return row


def find_definition(db: Database, actor: Actor, name_or_id: str) -> WorkflowDefinition | None:
    with db.session(actor.org_id) as session:
        try:
            return get_definition_row(session, name_or_id)
        except NotFound:
            return None


def list_definitions(db: Database, actor: Actor) -> list[DefinitionSummary]:
    with db.session(actor.org_id) as session:
        grouped = session.execute(
            select(WorkflowExecution.workflow_definition_id, func.count().filter(WorkflowExecution.status == "running"),
                   func.count()).group_by(WorkflowExecution.workflow_definition_id)).all()
        counts = {d: running for d, running, _ in grouped}
        totals = {d: total for d, _, total in grouped}
        rows = session.scalars(select(WorkflowDefinition).order_by(WorkflowDefinition.name)).all()
        return [DefinitionSummary(r.id, r.name, r.description, r.version, bool(r.is_active), counts.get(r.id, 0),
                                  totals.get(r.id, 0)) for r in rows]


def definition_names(db: Database, actor: Actor, *, active_only: bool = False) -> dict[uuid.UUID, str]:
    """Id -> name, for pickers: no execution counts, so it stays instant on large organizations."""
    with db.session(actor.org_id) as session:
        query = select(WorkflowDefinition.id, WorkflowDefinition.name).order_by(WorkflowDefinition.name)
        if active_only:
            query = query.where(WorkflowDefinition.is_active.is_(True))
        return dict(session.execute(query).all())


def phase_positions(row: WorkflowDefinition | WorkflowDefinitionVersion | None) -> dict[str, tuple[int, str]]:
    """Phase id -> (0-based position in the definition's phase order, display name), for read models that
    group by the stored phase id."""
    phases = sorted((row.phases if row is not None else None) or [], key=lambda p: p.get("order", 0))
    return {p["id"]: (i, p.get("name") or p["id"]) for i, p in enumerate(phases)}


def list_versions(db: Database, actor: Actor, definition_id: uuid.UUID) -> list[WorkflowDefinitionVersion]:
    with db.session(actor.org_id) as session:
        return list(session.scalars(select(WorkflowDefinitionVersion)
                                    .where(WorkflowDefinitionVersion.workflow_definition_id == definition_id)
                                    .order_by(WorkflowDefinitionVersion.version.desc())))


def load_version(session: Session, definition_id: uuid.UUID, version: int) -> Definition:
    """The parsed, immutable definition an execution is pinned to (cached: versions never change)."""
    org_id = session.info["org_id"]
    cached = _cached_version(org_id, definition_id, version)
    if cached is not None:
        return cached
    row = session.scalar(select(WorkflowDefinitionVersion).where(
        WorkflowDefinitionVersion.workflow_definition_id == definition_id,
        WorkflowDefinitionVersion.version == version))
    if row is None:
        raise NotFound(f"version {version} of workflow definition {definition_id} is missing")
    parent = session.get(WorkflowDefinition, definition_id)
    parsed = stored_definition(definition_payload(row, name=parent.name if parent else "", description=""))
    _VERSION_CACHE[(org_id, definition_id, version)] = parsed
    return parsed


_VERSION_CACHE: dict[tuple[str, uuid.UUID, int], Definition] = {}


def _cached_version(org_id: str, definition_id: uuid.UUID, version: int) -> Definition | None:
    return _VERSION_CACHE.get((org_id, definition_id, version))


__all__ = ["SaveResult", "DefinitionSummary", "save_definition", "set_active", "find_definition", "list_definitions",
           "list_versions", "load_version", "definition_payload", "get_definition_row"]
