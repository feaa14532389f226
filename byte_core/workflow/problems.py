"""What is wrong with a workflow definition, in words a workflow admin understands."""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import InvalidInput


@dataclass(frozen=True)
class DefinitionError:
    step_id: str | None  # the step's id, or "steps[3]" when it has no usable id; None for the whole definition
    field: str  # e.g. "config.branches[0].then_goto"
    message: str

    def __str__(self) -> str:
        return f"{self.step_id or 'definition'} · {self.field}: {self.message}"


class DefinitionInvalid(InvalidInput):
    def __init__(self, errors: list[DefinitionError]):
        self.errors = errors
        super().__init__("the workflow definition is invalid:\n" + "\n".join(f"- {e}" for e in errors))
