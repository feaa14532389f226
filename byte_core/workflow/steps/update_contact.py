"""update_contact: adds or removes tags on the execution's contact and merges metadata into it."""
from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from ..step_results import Next, StepFailed, resolve_deep
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


# How the pure engine (workflow/engine.py) runs this step: `run` is the execution's Run.
def handler(run, step) -> Next:
    contact = run.snapshot.contact
    if contact is None:
        raise StepFailed(f"{step.id}: the execution's contact no longer exists")
    config = step.config
    tags = list(run.contact_changes.get("tags", contact.get("tags")) or [])
    tags = [t for t in tags if t not in set(config.get("remove_tags", []))]
    tags += [t for t in config.get("add_tags", []) if t not in tags]
    metadata = {**(run.contact_changes.get("metadata", contact.get("metadata")) or {}),
                **resolve_deep(config.get("metadata", {}), run.context())}
    run.contact_changes.update(tags=tags, metadata=metadata)
    run.output(step, tags=tags)
    run.log("contact_updated", {"step_id": step.id, "tags": tags, "metadata_keys": sorted(config.get("metadata", {}))})
    return Next(outcome="updated")

SPEC = StepType(name="update_contact", summary="Changes the contact's tags or metadata.", config=UpdateContactConfig,
                module=__name__, outputs=("tags",))
