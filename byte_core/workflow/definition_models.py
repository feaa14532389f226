"""The definition as typed models (pydantic v2): the limits live here, and `byte workflow schema` publishes them.

Step models are built from the step registry, one per type, joined into a union told apart by `type`.
Graph rules (reachability, loops, what runs before what) are not expressible here: see `graph.py`.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import Field, create_model

from .steps.base import FreeJson, Name, StepId, Strict, Text
from .steps.registry import STEP_TYPES

MAX_STEPS = 500
MAX_PHASES = 50
MAX_ORDER = 100_000
SCHEMA_ID = "urn:byte-dashboard:workflow-definition"
Order = Annotated[int, Field(ge=0, le=MAX_ORDER)]


class PhaseModel(Strict):
    id: StepId
    name: Name
    description: Text = ""
    order: Order | None = None
    step_ids: Annotated[list[StepId], Field(max_length=MAX_STEPS)] | None = None


class StepBase(Strict):
    id: StepId
    order: Order
    phase_id: StepId | None = None
    name: Name


def _step_model(spec) -> type[StepBase]:
    title = "".join(part.capitalize() for part in spec.name.split("_")) + "Step"
    return create_model(title, __base__=StepBase, __doc__=spec.summary,
                        type=(Literal[spec.name], ...),
                        config=(spec.config, Field(default_factory=dict, validate_default=True)))


STEP_MODELS: dict[str, type[StepBase]] = {name: _step_model(spec) for name, spec in STEP_TYPES.items()}
StepModel = Annotated[Union[tuple(STEP_MODELS.values())], Field(discriminator="type")]  # type: ignore[misc]


class DefinitionModel(Strict):
    """A BYTE workflow definition: phases, and the steps an execution walks through."""

    schema_ref: str | None = Field(None, alias="$schema", description="Where editors find this schema.")
    name: Name
    description: Text = ""
    phases: Annotated[list[PhaseModel], Field(max_length=MAX_PHASES)] = []
    steps: Annotated[list[StepModel], Field(min_length=1, max_length=MAX_STEPS)]
    variables: Annotated[dict[str, FreeJson], Field(max_length=200)] = {}


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a definition file, for editors (VS Code `json.schemas`) and other tools."""
    schema = DefinitionModel.model_json_schema(by_alias=True)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}
