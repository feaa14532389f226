"""Unit tier: the linear template scanner and rendering, no database."""
import pytest

from byte_core.workflow.templates import MAX_PLACEHOLDERS, TemplateError, check_syntax, find_references, render, \
    resolve, scan

CONTEXT = {"contact": {"first_name": "Ada"}, "step_4": {"outcome": "approved", "score": 7}}


def test_placeholders_are_found_with_their_positions():
    text = "Hi {{ contact.first_name }}, {{step_4.outcome}}!"
    result = scan(text)
    assert result.problems == []
    assert [(p.path, text[p.start:p.end]) for p in result.placeholders] == [
        ("contact.first_name", "{{ contact.first_name }}"), ("step_4.outcome", "{{step_4.outcome}}")]
    assert find_references("no templates here") == []


@pytest.mark.parametrize("text, problem", [
    ("{{ contact.first_name", "unclosed '{{'"),
    ("done }}", "stray '}}'"),
    ("{{ }}", "empty placeholder"),
    ("{{ a b }}", "not a dotted name"),
    ("{{ 4th.step }}", "not a dotted name"),
    ("{{ a..b }}", "not a dotted name"),
    ("{{{ a }}}", "'{' or '}' inside"),
    ("{{" + " " * 6000, "unclosed '{{'"),
    ("{{a}}" * (MAX_PLACEHOLDERS + 1), f"more than {MAX_PLACEHOLDERS} placeholders"),
])
def test_malformed_templates_are_named(text, problem):
    assert any(problem in p for p in check_syntax(text)), check_syntax(text)


def test_each_kind_of_problem_is_reported_once():
    assert check_syntax("}} }} }}") == ["has a stray '}}' with no '{{' before it"]


def test_render_and_resolve():
    assert render("Hi {{ contact.first_name }}: {{step_4.outcome}}", CONTEXT) == "Hi Ada: approved"
    assert resolve(" {{ step_4.score }} ", CONTEXT) == 7  # one placeholder keeps the value's type
    assert resolve("{{ step_4.score }} points", CONTEXT) == "7 points"
    with pytest.raises(TemplateError, match="step_4 has no 'missing'"):
        render("{{ step_4.missing }}", CONTEXT)
    with pytest.raises(TemplateError, match="unclosed"):
        render("{{ step_4.outcome", CONTEXT)


def test_ids_with_hyphens_can_be_read():
    assert resolve("{{ review-1.outcome }}", {"review-1": {"outcome": "ok"}}) == "ok"
