"""Stored definitions on the real database: a version saved under older, looser rules stays readable and
runnable; a new save is held to today's rules."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from byte_core.demo import WORKFLOW_DIR
from byte_core.models import Contact, WorkflowDefinitionVersion
from byte_core.workflow import definitions
from byte_core.workflow.definition import DefinitionInvalid
from byte_core.workflow.definitions import save_definition
from byte_core.workflow.inspect import ExecutionFilter, explain, list_executions
from byte_core.workflow.commands import start_execution

REVIEW = json.loads((WORKFLOW_DIR / "application_review.json").read_text())


def test_a_version_saved_under_looser_rules_still_loads_and_runs(database, actor):
    saved = save_definition(database, actor, REVIEW)
    with database.session(actor.org_id) as session:
        session.add(Contact(org_id=actor.org_id, first_name="Old", last_name="Rules", email="old@example.org"))
        version = session.scalar(select(WorkflowDefinitionVersion).where(
            WorkflowDefinitionVersion.workflow_definition_id == saved.id))
        # What the old validator let through: a text phase order and an escalation to a role nobody has.
        phases = [dict(p) for p in version.phases]
        phases[1]["order"] = "2"
        steps = [dict(s) for s in version.steps["steps"]]
        steps[2] = {**steps[2], "config": {**steps[2]["config"], "on_timeout": {"action": "escalate", "role": "ceo"}}}
        version.phases, version.steps = phases, {"steps": steps}
    definitions._VERSION_CACHE.clear()
    started = start_execution(database, actor, REVIEW["name"], "old@example.org")
    assert started.current_step_id == "step_3" and started.status == "running"
    assert explain(database, actor, started.id).text.startswith("waiting for Wait for Review")
    assert [row.id for row in list_executions(database, actor, ExecutionFilter(definition_id=saved.id))] == [started.id]

    edited = json.loads(json.dumps(REVIEW))
    edited["steps"][2]["config"]["on_timeout"]["role"] = "ceo"
    with pytest.raises(DefinitionInvalid, match="step_3 · config.on_timeout.role"):
        save_definition(database, actor, edited)
