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
from . import source
from .definition import Definition, DefinitionError, validate_definition
from .definitions import definition_payload
from .steps.registry import spec_of

EDGE_STYLES = {"next": "", "branch": "", "otherwise": ", style=dashed", "timeout": ', color="#c0392b", style=dashed'}


def parse_text(text: str) -> tuple[dict[str, Any] | None, list[DefinitionError]]:
    """The edited JSON and every validation error; a JSON syntax error names its line and column."""
    data, problems = source.parse_text(text)
    if problems:
        return None, problems
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
    for step in definition.steps:
        for edge in definition.edges(step.id):
            label = f'label="{_esc(edge.label)}"' if edge.label else ""
            attributes = (label + EDGE_STYLES[edge.kind]).lstrip(", ")
            styled = f" [{attributes}]" if attributes else ""
            lines.append(f'  "{_esc(step.id)}" -> "{_esc(edge.target)}"{styled};')
    lines.append("}")
    return "\n".join(lines)


def _node(step, running: dict[str, int]) -> str:
    here = running.get(step.id, 0)
    label = "\\n".join([_esc(step.name), f"({step.type})"] + ([f"● {here} running"] if here else []))
    fill = ', fillcolor="#ffe8a3"' if here else ""
    spec = spec_of(step.type)
    return f'"{_esc(step.id)}" [label="{label}", shape={spec.shape if spec else "box"}{fill}];'


def _esc(text: str) -> str:
    """Text inside a Graphviz double-quoted string: a backslash or quote in a name cannot end the string."""
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ").replace("\r", " ")


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
