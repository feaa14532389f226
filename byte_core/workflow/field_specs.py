"""What the form editor draws for each step type, read from the type's pydantic config model (issue [E]).

No Streamlit here: the Workflows page turns each `FieldSpec` into a widget. A new step type or a new
setting shows up in the form without touching the page, as long as its field is one of the kinds below.
"""
from __future__ import annotations

import typing
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from ..access import ROLES
from .steps.base import ID_PATTERN, EscalateOnTimeout, RoleTarget
from .steps.registry import spec_of

#: text, number, bool, choice (choices given), role, step (a step id picker), assignee (role or person),
#: timeout (goto / escalate / fail), branches (if value -> step), tags (list of texts), json (anything else)
Kind = Literal["text", "number", "bool", "choice", "role", "step", "assignee", "timeout", "branches", "tags", "json"]


@dataclass(frozen=True)
class FieldSpec:
    name: str  # path inside the step's config: "title", "approval_options.approve_label"
    kind: Kind
    required: bool
    choices: tuple[Any, ...] = ()
    default: Any = None
    description: str = ""

    @property
    def label(self) -> str:
        return self.name.split(".")[-1].replace("_", " ").capitalize()


def describe_step_type(step_type: str) -> list[FieldSpec]:
    """The config fields of a step type in declaration order; [] for an unknown type."""
    spec = spec_of(step_type)
    return _describe(spec.config, "") if spec else []


def _describe(model: type[BaseModel], prefix: str) -> list[FieldSpec]:
    found: list[FieldSpec] = []
    for name, info in model.model_fields.items():
        key = info.alias or name
        inner, _, metadata = _unwrap(info.annotation)
        default = None if info.default is PydanticUndefined else info.default
        required = info.is_required()
        path = prefix + key
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            found += [FieldSpec(f.name, f.kind, required and f.required, f.choices, f.default, f.description)
                      for f in _describe(inner, path + ".")]
            continue
        kind, choices = _kind(inner, [*info.metadata, *metadata])
        found.append(FieldSpec(path, kind, required, choices, default, info.description or ""))
    return found


def _unwrap(annotation: Any) -> tuple[Any, bool, list]:
    """The type inside Optional[...] / Annotated[...], whether None is allowed, and the constraints met on the way."""
    optional, metadata = False, []
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation, *extra = typing.get_args(annotation)
            metadata += extra
        elif origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            optional = optional or len(args) < len(typing.get_args(annotation))
            if len(args) != 1:
                return typing.Union[tuple(args)], optional, metadata  # a tagged union: told apart below
            annotation = args[0]
        else:
            return annotation, optional, metadata


def _kind(annotation: Any, metadata: list) -> tuple[Kind, tuple]:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        return ("role", tuple(ROLES)) if set(args) == set(ROLES) else ("choice", args)
    if origin is typing.Union:
        members = {_unwrap(a)[0] for a in args}
        if RoleTarget in members:
            return "assignee", tuple(ROLES)
        if EscalateOnTimeout in members:
            return "timeout", ("goto", "escalate", "fail")
        return "json", ()
    if origin is list:
        item = _unwrap(args[0])[0] if args else None
        if isinstance(item, type) and issubclass(item, BaseModel) and "then_goto" in item.model_fields:
            return "branches", ()
        return ("tags", ()) if item is str else ("json", ())
    if annotation is bool:
        return "bool", ()
    if annotation in (int, float):
        return "number", ()
    if annotation is str:
        patterns = {getattr(m, "pattern", None) for m in metadata}
        patterns |= {getattr(n, "pattern", None) for m in metadata for n in getattr(m, "metadata", [])}
        return ("step", ()) if ID_PATTERN in patterns else ("text", ())
    return "json", ()
