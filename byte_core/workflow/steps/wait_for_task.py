"""wait_for_task: waits until the task an earlier assign_task step created is completed."""
from __future__ import annotations

from typing import Any

from ..step_results import StepFailed, start_timer
from .base import Edge, StepId, StepType, TimeoutFields, next_edge, timeout_edges, waiting_for_a_person


class WaitForTaskConfig(TimeoutFields):
    task_from_step: StepId


def edges(config: dict[str, Any], next_id: str | None) -> list[Edge]:
    return next_edge(next_id) + timeout_edges(config)


# How the pure engine (workflow/engine.py) runs this step: `run` is the execution's Run.
def handler(run, step):
    source_step = step.config["task_from_step"]
    task = run.task((run.variables.get(source_step) or {}).get("task_id"))
    if task is None:
        raise StepFailed(f"{step.id}: no task from {source_step} to wait for ({source_step} has not run)")
    start_timer(run, step.config.get("timeout_days"))
    return run.wait_on_task(step, task, approval=False)

SPEC = StepType(name="wait_for_task", summary="Waits for an assigned task to be completed.", config=WaitForTaskConfig,
                module=__name__, edges=edges, waits=True, waiting_for=waiting_for_a_person,
                task_source_key="task_from_step",
                outputs=("outcome", "comment", "completed_by", "task_id", "timed_out"))
