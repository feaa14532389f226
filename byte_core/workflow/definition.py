"""Workflow definitions: the JSON format, its validation, and the parsed immutable form.

Validation reports every problem at once, each naming the step id and the field, in words a
workflow admin understands.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidInput
from .templates import ROOTS, check_syntax, find_references

WAIT_TYPES = {"wait_for_task", "wait_for_approval", "delay"}
PRIORITIES = ("low", "medium", "high")
TRIGGER_TYPES = ("manual", "form_submission", "api")


@dataclass(frozen=True)
class DefinitionError:
    step_id: str | None
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.step_id or 'definition'} · {self.field}: {self.message}"


class DefinitionInvalid(InvalidInput):
    def __init__(self, errors: list[DefinitionError]):
        self.errors = errors
        super().__init__("the workflow definition is invalid:\n" + "\n".join(f"- {e}" for e in errors))


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

    def successors(self, step_id: str) -> list[str]:
        return _successors(self.step(step_id), self.next_step_id(step_id))

    def phase_of(self, step_id: str) -> Phase | None:
        step = self.step(step_id)
        return next((p for p in self.phases if step and p.id == step.phase_id), None)

    def to_dict(self) -> dict[str, Any]:
        return copy.deepcopy(self.source)


def _successors(step: Step | None, next_id: str | None) -> list[str]:
    if step is None or step.type == "end":
        return []
    config = step.config if isinstance(step.config, dict) else {}
    if step.type == "condition":
        targets = [b.get("then_goto") for b in config.get("branches") or [] if isinstance(b, dict)]
        targets.append(config.get("default_goto") or next_id)
    else:
        targets = [next_id]
        policy = config.get("on_timeout")
        if isinstance(policy, dict) and policy.get("action") == "goto":
            targets.append(policy.get("step"))
    return [t for t in targets if isinstance(t, str)]


# --- config schemas: key -> (required, check) ------------------------------------------------------------
def _str(v: Any) -> str | None:
    return None if isinstance(v, str) and v.strip() else "must be a non-empty text"


def _pos(v: Any) -> str | None:
    ok = isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0
    return None if ok else "must be a positive number"


def _nonneg(v: Any) -> str | None:
    ok = isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0
    return None if ok else "must be a number of zero or more"


def _enum(*values: str):
    return lambda v: None if v in values else f"must be one of {', '.join(values)}"


def _bool(v: Any) -> str | None:
    return None if isinstance(v, bool) else "must be true or false"


def _str_list(v: Any) -> str | None:
    return None if isinstance(v, list) and all(isinstance(i, str) and i for i in v) else "must be a list of texts"


def _obj(v: Any) -> str | None:
    return None if isinstance(v, dict) else "must be an object"


def _any(_v: Any) -> str | None:
    return None


def _assign_to(v: Any) -> str | None:
    if not isinstance(v, dict):
        return 'must be {"type": "role", "role": ...} or {"type": "user", "user": ...}'
    if v.get("type") == "role" and isinstance(v.get("role"), str) and v["role"]:
        return None
    if v.get("type") == "user" and isinstance(v.get("user"), str) and v["user"]:
        return None
    return 'must be {"type": "role", "role": ...} or {"type": "user", "user": ...}'


def _policy(v: Any) -> str | None:
    if not isinstance(v, dict) or v.get("action") not in ("goto", "escalate", "fail"):
        return 'must be {"action": "goto", "step": ...}, {"action": "escalate", "role": ...} or {"action": "fail"}'
    if v["action"] == "goto" and not (isinstance(v.get("step"), str) and v["step"]):
        return "goto needs a step id in 'step'"
    if v["action"] == "escalate" and not (isinstance(v.get("role"), str) and v["role"]):
        return "escalate needs a role in 'role'"
    return None


def _approval_options(v: Any) -> str | None:
    if not isinstance(v, dict):
        return "must be an object"
    unknown = set(v) - {"approve_label", "reject_label", "require_comment"}
    if unknown:
        return f"has unknown keys {', '.join(sorted(unknown))}"
    if "require_comment" in v and not isinstance(v["require_comment"], bool):
        return "require_comment must be true or false"
    return None


def _branches(v: Any) -> str | None:
    if not isinstance(v, list) or not v:
        return 'must be a non-empty list of {"if": ..., "then_goto": ...}'
    for b in v:
        if not isinstance(b, dict) or "if" not in b or not isinstance(b.get("then_goto"), str):
            return 'must be a non-empty list of {"if": ..., "then_goto": ...}'
    return None


TASK_KEYS = {"title": (True, _str), "description": (False, _str), "assign_to": (True, _assign_to),
             "priority": (False, _enum(*PRIORITIES)), "due_in_days": (False, _pos)}
WAIT_KEYS = {"timeout_days": (False, _pos), "on_timeout": (False, _policy)}
SCHEMAS: dict[str, dict[str, tuple[bool, Any]]] = {
    "trigger": {"trigger_type": (False, _enum(*TRIGGER_TYPES))},
    "assign_task": TASK_KEYS,
    "wait_for_task": {"task_from_step": (True, _str), **WAIT_KEYS},
    "wait_for_approval": {**TASK_KEYS, "approval_options": (False, _approval_options), **WAIT_KEYS},
    "condition": {"field": (True, _str), "branches": (True, _branches), "default_goto": (False, _str)},
    "delay": {"days": (False, _nonneg), "hours": (False, _nonneg), "minutes": (False, _nonneg)},
    "set_variable": {"name": (True, _str), "value": (True, _any)},
    "update_contact": {"add_tags": (False, _str_list), "remove_tags": (False, _str_list), "metadata": (False, _obj)},
    "end": {"outcome": (False, _str), "status": (False, _enum("completed", "failed"))},
}
STEP_KEYS = {"id", "order", "phase_id", "type", "name", "config"}


def validate_definition(data: Any) -> list[DefinitionError]:
    errors: list[DefinitionError] = []

    def err(step_id: str | None, fld: str, message: str) -> None:
        errors.append(DefinitionError(step_id, fld, message))

    if not isinstance(data, dict):
        return [DefinitionError(None, "definition", "must be a JSON object with name, phases and steps")]
    if _str(data.get("name")):
        err(None, "name", "must be a non-empty text")
    phases, steps = data.get("phases", []), data.get("steps")
    if not isinstance(phases, list):
        err(None, "phases", "must be a list")
        phases = []
    if not isinstance(steps, list) or not steps:
        err(None, "steps", "must be a non-empty list of steps")
        return errors
    if "variables" in data and not isinstance(data["variables"], dict):
        err(None, "variables", "must be an object")
    phase_ids: set[str] = set()
    for i, phase in enumerate(phases):
        if not isinstance(phase, dict) or _str(phase.get("id")) or _str(phase.get("name")):
            err(None, f"phases[{i}]", "needs a text id and name")
            continue
        if phase["id"] in phase_ids:
            err(None, f"phases[{i}].id", f"duplicate phase id {phase['id']!r}")
        phase_ids.add(phase["id"])

    good: list[Step] = []
    seen_ids: dict[str, int] = {}
    seen_orders: dict[int, str] = {}
    for i, raw in enumerate(steps):
        sid = raw.get("id") if isinstance(raw, dict) and isinstance(raw.get("id"), str) and raw.get("id") else None
        label = sid or f"steps[{i}]"
        if not isinstance(raw, dict):
            err(label, "step", "must be an object")
            continue
        problems_before = len(errors)
        if sid is None:
            err(label, "id", "must be a non-empty text")
        elif sid in seen_ids:
            err(sid, "id", f"duplicate step id (also steps[{seen_ids[sid]}])")
        else:
            seen_ids[sid] = i
        for key in sorted(set(raw) - STEP_KEYS):
            err(label, key, f"unknown key (a step has {', '.join(sorted(STEP_KEYS))})")
        order = raw.get("order")
        if not isinstance(order, int) or isinstance(order, bool):
            err(label, "order", "must be a whole number")
        elif order in seen_orders:
            err(label, "order", f"order {order} is also used by {seen_orders[order]}")
        else:
            seen_orders[order] = label
        if raw.get("type") not in SCHEMAS:
            err(label, "type", f"unknown step type {raw.get('type')!r}; known types: {', '.join(SCHEMAS)}")
        if _str(raw.get("name")):
            err(label, "name", "must be a non-empty text")
        phase_id = raw.get("phase_id")
        if phase_id is not None and phase_id not in phase_ids:
            err(label, "phase_id", f"points to phase {phase_id!r}, which does not exist")
        config = raw.get("config", {})
        if not isinstance(config, dict):
            err(label, "config", "must be an object")
            config = {}
        if raw.get("type") in SCHEMAS:
            _check_config(label, raw["type"], config, err)
        if sid is not None and seen_ids.get(sid) == i and isinstance(order, int) and not isinstance(order, bool):
            # Malformed steps still take part in the graph checks, so all errors come out at once.
            step_type = raw["type"] if raw.get("type") in SCHEMAS else "unknown"
            usable = config if len(errors) == problems_before else {}
            good.append(Step(sid, order, phase_id, step_type, str(raw.get("name")), usable))
    for i, phase in enumerate(phases):
        for ref in (phase.get("step_ids") or []) if isinstance(phase, dict) else []:
            if ref not in seen_ids:
                err(None, f"phases[{i}].step_ids", f"lists step {ref!r}, which does not exist")
    if not good:
        return errors
    _check_graph(sorted(good, key=lambda s: s.order), set(seen_ids), err)
    return errors


def _check_config(label: str, step_type: str, config: dict, err) -> None:
    schema = SCHEMAS[step_type]
    for key in sorted(set(config) - set(schema)):
        err(label, f"config.{key}", f"unknown setting for a {step_type} step (known: {', '.join(schema) or 'none'})")
    for key, (required, check) in schema.items():
        if key not in config:
            if required:
                err(label, f"config.{key}", f"is required for a {step_type} step")
            continue
        problem = check(config[key])
        if problem:
            err(label, f"config.{key}", problem)
    if step_type == "delay" and not any(isinstance(config.get(k), (int, float)) and config.get(k) for k in schema):
        err(label, "config", "a delay needs days, hours or minutes greater than zero")
    if step_type == "update_contact" and not config:
        err(label, "config", "say what to change: add_tags, remove_tags or metadata")
    if step_type == "set_variable" and isinstance(config.get("name"), str) and not config["name"].isidentifier():
        err(label, "config.name", "must be a simple name (letters, digits, underscore)")


def _templates_in(value: Any, path: str):
    if isinstance(value, str):
        if "{{" in value or "}}" in value:
            yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _templates_in(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _templates_in(item, f"{path}[{index}]")


def _check_graph(steps: list[Step], ids: set[str], err) -> None:
    by_id = {s.id: s for s in steps}
    next_of = {s.id: (steps[i + 1].id if i + 1 < len(steps) else None) for i, s in enumerate(steps)}
    triggers = [s for s in steps if s.type == "trigger"]
    if len(triggers) != 1:
        err(None, "steps", f"needs exactly one trigger step, found {len(triggers)}")
    elif steps[0].type not in ("trigger", "unknown"):
        err(triggers[0].id, "order", "the trigger must be the first step")
    for s in steps:
        c = s.config
        for i, branch in enumerate(c.get("branches") or []):
            if s.type == "condition" and branch["then_goto"] not in ids:
                err(s.id, f"config.branches[{i}].then_goto", f"points to {branch['then_goto']!r}, which does not exist")
        for key in ("default_goto",):
            if c.get(key) and c[key] not in ids:
                err(s.id, f"config.{key}", f"points to {c[key]!r}, which does not exist")
        policy = c.get("on_timeout")
        if isinstance(policy, dict) and policy.get("action") == "goto" and policy["step"] not in ids:
            err(s.id, "config.on_timeout.step", f"points to {policy['step']!r}, which does not exist")
        if s.type == "wait_for_task" and isinstance(c.get("task_from_step"), str):
            source = by_id.get(c["task_from_step"])
            if source is None:
                err(s.id, "config.task_from_step", f"points to {c['task_from_step']!r}, which does not exist")
            elif source.type != "assign_task":
                err(s.id, "config.task_from_step", f"{source.id} is a {source.type} step, not an assign_task step")
        for path, text in _templates_in(c, "config"):
            for problem in check_syntax(text):
                err(s.id, path, f"template {problem}")
            for ref in find_references(text):
                root = ref.split(".")[0]
                if ref and root not in ROOTS and root not in ids:
                    err(s.id, path, f"template {{{{{ref}}}}} refers to {root!r}, which is neither a step id nor "
                                    f"one of {', '.join(ROOTS)}")
    graph = {s.id: [t for t in _successors(s, next_of[s.id]) if t in ids] for s in steps}
    reachable, stack = set(), [steps[0].id]
    while stack:
        current = stack.pop()
        if current not in reachable:
            reachable.add(current)
            stack.extend(graph[current])
    for s in steps:
        if s.id not in reachable:
            err(s.id, "id", "is unreachable: no step leads to it")
    for cycle in _cycles(graph):
        if not any(by_id[i].type in WAIT_TYPES for i in cycle):
            err(cycle[0], "config", "loop without a waiting step: " + " → ".join(cycle + [cycle[0]]))


def _cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """One representative cycle per strongly connected component (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph[node]:
                found.append(list(reversed(component)))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def parse_definition(data: Any) -> Definition:
    errors = validate_definition(data)
    if errors:
        raise DefinitionInvalid(errors)
    source = copy.deepcopy(data)
    phases = tuple(sorted((Phase(p["id"], p["name"], p.get("order", i), p.get("description", ""))
                           for i, p in enumerate(source.get("phases", []))), key=lambda p: p.order))
    steps = tuple(sorted((Step(s["id"], s["order"], s.get("phase_id"), s["type"], s["name"], s.get("config", {}))
                          for s in source["steps"]), key=lambda s: s.order))
    normalised = {"name": source["name"].strip(), "description": source.get("description") or "",
                  "phases": source.get("phases", []), "steps": sorted(source["steps"], key=lambda s: s["order"]),
                  "variables": source.get("variables") or {}}
    return Definition(normalised["name"], normalised["description"], phases, steps, normalised["variables"],
                      normalised)
