"""Workflow definitions: validation of the JSON format, and the parsed immutable form the engine reads.

Validation reports every problem at once, each naming the step id and the field, in words a workflow admin
understands: the typed models (`definition_models`) check each value, `graph` checks how the steps fit
together, and `messages` turns pydantic's errors into those words. Nothing in here recurses on the input, so
no definition, however large or deep, can raise anything but `DefinitionInvalid` from `parse_definition`.
"""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from .definition_models import MAX_PHASES, MAX_STEPS, DefinitionModel
from .graph import Node, check_graph
from .messages import step_label, translate
from .problems import DefinitionError, DefinitionInvalid
from .steps.base import ID_PATTERN
from .steps.registry import WAIT_TYPES, Edge, edges_of, spec_of

__all__ = ["Definition", "DefinitionError", "DefinitionInvalid", "Phase", "Step", "WAIT_TYPES", "parse_definition",
           "stored_definition", "validate_definition"]
_ID = re.compile(ID_PATTERN)


@dataclass(frozen=True)
class Phase:
    id: str
    name: str
    order: int
    description: str = ""


@dataclass(frozen=True)
class Step:
    id: str
    order: int
    phase_id: str | None
    type: str
    name: str
    config: dict[str, Any] = field(hash=False, compare=False)


@dataclass(frozen=True)
class Definition:
    name: str
    description: str
    phases: tuple[Phase, ...]
    steps: tuple[Step, ...]
    variables: dict[str, Any] = field(hash=False, compare=False)
    source: dict[str, Any] = field(hash=False, compare=False, repr=False, default_factory=dict)

    def step(self, step_id: str) -> Step | None:
        return next((s for s in self.steps if s.id == step_id), None)

    def first_step(self) -> Step:
        return self.steps[0]

    def next_step_id(self, step_id: str) -> str | None:
        ids = [s.id for s in self.steps]
        index = ids.index(step_id)
        return ids[index + 1] if index + 1 < len(ids) else None

    def edges(self, step_id: str) -> list[Edge]:
        """Where a step can go next, each with its kind and label (branch value, "otherwise", "timeout")."""
        step = self.step(step_id)
        return edges_of(step.type, step.config, self.next_step_id(step_id)) if step else []

    def successors(self, step_id: str) -> list[str]:
        return [edge.target for edge in self.edges(step_id)]

    def phase_of(self, step_id: str) -> Phase | None:
        step = self.step(step_id)
        return next((p for p in self.phases if step and p.id == step.phase_id), None)

    def to_dict(self) -> dict[str, Any]:
        return copy.deepcopy(self.source)


def validate_definition(data: Any) -> list[DefinitionError]:
    """Every problem of a definition (JSON data), or [] when it is valid."""
    if not isinstance(data, dict):
        return [DefinitionError(None, "definition", "must be a JSON object with name, phases and steps")]
    for key, limit in (("steps", MAX_STEPS), ("phases", MAX_PHASES)):
        items = data.get(key)
        if isinstance(items, list) and len(items) > limit:
            return [DefinitionError(None, key, f"has {len(items)} {key}; at most {limit} are allowed")]
    errors: list[DefinitionError] = []
    failed_steps: set[int] = set()
    try:
        DefinitionModel.model_validate(data)
    except ValidationError as exc:
        errors += translate(exc, data)
        failed_steps = {e["loc"][1] for e in exc.errors() if len(e["loc"]) > 1 and e["loc"][0] == "steps"}
    steps = data.get("steps")
    if isinstance(steps, list):
        phases = data.get("phases") if isinstance(data.get("phases"), list) else []
        errors += _check_structure(steps, phases, failed_steps)
    return list(dict.fromkeys(errors))


def _check_structure(steps: list, phases: list, failed_steps: set[int]) -> list[DefinitionError]:
    """What one step alone cannot tell: unique ids and orders, phase references, then the graph."""
    errors: list[DefinitionError] = []

    def report(step_id: str | None, fld: str, message: str) -> None:
        errors.append(DefinitionError(step_id, fld, message))

    phase_ids: dict[str, int] = {}
    for i, phase in enumerate(phases):
        pid = phase.get("id") if isinstance(phase, dict) else None
        if isinstance(pid, str) and _ID.fullmatch(pid):
            if pid in phase_ids:
                report(None, f"phases[{i}].id", f"duplicate phase id {pid!r} (also phases[{phase_ids[pid]}])")
            phase_ids.setdefault(pid, i)
    nodes: list[Node] = []
    seen_ids: dict[str, int] = {}
    seen_orders: dict[int, str] = {}
    for i, raw in enumerate(steps):
        if not isinstance(raw, dict):
            continue
        label, sid, order = step_label(raw, i), raw.get("id"), raw.get("order")
        usable = label == sid and spec_of(raw.get("type")) is not None and type(order) is int
        if label == sid:
            if sid in seen_ids:
                report(sid, "id", f"duplicate step id (also steps[{seen_ids[sid]}])")
                usable = False
            seen_ids.setdefault(sid, i)
        if type(order) is int:
            if order in seen_orders:
                report(label, "order", f"order {order} is also used by {seen_orders[order]}")
                usable = False
            seen_orders.setdefault(order, label)
        phase_id = raw.get("phase_id")
        if isinstance(phase_id, str) and _ID.fullmatch(phase_id) and phase_id not in phase_ids:
            report(label, "phase_id", f"points to phase {phase_id!r}, which does not exist")
        if usable:
            config = raw.get("config", {})
            nodes.append(Node(sid, order, raw["type"], config if isinstance(config, dict) else {},
                              complete=i not in failed_steps))
    for i, phase in enumerate(phases):
        listed = phase.get("step_ids") if isinstance(phase, dict) else None
        for ref in listed if isinstance(listed, list) else []:
            if isinstance(ref, str) and _ID.fullmatch(ref) and ref not in seen_ids:
                report(None, f"phases[{i}].step_ids", f"lists step {ref!r}, which does not exist")
    if nodes:
        check_graph(nodes, report, all_ids=set(seen_ids), every_step_usable=len(nodes) == len(steps))
    return errors


def parse_definition(data: Any) -> Definition:
    """A definition someone wrote: validated, then parsed; DefinitionInvalid lists every problem."""
    errors = validate_definition(data)
    if errors:
        raise DefinitionInvalid(errors)
    return stored_definition(data)


def stored_definition(data: dict[str, Any]) -> Definition:
    """A version saved earlier, parsed without today's checks: the rules may have tightened since it was saved,
    and its executions and history must stay readable. Tolerates the odd values older rules let in (phase
    orders of mixed types, missing optional keys)."""
    source = copy.deepcopy(data)
    raw_phases = source.get("phases") or []
    phases = tuple(sorted((Phase(p["id"], p["name"], p["order"] if type(p.get("order")) is int else i,
                                 p.get("description") or "") for i, p in enumerate(raw_phases)),
                          key=lambda p: p.order))
    ordered = sorted(source["steps"], key=lambda s: s["order"])
    steps = tuple(Step(s["id"], s["order"], s.get("phase_id"), s["type"], s["name"], s.get("config") or {})
                  for s in ordered)
    normalised = {"name": str(source.get("name") or "").strip(), "description": source.get("description") or "",
                  "phases": raw_phases, "steps": ordered, "variables": source.get("variables") or {}}
    return Definition(normalised["name"], normalised["description"], phases, steps, normalised["variables"],
                      normalised)
