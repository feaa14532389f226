"""Unit tier, by property: no input makes the validator raise anything but its own error."""
from hypothesis import HealthCheck, given, settings

from byte_core.workflow.definition import DefinitionError, DefinitionInvalid, parse_definition, validate_definition
from tests.definition_strategies import json_values, mutated_demo

FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _judged(data) -> None:
    errors = validate_definition(data)
    assert all(isinstance(e, DefinitionError) and e.field and e.message for e in errors)
    assert all("Input should" not in e.message for e in errors)  # pydantic's raw words never reach people
    try:
        parse_definition(data)
    except DefinitionInvalid as exc:
        assert exc.errors == errors and errors
    else:
        assert errors == []


@FUZZ
@given(json_values)
def test_any_json_value_is_judged_without_an_exception(value):
    _judged(value)
    _judged({"name": "x", "steps": value})
    _judged({"name": "x", "steps": [{"id": "a", "order": 1, "type": "trigger", "name": "Go", "config": value}]})


@FUZZ
@given(mutated_demo())
def test_edited_demo_definitions_are_judged_without_an_exception(data):
    _judged(data)
