"""assign_task: puts a task in a role's or a person's queue and goes on at once (a wait_for_task waits for it)."""
from __future__ import annotations

from ..step_results import Next
from .base import StepType, TaskFields


class AssignTaskConfig(TaskFields):
    pass


# How the pure engine (workflow/engine.py) runs this step: `run` is the execution's Run.
def handler(run, step) -> Next:
    task = run.task((run.visit.output or {}).get("task_id")) or run.create_task(
        step, task_type="standard", default_title=step.name)
    run.output(step, task_id=str(task.id))
    return Next(outcome="assigned")

SPEC = StepType(name="assign_task", summary="Creates a task and goes on.", config=AssignTaskConfig, module=__name__,
                task_type="standard", outputs=("task_id",))
