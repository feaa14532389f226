"""Unit tier: the validator's rules on small definitions, no database."""
from __future__ import annotations

import copy
import json

import pytest

from byte_core.demo import WORKFLOW_DIR
from byte_core.workflow.definition import DefinitionInvalid, parse_definition, validate_definition

ROLE = {"type": "role", "role": "reviewer"}


def definition(*steps: dict, phases: list | None = None) -> dict:
    """Steps given as (id, type, config) dicts; orders follow the list."""
    return {"name": "Test", "phases": phases or [],
            "steps": [{"id": s["id"], "order": i + 1, "type": s["type"], "name": s["id"].title(),
                       "config": s.get("config", {})} for i, s in enumerate(steps)]}


def step(step_id: str, step_type: str, **config) -> dict:
    return {"id": step_id, "type": step_type, "config": config}


START = step("start", "trigger")
ASSIGN = step("assign", "assign_task", title="Check", assign_to=ROLE)


def problems(data: dict) -> list[str]:
    return [str(e) for e in validate_definition(data)]


def test_the_demo_definitions_are_valid_and_parse():
    for path in sorted(WORKFLOW_DIR.glob("*.json")):
        data = json.loads(path.read_text())
        assert problems(data) == [], path.name
        parsed = parse_definition(data)
        first = parsed.first_step()
        assert first.type == "trigger" and parsed.next_step_id(first.id) == parsed.steps[1].id
        assert parsed.successors(first.id) == [parsed.steps[1].id]
        assert parsed.to_dict()["steps"] == sorted(data["steps"], key=lambda s: s["order"])


def test_every_problem_is_reported_at_once():
    data = definition(START, step("a", "assign_task", title="", assign_to={"type": "role", "role": "ceo"},
                                  due_in_days=0), step("w", "wait_for_task", task_from_step="nowhere"))
    found = problems(data)
    assert "a · config.title: must not be empty" in found
    assert "a · config.assign_to.role: must be one of 'admin', 'manager', 'reviewer' or 'hr'" in found
    assert "a · config.due_in_days: must be greater than 0" in found
    assert "w · config.task_from_step: points to 'nowhere', which does not exist" in found
    with pytest.raises(DefinitionInvalid) as raised:
        parse_definition(data)
    assert [str(e) for e in raised.value.errors] == found


def test_a_task_waited_on_must_be_assigned_before_on_every_path():
    split = step("route", "condition", field="{{ contact.city }}", branches=[{"if": "Paris", "then_goto": "assign"}],
                 default_goto="wait")
    late = definition(START, split, ASSIGN, step("wait", "wait_for_task", task_from_step="assign"))
    assert problems(late) == ["wait · config.task_from_step: waits on the task of assign, which does not run "
                              "before wait on every path"]
    early = definition(START, ASSIGN, split, step("wait", "wait_for_task", task_from_step="assign"))
    early["steps"][2]["config"]["branches"][0]["then_goto"] = "wait"
    assert problems(early) == []
    not_a_task = definition(START, step("wait", "wait_for_task", task_from_step="start"))
    assert "which assigns no task to wait for (assign_task does)" in problems(not_a_task)[0]


def test_templates_read_only_steps_that_ran_before_and_outputs_they_have():
    ahead = definition(START, step("note", "set_variable", name="x", value="{{ later.value }}"),
                       step("later", "set_variable", name="y", value=1))
    assert problems(ahead) == ["note · config.value: reads later, which does not run before note on every path"]
    typo = definition(START, ASSIGN, step("note", "set_variable", name="x", value="{{ assign.task }}"))
    assert problems(typo) == ["note · config.value: reads assign.task, but a assign_task step has only task_id"]
    nested = definition(START, step("tag", "update_contact", metadata={"who": ["{{ nobody.x }}"]}))
    assert "tag · config.metadata.who[0]: template {{nobody.x}} refers to 'nobody'" in problems(nested)[0]


def test_loops_need_a_step_that_waits_on_every_turn():
    def loop(*body: dict) -> dict:
        back = step("again", "condition", field="{{ contact.city }}", branches=[{"if": "x", "then_goto": "top"}])
        return definition(START, step("top", "set_variable", name="n", value=1), *body, back)

    assert problems(loop()) == ["top · config: loop without a waiting step: top → again → top"]
    assert problems(loop(step("pause", "delay", hours=1))) == []
    outside = loop(step("wait", "wait_for_task", task_from_step="assign"))
    outside["steps"].insert(1, dict(ASSIGN, order=1.5, name="Assign"))
    for i, s in enumerate(outside["steps"]):
        s["order"] = i + 1
    assert problems(outside) == ["top · config: loop without a waiting step: top → wait → again → top"]


