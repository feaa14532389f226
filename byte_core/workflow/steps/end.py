"""end: finishes the execution with an outcome (completed, or failed on purpose)."""
from __future__ import annotations

from typing import Any, Literal

from .base import Edge, Name, Strict, StepType


class EndConfig(Strict):
    outcome: Name = "completed"
    status: Literal["completed", "failed"] = "completed"


def edges(config: dict[str, Any], next_id: str | None) -> list[Edge]:
    return []


handler = None  # [A]: the pure engine's run function for this step type goes here.

SPEC = StepType(name="end", summary="Finishes the execution.", config=EndConfig, module=__name__, edges=edges,
                shape="doublecircle")
