"""What the Workflows page needs around a definition: parse the edited text, draw it, diff versions, and
count the running executions that sit on each step before a save."""
from __future__ import annotations

import difflib
import json
import uuid
from typing import Any

from sqlalchemy import func, select

from ..access import Actor, require_role
from ..db import Database
from ..models import WorkflowExecution
from .definition import Definition, DefinitionError, validate_definition
from .definitions import definition_payload

SHAPES = {"trigger": "oval", "condition": "diamond", "end": "doublecircle", "wait_for_approval": "hexagon",
          "wait_for_task": "box", "delay": "box", "assign_task": "box"}


def parse_text(text: str) -> tuple[dict[str, Any] | None, list[DefinitionError]]:
    """The edited JSON and every validation error; a JSON syntax error names its line and column."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, [DefinitionError(None, "json", f"{exc.msg} at line {exc.lineno}, column {exc.colno}")]
    return data, validate_definition(data)


def pretty(row) -> str:
    return json.dumps(definition_payload(row), indent=2, ensure_ascii=False)


def to_dot(definition: Definition, running: dict[str, int] | None = None) -> str:
    """Graphviz source: steps as nodes grouped by phase, the default path and every branch or timeout as edges."""
    running = running or {}
    lines = ["digraph workflow {", '  rankdir=TB; node [fontname="Helvetica", fontsize=10, style=filled, '
             'fillcolor="#f5f7fa"]; edge [fontname="Helvetica", fontsize=9];']
    for index, phase in enumerate(definition.phases):
        lines.append(f'  subgraph cluster_{index} {{ label="{_esc(phase.name)}"; color="#c0c8d4";')
        for step in definition.steps:
            if step.phase_id == phase.id:
                lines.append("    " + _node(step, running))
        lines.append("  }")
    for step in definition.steps:
        if step.phase_id not in {p.id for p in definition.phases}:
            lines.append("  " + _node(step, running))
    ids = [s.id for s in definition.steps]
    for position, step in enumerate(definition.steps):
        next_id = ids[position + 1] if position + 1 < len(ids) else None
        config = step.config if isinstance(step.config, dict) else {}
        if step.type == "end":
            continue
        if step.type == "condition":
            for branch in config.get("branches") or []:
                lines.append(f'  "{step.id}" -> "{branch.get("then_goto")}" [label="{_esc(str(branch.get("if")))}"];')
            default = config.get("default_goto") or next_id
            if default:
                lines.append(f'  "{step.id}" -> "{default}" [label="otherwise", style=dashed];')
            continue
        if next_id:
            lines.append(f'  "{step.id}" -> "{next_id}";')
        policy = config.get("on_timeout")
        if isinstance(policy, dict) and policy.get("action") == "goto":
            lines.append(f'  "{step.id}" -> "{policy.get("step")}" [label="timeout", color="#c0392b", style=dashed];')
    lines.append("}")
    return "\n".join(lines)


def _node(step, running: dict[str, int]) -> str:
    here = running.get(step.id, 0)
    label = f"{step.name}\\n({step.type})" + (f"\\n● {here} running" if here else "")
    fill = ', fillcolor="#ffe8a3"' if here else ""
    return f'"{step.id}" [label="{_esc(label)}", shape={SHAPES.get(step.type, "box")}{fill}];'


def _esc(text: str) -> str:
    return text.replace('"', '\\"')


def version_diff(old_row, new_row, old_label: str, new_label: str) -> str:
    old = json.dumps(definition_payload(old_row, name="", description=""), indent=2, sort_keys=True).splitlines()
    new = json.dumps(definition_payload(new_row, name="", description=""), indent=2, sort_keys=True).splitlines()
    return "\n".join(difflib.unified_diff(old, new, old_label, new_label, lineterm="")) or "(no differences)"


def running_by_step(db: Database, actor: Actor, definition_id: uuid.UUID, version: int) -> dict[str, int]:
    """Running or paused executions of one version, per current step: what a save leaves pinned to it."""
    require_role(actor, "admin", "manager")
    with db.session(actor.org_id) as session:
        rows = session.execute(select(WorkflowExecution.current_step_id, func.count())
                               .where(WorkflowExecution.workflow_definition_id == definition_id,
                                      WorkflowExecution.definition_version == version,
                                      WorkflowExecution.status.in_(("running", "paused")))
                               .group_by(WorkflowExecution.current_step_id)).all()
    return {step or "?": count for step, count in rows}