def test_reachability_trigger_and_uniqueness():
    orphan = definition(START, step("done", "end"), step("lost", "end"))
    assert problems(orphan) == ["lost · id: is unreachable: no path from the first step leads to it"]
    two = definition(START, step("again", "trigger"))
    assert problems(two) == ["definition · steps: needs exactly one trigger step, found 2"]
    late = definition(step("first", "set_variable", name="x", value=1), START)
    assert problems(late) == ["start · order: the trigger must be the first step (it comes after first)"]
    twice = definition(START, step("a", "end"))
    twice["steps"].append(dict(twice["steps"][1], order=2))
    assert problems(twice) == ["a · id: duplicate step id (also steps[1])", "a · order: order 2 is also used by a"]


def test_phases_are_checked_and_referenced():
    data = definition(START, step("done", "end"), phases=[{"id": "p", "name": "P", "order": 1, "step_ids": ["x"]},
                                                           {"id": "p", "name": "Again", "order": 2}])
    data["steps"][1]["phase_id"] = "q"
    assert problems(data) == ["definition · phases[1].id: duplicate phase id 'p' (also phases[0])",
                              "done · phase_id: points to phase 'q', which does not exist",
                              "definition · phases[0].step_ids: lists step 'x', which does not exist"]


def test_settings_are_typed_and_bounded():
    cases = {
        "delay": (step("d", "delay"), "d · config: a delay needs days, hours or minutes greater than zero"),
        "delay too long": (step("d", "delay", days=3000, hours=24 * 1000),
                           "d · config: a delay can last at most 3650 days in all"),
        "text for a number": (step("w", "wait_for_approval", title="Ok?", assign_to=ROLE, timeout_days="5"),
                              "w · config.timeout_days: must be a number"),
        "unknown setting": (step("e", "end", outcom="x"),
                            "e · config.outcom: is not a known setting (known: outcome, status)"),
        "simple variable name": (step("v", "set_variable", name="a b", value=1),
                                 "v · config.name: must be a simple name: a letter or '_', then letters, digits or "
                                 "'_' (at most 64)"),
        "empty update": (step("u", "update_contact"),
                         "u · config: say what to change: add_tags, remove_tags or metadata"),
        "user without a name": (step("a", "assign_task", title="x", assign_to={"type": "user"}),
                                "a · config.assign_to.user: is required"),
        "NaN inside a value": (step("v", "set_variable", name="x", value={"a": [float("nan")]}),
                               "v · config.value: holds Infinity or NaN, which cannot be stored"),
    }
    for label, (bad, expected) in cases.items():
        assert expected in problems(definition(START, bad)), label


def test_step_shape_errors_name_the_step_by_position_when_its_id_is_unusable():
    data = definition(START, step("x", "end"))
    data["steps"][1]["id"] = "a b"
    data["steps"].append("not a step")
    data["steps"].append({"id": "t", "order": 9, "name": "T"})
    found = problems(data)
    assert "steps[1] · id: must be an id: a letter, then up to 63 letters, digits, '_' or '-' (no spaces, quotes " \
           "or other characters)" in found
    assert "steps[2] · step: must be an object ({ … })" in found
    assert any(f.startswith("t · type: is missing; say which kind of step this is (trigger,") for f in found)


def test_an_editor_schema_reference_is_allowed_and_not_stored():
    data = definition(START)
    data["$schema"] = "./workflow.schema.json"
    assert problems(data) == []
    assert "$schema" not in parse_definition(copy.deepcopy(data)).to_dict()


def test_names_must_say_something():
    data = definition(START)
    data["name"] = "   "
    assert problems(data) == ["definition · name: must not be empty or only spaces"]


def test_the_editor_text_goes_through_the_same_safe_reading():
    """The Workflows page validates the text area on every rerun: the inputs that froze the server are cheap."""
    from byte_core.workflow.authoring import parse_text

    review = json.loads((WORKFLOW_DIR / "application_review.json").read_text())
    review["steps"][5]["config"]["description"] = "{{" + " " * 1900
    data, errors = parse_text(json.dumps(review))
    assert data is not None and [str(e) for e in errors] == [
        "step_6 · config.description: template has an unclosed '{{' (no '}}' after it)"]
    assert parse_text("[" * 100_000)[1][0].field == "json"
    assert parse_text('{"steps": [}')[1][0].message.startswith("not valid JSON (line 1, column 12")
