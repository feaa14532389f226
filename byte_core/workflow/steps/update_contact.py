"""update_contact: adds or removes tags on the execution's contact and merges metadata into it."""
from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from .base import FreeJson, Name, Strict, StepType

Tags = Annotated[list[Annotated[Name, Field(max_length=100)]], Field(max_length=50)]


class UpdateContactConfig(Strict):
    add_tags: Tags | None = None
    remove_tags: Tags | None = None
    metadata: Annotated[dict[str, FreeJson], Field(max_length=100)] | None = None

    @model_validator(mode="after")
    def _says_what_to_change(self) -> "UpdateContactConfig":
        if not (self.add_tags or self.remove_tags or self.metadata):
            raise PydanticCustomError("update_empty", "say what to change: add_tags, remove_tags or metadata")
        return self


handler = None  # [A]: the pure engine's run function for this step type goes here.

SPEC = StepType(name="update_contact", summary="Changes the contact's tags or metadata.", config=UpdateContactConfig,
                module=__name__, outputs=("tags",))
