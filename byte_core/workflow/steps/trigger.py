"""trigger: where every execution starts (a form submission, the API or a person pressing Start)."""
from __future__ import annotations

from typing import Literal

from .base import Strict, StepType


class TriggerConfig(Strict):
    trigger_type: Literal["manual", "form_submission", "api"] = "manual"


handler = None  # [A]: the pure engine's run function for this step type goes here.

SPEC = StepType(name="trigger", summary="Starts the workflow.", config=TriggerConfig, module=__name__,
                shape="oval", starts=True, outputs=("trigger_type", "source"))
