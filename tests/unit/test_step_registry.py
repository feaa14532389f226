"""Unit tier: every step type declares what the validator, engine, inspector and diagram need, in one module."""
import importlib
import pkgutil

import pytest

import byte_core.workflow.steps as steps_package
from byte_core.workflow.steps.base import Strict, Waiting
from byte_core.workflow.steps.registry import STEP_TYPES, WAIT_TYPES, edges_of

ISSUE_TYPES = {"trigger", "assign_task", "wait_for_task", "wait_for_approval", "condition", "delay", "set_variable",
               "update_contact", "end"}
WAITING = Waiting(step_label="Review (step_3)", step_name="Review", held_by="role reviewer", age="2 hours",
                  timer_text=", times out in 3 days", has_timeout=True)


def test_every_module_of_the_package_is_a_registered_step_type_with_a_handler_slot():
    modules = {m.name for m in pkgutil.iter_modules(steps_package.__path__)} - {"base", "registry"}
    assert modules == set(STEP_TYPES) == ISSUE_TYPES
    for name, spec in STEP_TYPES.items():
        module = importlib.import_module(f"byte_core.workflow.steps.{name}")
        assert module.SPEC is spec and hasattr(module, "handler")  # [A]'s pure engine fills `handler`
        assert issubclass(spec.config, Strict) and spec.summary and spec.shape


def test_waiting_types_explain_themselves_and_others_do_not():
    assert WAIT_TYPES == {"wait_for_task", "wait_for_approval", "delay"}
    for name, spec in STEP_TYPES.items():
        assert (spec.waiting_for is not None) == spec.waits
    assert STEP_TYPES["wait_for_task"].waiting_for(WAITING) == \
        "waiting for Review, held by role reviewer for 2 hours, times out in 3 days"
    assert STEP_TYPES["delay"].waiting_for(WAITING) == "waiting at Review (step_3), times out in 3 days"
    assert STEP_TYPES["delay"].timer_verb == "continues"


def test_task_sources():
    assert STEP_TYPES["wait_for_task"].task_source("w", {"task_from_step": "a"}) == "a"
    assert STEP_TYPES["wait_for_approval"].task_source("ok", {}) == "ok"
    assert STEP_TYPES["assign_task"].task_source("a", {}) == "a"
    assert STEP_TYPES["delay"].task_source("d", {}) is None


@pytest.mark.parametrize("step_type, config, targets", [
    ("trigger", {}, [("next", "n")]),
    ("end", {}, []),
    ("wait_for_task", {"on_timeout": {"action": "goto", "step": "late"}}, [("next", "n"), ("timeout", "late")]),
    ("wait_for_approval", {"on_timeout": {"action": "fail"}}, [("next", "n")]),
    ("condition", {"branches": [{"if": "yes", "then_goto": "y"}]}, [("branch", "y"), ("otherwise", "n")]),
    ("condition", {"branches": [{"if": 1, "then_goto": "y"}], "default_goto": "d"},
     [("branch", "y"), ("otherwise", "d")]),
])
def test_the_one_successor_walk(step_type, config, targets):
    assert [(e.kind, e.target) for e in edges_of(step_type, config, "n")] == targets
    assert edges_of("unknown", config, "n") == []


def test_shapes_come_from_the_registry():
    assert {name: spec.shape for name, spec in STEP_TYPES.items() if spec.shape != "box"} == {
        "trigger": "oval", "condition": "diamond", "end": "doublecircle", "wait_for_approval": "hexagon"}


def test_only_the_trigger_starts_a_workflow():
    assert [name for name, spec in STEP_TYPES.items() if spec.starts] == ["trigger"]


def test_the_diagram_reads_shapes_and_edges_from_the_registry_and_quotes_names_safely():
    import json
    import re

    from byte_core.demo import WORKFLOW_DIR
    from byte_core.workflow.authoring import to_dot
    from byte_core.workflow.definition import parse_definition

    data = json.loads((WORKFLOW_DIR / "application_review.json").read_text())
    data["steps"][0]["name"] = 'Say "hi" \\'  # a quote and a trailing backslash must not end the label
    data["phases"][0]["name"] = 'Intake" fontcolor="red'
    dot = to_dot(parse_definition(data), running={"step_3": 2})
    for line in dot.splitlines():
        unescaped = re.sub(r'\\.', "", line)
        assert unescaped.count('"') % 2 == 0, line
    assert '"step_1" [label="Say \\"hi\\" \\\\\\n(trigger)", shape=oval];' in dot
    assert '"step_5" -> "step_9" [label="rejected"];' in dot
    assert '"step_3" [label="Wait for Review\\n(wait_for_task)\\n● 2 running", shape=box' in dot
    assert 'label="Intake\\" fontcolor=\\"red"' in dot
