"""By property, on the real database: every edited demo definition the validator accepts can be saved, started
and run to its first wait; every one it refuses is refused with its own error, nothing else."""
from __future__ import annotations

import os
import uuid

from hypothesis import HealthCheck, event, given, settings
from sqlalchemy import select

from byte_core.models import Contact, WorkflowExecution, StepVisit
from byte_core.workflow.definition import DefinitionInvalid, parse_definition, validate_definition
from byte_core.workflow.definitions import save_definition
from byte_core.workflow.commands import start_execution
from byte_core.workflow.steps.registry import WAIT_TYPES
from tests.definition_strategies import ALL_EDITS, PLAUSIBLE_EDITS, mutated_demo

CONTACT = dict(first_name="Ada", last_name="Lovelace", email="ada@example.org", phone="555-0100",
               address_line_1="1 Analytical Way", city="London", state="LDN", zip="00001", tags=["applicant"])


# Refusals cost a millisecond, so most of the time goes to the accepted ones (about a fifth): ~25 runs.
# BYTE_PROPERTY_EXAMPLES raises the count for a longer search.
@settings(max_examples=int(os.environ.get("BYTE_PROPERTY_EXAMPLES", 120)), deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(definition=mutated_demo(PLAUSIBLE_EDITS) | mutated_demo(ALL_EDITS))
def test_accepted_definitions_run_to_their_first_wait(database, actor, definition):
    errors = validate_definition(definition)
    event("refused" if errors else "accepted, saved and started")
    if errors:
        try:
            parse_definition(definition)
        except DefinitionInvalid as exc:
            assert exc.errors == errors
        return
    definition["name"] = f"Edited {uuid.uuid4().hex[:10]}"
    save_definition(database, actor, definition)
    with database.session(actor.org_id) as session:
        if session.scalar(select(Contact.id).where(Contact.email == CONTACT["email"])) is None:
            session.add(Contact(org_id=actor.org_id, **CONTACT))
    started = start_execution(database, actor, definition["name"], CONTACT["email"], run_now=True)
    with database.session(actor.org_id) as session:
        execution = session.get(WorkflowExecution, started.id)
        visit = session.scalars(select(StepVisit).where(
            StepVisit.workflow_execution_id == started.id)
            .order_by(StepVisit.seq.desc()).limit(1)).one()
    step = parse_definition(definition).step(execution.current_step_id)
    event(f"ended {execution.status}")
    if execution.status == "running":
        assert step.type in WAIT_TYPES and visit.status == "waiting" and visit.step_id == step.id, execution.last_error
    elif execution.status == "failed":  # only on purpose: an end step that says so
        assert step.type == "end" and step.config.get("status") == "failed", execution.last_error
    else:
        assert execution.status == "completed", execution.last_error
