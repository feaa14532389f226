"""The form editor's field descriptions come from the step types' config models (issue [E])."""
from __future__ import annotations

import pytest

from byte_core.access import ROLES
from byte_core.workflow.field_specs import describe_step_type
from byte_core.workflow.steps.registry import STEP_TYPES


@pytest.mark.parametrize("step_type", sorted(STEP_TYPES))
def test_every_config_field_of_every_type_is_described(step_type):
    model = STEP_TYPES[step_type].config
    described = {spec.name.split(".")[0] for spec in describe_step_type(step_type)}
    assert described == {info.alias or name for name, info in model.model_fields.items()}
    required = {spec.name for spec in describe_step_type(step_type) if spec.required}
    assert required == {info.alias or name for name, info in model.model_fields.items() if info.is_required()}


def test_kinds_pick_the_right_widget():
    approval = {spec.name: spec for spec in describe_step_type("wait_for_approval")}
    assert approval["assign_to"].kind == "assignee" and set(approval["assign_to"].choices) == set(ROLES)
    assert approval["on_timeout"].kind == "timeout" and approval["timeout_days"].kind == "number"
    assert approval["priority"].kind == "choice" and approval["priority"].default == "medium"
    assert approval["approval_options.approve_label"].default == "Approve"
    assert approval["approval_options.require_comment"].kind == "bool"
    assert {s.name: s.kind for s in describe_step_type("wait_for_task")}["task_from_step"] == "step"
    condition = {s.name: s.kind for s in describe_step_type("condition")}
    assert condition == {"field": "text", "branches": "branches", "default_goto": "step"}
    assert {s.name: s.kind for s in describe_step_type("update_contact")}["add_tags"] == "tags"
    assert describe_step_type("teleport") == []
