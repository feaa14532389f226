"""The Workflows page's diagram and version diff (issue [E]): timeout outcomes, a chosen path, every field."""
from __future__ import annotations

import copy
from types import SimpleNamespace

from byte_core.workflow.authoring import side_by_side, to_dot, version_diff
from byte_core.workflow.definition import parse_definition

DEFINITION = {"name": "Loan", "description": "", "phases": [{"id": "p", "name": "Phase", "order": 1}], "steps": [
    {"id": "start", "order": 1, "phase_id": "p", "type": "trigger", "name": "Start", "config": {}},
    {"id": "ask", "order": 2, "phase_id": "p", "type": "wait_for_approval", "name": "Ask",
     "config": {"title": "Ok?", "assign_to": {"type": "role", "role": "reviewer"}, "timeout_days": 2,
                "on_timeout": {"action": "escalate", "role": "manager"}}},
    {"id": "route", "order": 3, "phase_id": "p", "type": "condition", "name": "Route",
     "config": {"field": "{{ask.outcome}}", "branches": [{"if": "rejected", "then_goto": "no"}]}},
    {"id": "yes", "order": 4, "phase_id": "p", "type": "end", "name": "Yes", "config": {}},
    {"id": "no", "order": 5, "phase_id": "p", "type": "end", "name": "No", "config": {"status": "failed"}}]}


def test_the_diagram_draws_branches_an_escalation_and_a_highlighted_path():
    dot = to_dot(parse_definition(DEFINITION), visited=["start", "ask", "route", "no"])
    assert '"route" -> "no" [label="rejected", color="#1f6feb", penwidth=2.5]' in dot
    assert '"route" -> "yes" [label="otherwise", style=dashed]' in dot  # not walked: not highlighted
    assert '"ask__on_timeout" [label="escalate to manager"' in dot
    assert '"ask" -> "ask__on_timeout" [label="timeout (2 d)"' in dot
    assert '"yes" [label="Yes\\n(end)", shape=doublecircle];' in dot


def test_a_timeout_that_fails_is_drawn_too():
    failing = copy.deepcopy(DEFINITION)
    failing["steps"][1]["config"]["on_timeout"] = {"action": "fail"}
    assert 'label="execution fails"' in to_dot(parse_definition(failing))


def _version(data: dict) -> SimpleNamespace:
    return SimpleNamespace(phases=data["phases"], steps={"steps": data["steps"]}, variables=data.get("variables"),
                           description=data["description"])


def test_the_diff_shows_a_changed_description_and_variables_side_by_side():
    newer = copy.deepcopy(DEFINITION)
    newer["description"] = "Loans above 1000 need a manager"
    newer["variables"] = {"limit": 1000}
    rows = side_by_side(_version(DEFINITION), _version(newer), name="Loan")
    changed = [(a, b) for a, b, change in rows if change]
    assert any("Loans above 1000" in b and '"description": ""' in a for a, b in changed), changed
    assert any('"limit": 1000' in b for _, b in changed)
    assert all(not change or a != b for a, b, change in rows)
    assert "+  \"description\": \"Loans above 1000 need a manager\"," in version_diff(
        _version(DEFINITION), _version(newer), "v1", "v2", name="Loan")
    assert version_diff(_version(DEFINITION), _version(DEFINITION), "v1", "v2") == "(no differences)"
