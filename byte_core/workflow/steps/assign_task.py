"""assign_task: puts a task in a role's or a person's queue and goes on at once (a wait_for_task waits for it)."""
from __future__ import annotations

from .base import StepType, TaskFields


class AssignTaskConfig(TaskFields):
    pass


handler = None  # [A]: the pure engine's run function for this step type goes here.

SPEC = StepType(name="assign_task", summary="Creates a task and goes on.", config=AssignTaskConfig, module=__name__,
                task_type="standard", outputs=("task_id",))
