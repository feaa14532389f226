"""trigger: where every execution starts (a form submission, the API or a person pressing Start)."""
from __future__ import annotations

from typing import Literal

from ..step_results import Next
from .base import Strict, StepType


class TriggerConfig(Strict):
    trigger_type: Literal["manual", "form_submission", "api"] = "manual"


# How the pure engine (workflow/engine.py) runs this step: `run` is the execution's Run.
def handler(run, step) -> Next:
    run.output(step, trigger_type=step.config.get("trigger_type", "manual"), source=run.execution.source)
    return Next(outcome="triggered")

SPEC = StepType(name="trigger", summary="Starts the workflow.", config=TriggerConfig, module=__name__,
                shape="oval", starts=True, outputs=("trigger_type", "source"))
