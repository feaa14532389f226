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


def to_dot(definition: Definition, running: dict[str, int] | None = None, visited: list[str] | None = None) -> str:
    """Graphviz source: steps as nodes grouped by phase, the default path and every branch or timeout as edges,
    what a timeout escalates to or fails with, and (`visited`: step ids in order) one execution's path in blue."""
    running, visited = running or {}, visited or []
    walked = {(a, b) for a, b in zip(visited, visited[1:])}
    lines = ["digraph workflow {", '  rankdir=TB; node [fontname="Helvetica", fontsize=10, style=filled, '
             'fillcolor="#f5f7fa"]; edge [fontname="Helvetica", fontsize=9];']
    for index, phase in enumerate(definition.phases):
        lines.append(f'  subgraph cluster_{index} {{ label="{_esc(phase.name)}"; color="#c0c8d4";')
        for step in definition.steps:
            if step.phase_id == phase.id:
                lines.append("    " + _node(step, running, step.id in visited))
        lines.append("  }")
    for step in definition.steps:
        if step.phase_id not in {p.id for p in definition.phases}:
            lines.append("  " + _node(step, running, step.id in visited))
    for step in definition.steps:
        for edge in definition.edges(step.id):
            label = f'label="{_esc(edge.label)}"' if edge.label else ""
            path = ', color="#1f6feb", penwidth=2.5' if (step.id, edge.target) in walked else ""
            attributes = (label + EDGE_STYLES[edge.kind] + path).lstrip(", ")
            styled = f" [{attributes}]" if attributes else ""
            lines.append(f'  "{_esc(step.id)}" -> "{_esc(edge.target)}"{styled};')
        lines += _timeout_outcome(step)
    lines.append("}")
    return "\n".join(lines)


def _timeout_outcome(step) -> list[str]:
    """A timeout that escalates (the step keeps waiting, for another role) or fails the execution: drawn as a
    note beside the step, since it is not a move to another step."""
    policy = step.config.get("on_timeout") if isinstance(step.config, dict) else None
    if not isinstance(policy, dict) or policy.get("action") not in ("escalate", "fail"):
        return []
    note = f"{step.id}__on_timeout"
    text = f"escalate to {policy.get('role')}" if policy["action"] == "escalate" else "execution fails"
    days = step.config.get("timeout_days")
    label = f"timeout ({days} d)" if days else "timeout"
    return [f'  "{_esc(note)}" [label="{_esc(text)}", shape=note, fillcolor="#fdecea"];',
            f'  "{_esc(step.id)}" -> "{_esc(note)}" [label="{_esc(label)}", color="#c0392b", style=dashed];']


def _node(step, running: dict[str, int], on_path: bool = False) -> str:
    here = running.get(step.id, 0)
    label = "\\n".join([_esc(step.name), f"({step.type})"] + ([f"● {here} running"] if here else []))
    fill = ', fillcolor="#ffe8a3"' if here else ""
    outline = ', color="#1f6feb", penwidth=2.5' if on_path else ""
    spec = spec_of(step.type)
    return f'"{_esc(step.id)}" [label="{label}", shape={spec.shape if spec else "box"}{fill}{outline}];'


def _esc(text: str) -> str:
    """Text inside a Graphviz double-quoted string: a backslash or quote in a name cannot end the string."""
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ").replace("\r", " ")


def _diff_lines(row, name: str) -> list[str]:
    """Every field of a version, as sorted JSON lines: name, description, phases, steps, variables."""
    return json.dumps(definition_payload(row, name=name), indent=2, sort_keys=True).splitlines()


def version_diff(old_row, new_row, old_label: str, new_label: str, name: str = "") -> str:
    old, new = _diff_lines(old_row, name), _diff_lines(new_row, name)
    return "\n".join(difflib.unified_diff(old, new, old_label, new_label, lineterm="")) or "(no differences)"


def side_by_side(old_row, new_row, name: str = "") -> list[tuple[str, str, str]]:
    """The two versions' JSON line by line: (old line, new line, "" | "changed" | "removed" | "added");
    unchanged stretches longer than 6 lines are cut to 3 lines each side of the changes."""
    old, new = _diff_lines(old_row, name), _diff_lines(new_row, name)
    rows: list[tuple[str, str, str]] = []
    for tag, a1, a2, b1, b2 in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if tag == "equal":
            same = list(zip(old[a1:a2], new[b1:b2]))
            if len(same) > 6:
                same = same[:3] + [("…", "…")] + same[-3:]
            rows += [(a, b, "") for a, b in same]
            continue
        left, right = old[a1:a2], new[b1:b2]
        for i in range(max(len(left), len(right))):
            a = left[i] if i < len(left) else ""
            b = right[i] if i < len(right) else ""
            rows.append((a, b, "changed" if a and b else "removed" if a else "added"))
    return rows


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
