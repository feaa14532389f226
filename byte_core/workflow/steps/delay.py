"""delay: waits for a fixed time, then goes on."""
from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from ..step_results import Next
from .base import MAX_DAYS, Strict, StepType, Waiting

Amount = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class DelayConfig(Strict):
    days: Annotated[Amount, Field(le=MAX_DAYS)] = 0
    hours: Annotated[Amount, Field(le=MAX_DAYS * 24)] = 0
    minutes: Annotated[Amount, Field(le=MAX_DAYS * 24 * 60)] = 0

    @model_validator(mode="after")
    def _some_time_within_bounds(self) -> "DelayConfig":
        total_days = self.days + self.hours / 24 + self.minutes / 1440
        if total_days <= 0:
            raise PydanticCustomError("delay_empty", "a delay needs days, hours or minutes greater than zero")
        if total_days > MAX_DAYS:
            raise PydanticCustomError("delay_long", "a delay can last at most {limit} days in all", {"limit": MAX_DAYS})
        return self


def waiting_for(w: Waiting) -> str:
    return f"waiting at {w.step_label}{w.timer_text}"


# How the pure engine (workflow/engine.py) runs this step: `run` is the execution's Run.
def handler(run, step):
    if run.visit.timeout_at is None:
        config = step.config
        span = timedelta(days=config.get("days", 0), hours=config.get("hours", 0), minutes=config.get("minutes", 0))
        run.visit.timeout_at = run.visit.entered_at + span
    if run.visit.timeout_at <= run.now:
        return Next(outcome="elapsed")
    return run.wait_until(run.visit.timeout_at)

SPEC = StepType(name="delay", summary="Waits for a fixed time.", config=DelayConfig, module=__name__, waits=True,
                timer_verb="continues", waiting_for=waiting_for)
