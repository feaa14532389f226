"""set_variable: stores a value (templates resolved) in the execution's variables."""
from __future__ import annotations

from typing import Annotated

from pydantic import Field

from .base import FreeJson, Strict, StepType


class SetVariableConfig(Strict):
    name: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$",
                               json_schema_extra={"description": "A simple name: letters, digits, underscore."})]
    value: FreeJson


handler = None  # [A]: the pure engine's run function for this step type goes here.

SPEC = StepType(name="set_variable", summary="Stores a value in the execution's variables.", config=SetVariableConfig,
                module=__name__, outputs=("value",))
