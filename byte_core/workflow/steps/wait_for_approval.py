"""wait_for_approval: creates an approval task and waits for its decision (approved or rejected)."""
from __future__ import annotations

from typing import Annotated

from pydantic import Field

from ..step_results import start_timer
from .base import Name, Strict, StepType, TaskFields, TimeoutFields, waiting_for_a_person
from .wait_for_task import edges


class ApprovalOptions(Strict):
    approve_label: Annotated[Name, Field(max_length=60)] = "Approve"
    reject_label: Annotated[Name, Field(max_length=60)] = "Reject"
    require_comment: bool = False


class WaitForApprovalConfig(TaskFields, TimeoutFields):
    approval_options: ApprovalOptions | None = None


# How the pure engine (workflow/engine.py) runs this step: `run` is the execution's Run.
def handler(run, step):
    task = run.task((run.visit.output or {}).get("task_id"))
    if task is None:
        task = run.create_task(step, task_type="approval", default_title=step.name)
        run.output(step, task_id=str(task.id))
    start_timer(run, step.config.get("timeout_days"))
    return run.wait_on_task(step, task, approval=True)

SPEC = StepType(name="wait_for_approval", summary="Asks for an approve/reject decision and waits for it.",
                config=WaitForApprovalConfig, module=__name__, edges=edges, shape="hexagon", waits=True,
                waiting_for=waiting_for_a_person, task_type="approval",
                outputs=("outcome", "comment", "decided_by", "task_id", "timed_out", "escalated_to"))
