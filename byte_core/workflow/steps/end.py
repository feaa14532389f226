"""end: finishes the execution with an outcome (completed, or failed on purpose)."""
from __future__ import annotations

from typing import Any, Literal

from ..step_results import Finish
from .base import Edge, Name, Strict, StepType


class EndConfig(Strict):
    outcome: Name = "completed"
    status: Literal["completed", "failed"] = "completed"


def edges(config: dict[str, Any], next_id: str | None) -> list[Edge]:
    return []


# How the pure engine (workflow/engine.py) runs this step: `run` is the execution's Run.
def handler(run, step) -> Finish:
    return Finish(step.config.get("status", "completed"), step.config.get("outcome", "completed"))

SPEC = StepType(name="end", summary="Finishes the execution.", config=EndConfig, module=__name__, edges=edges,
                shape="doublecircle")
