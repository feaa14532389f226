"""wait_for_task: waits until the task an earlier assign_task step created is completed."""
from __future__ import annotations

from typing import Any

from .base import Edge, StepId, StepType, TimeoutFields, next_edge, timeout_edges, waiting_for_a_person


class WaitForTaskConfig(TimeoutFields):
    task_from_step: StepId


def edges(config: dict[str, Any], next_id: str | None) -> list[Edge]:
    return next_edge(next_id) + timeout_edges(config)


handler = None  # [A]: the pure engine's run function for this step type goes here.

SPEC = StepType(name="wait_for_task", summary="Waits for an assigned task to be completed.", config=WaitForTaskConfig,
                module=__name__, edges=edges, waits=True, waiting_for=waiting_for_a_person,
                task_source_key="task_from_step",
                outputs=("outcome", "comment", "completed_by", "task_id", "timed_out"))
