"""The step types, by name. Adding a type: one module in this package with a SPEC, one line below, its tests."""
from __future__ import annotations

from . import (assign_task, condition, delay, end, set_variable, trigger, update_contact, wait_for_approval,
               wait_for_task)
from .base import Edge, StepType

STEP_TYPES: dict[str, StepType] = {module.SPEC.name: module.SPEC for module in (
    trigger, assign_task, wait_for_task, wait_for_approval, condition, delay, set_variable, update_contact, end)}
WAIT_TYPES = frozenset(name for name, spec in STEP_TYPES.items() if spec.waits)


def spec_of(step_type: object) -> StepType | None:
    """The declaration of a step type; None for anything else (including values that are not texts)."""
    return STEP_TYPES.get(step_type) if isinstance(step_type, str) else None


def edges_of(step_type: str, config: dict, next_id: str | None) -> list[Edge]:
    """Where a step can go next: the one successor walk every reader shares."""
    spec = spec_of(step_type)
    return spec.edges(config if isinstance(config, dict) else {}, next_id) if spec else []


__all__ = ["STEP_TYPES", "WAIT_TYPES", "Edge", "StepType", "spec_of", "edges_of"]
