"""Unit tier: the dry run walks a definition with the pure engine, in memory."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from byte_core.demo import WORKFLOW_DIR
from byte_core.errors import InvalidInput
from byte_core.workflow.definition import parse_definition
from byte_core.workflow.simulate import parse_span, simulate

RAW = json.loads((WORKFLOW_DIR / "application_review.json").read_text())
REVIEW = parse_definition(RAW)
ANN = {"first_name": "Ann", "last_name": "Lee", "email": "ann@example.org"}
START = datetime(2026, 11, 27, 9, tzinfo=timezone.utc)


def test_the_approved_path_names_each_task_and_the_branch():
    result = simulate(REVIEW, ANN, decisions={"step_4": "approved"}, waits={"step_4": timedelta(days=1)}, start=START)
    assert (result.ended, result.outcome) == ("completed", "approved")
    text = "\n".join(result.lines())
    assert "task “Review application: Ann Lee” for the reviewer role" in text
    assert "value “approved” → goes to step_6 (Send Approval Letter)" in text
    assert result.events[-1].elapsed == timedelta(days=1)


def test_a_wait_longer_than_the_timeout_fires_the_escalation_first():
    result = simulate(REVIEW, ANN, decisions={"step_4": "rejected"}, waits={"step_3": timedelta(days=4)}, start=START)
    texts = [e.text for e in result.events]
    assert "step_3 (Wait for Review): timed out → escalate" in texts
    assert "step_3 (Wait for Review): task escalated to the manager role" in texts
    assert result.outcome == "rejected"


def test_an_undecided_approval_runs_into_its_timeout_and_fails():
    result = simulate(REVIEW, ANN, start=START)
    assert result.ended == "failed" and "timed out after 5 days" in result.error
    assert result.events[-1].elapsed == timedelta(days=5)


def test_an_approval_without_decision_or_timer_says_where_it_waits():
    raw = json.loads(json.dumps(RAW))
    raw["steps"][3]["config"].pop("timeout_days")
    result = simulate(parse_definition(raw), ANN, start=START)
    assert result.ended is None and "waits at step_4 (Manager Approval): no decision given" in result.events[-1].text


def test_inputs_naming_unknown_steps_or_bad_spans_are_refused():
    with pytest.raises(InvalidInput, match="no step step_99"):
        simulate(REVIEW, ANN, decisions={"step_99": "approved"})
    assert parse_span("36h") == timedelta(hours=36)
    with pytest.raises(InvalidInput, match="not a waiting time"):
        parse_span("soon")


def test_impact_names_removed_changed_and_kept_steps():
    from byte_core.workflow.migrate import impact

    raw = json.loads(json.dumps(RAW))
    raw["steps"][3]["config"]["timeout_days"] = 7          # step_4 changed, still an approval
    raw["steps"][2]["type"] = "wait_for_approval"          # step_3 becomes another kind of wait
    raw["steps"][2]["config"] = {"title": "Decide", "assign_to": {"type": "role", "role": "reviewer"}}
    rows = {r.step_id: r for r in impact(REVIEW, parse_definition(raw), {"step_3": 2, "step_4": 5, "gone": 1})}
    assert rows["step_4"].change == "changed" and rows["step_4"].migration.startswith("tasks kept")
    assert rows["step_3"].migration.startswith("open tasks closed")
    assert rows["gone"].change == "removed" and "needs a mapping" in rows["gone"].migration
