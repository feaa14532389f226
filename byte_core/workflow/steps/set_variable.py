"""set_variable: stores a value (templates resolved) in the execution's variables."""
from __future__ import annotations

from typing import Annotated

from pydantic import Field

from ..step_results import Next, resolve_deep
from .base import FreeJson, Strict, StepType


class SetVariableConfig(Strict):
    name: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$",
                               json_schema_extra={"description": "A simple name: letters, digits, underscore."})]
    value: FreeJson


# How the pure engine (workflow/engine.py) runs this step: `run` is the execution's Run.
def handler(run, step) -> Next:
    value = resolve_deep(step.config.get("value"), run.context())
    run.variables[step.config["name"]] = value
    run.output(step, value=value)
    return Next(outcome="set")

SPEC = StepType(name="set_variable", summary="Stores a value in the execution's variables.", config=SetVariableConfig,
                module=__name__, outputs=("value",))
