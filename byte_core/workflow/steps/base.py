"""What every step type declares, and the building blocks their config models share.

A step type is one module in this package holding a `SPEC` (a `StepType`) and a module-level `handler`
slot. Everything that needs to know about a type (validator, engine, inspector, diagram, demo and bench
generators) asks the registry (`steps.registry`) instead of testing `step.type` itself.
"""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from typing import Annotated, Any, Callable, Literal, NamedTuple

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

from ...access import ROLES

ID_PATTERN = r"^[A-Za-z][A-Za-z0-9_-]{0,63}$"
MAX_DAYS = 3650
MAX_TEXT = 2000
MAX_NAME = 200
MAX_VALUE_DEPTH = 32


def clean_text(value: str) -> str:
    """PostgreSQL stores neither NUL characters nor lone surrogates: refuse them here, not at save time."""
    if "\x00" in value:
        raise PydanticCustomError("text_nul", "contains a NUL character (\\u0000)")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise PydanticCustomError("text_surrogate", "contains an invalid character (a lone UTF-16 surrogate)") from None
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise PydanticCustomError("text_blank", "must not be empty or only spaces")
    return value


def _free_json(value: Any) -> Any:
    """Any JSON value a person may put in a definition: finite numbers, clean texts, bounded nesting (walked
    with an explicit stack, so a deep value gives an error, not a RecursionError)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_VALUE_DEPTH:
            raise PydanticCustomError("json_depth", "is nested more than {limit} levels deep",
                                      {"limit": MAX_VALUE_DEPTH})
        if isinstance(item, str):
            clean_text(item)
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, (int, float)):
            if isinstance(item, float) and not math.isfinite(item):
                raise PydanticCustomError("json_number", "holds Infinity or NaN, which cannot be stored")
            if isinstance(item, int) and abs(item) > 2 ** 63:
                raise PydanticCustomError("json_number", "holds a number too large to store")
        elif isinstance(item, dict):
            for key, inner in item.items():
                if not isinstance(key, str):
                    raise PydanticCustomError("json_key", "has a key that is not a text")
                clean_text(key)
                stack.append((inner, depth + 1))
        elif isinstance(item, list):
            stack.extend((inner, depth + 1) for inner in item)
        else:
            raise PydanticCustomError("json_value", "holds a value that is not JSON")
    return value


def _scalar(value: Any) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return value
    raise PydanticCustomError("branch_value", "must be a text or a number to compare with")


# --- shared field types ---------------------------------------------------------------------------------------
StepId = Annotated[str, Field(pattern=ID_PATTERN, json_schema_extra={"description": "A step id: a letter, then up "
                                                                     "to 63 letters, digits, '_' or '-'."})]
Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME), AfterValidator(clean_text), AfterValidator(_not_blank)]
Text = Annotated[str, Field(max_length=MAX_TEXT), AfterValidator(clean_text)]
# Templates ({{ contact.first_name }}) in any text of a config are checked by the validator's walk.
Days = Annotated[float, Field(gt=0, le=MAX_DAYS, allow_inf_nan=False)]
Role = Literal[ROLES]  # type: ignore[valid-type]
FreeJson = Annotated[Any, PlainValidator(_free_json), WithJsonSchema({})]
Scalar = Annotated[Any, PlainValidator(_scalar), WithJsonSchema({"type": ["string", "number"]})]


class Strict(BaseModel):
    """No coercion ("5" is not 5), no unknown keys: a typo is reported rather than ignored."""

    model_config = ConfigDict(strict=True, extra="forbid", populate_by_name=True)


class RoleTarget(Strict):
    type: Literal["role"]
    role: Role


class UserTarget(Strict):
    type: Literal["user"]
    user: Name


AssignTo = Annotated[RoleTarget | UserTarget, Field(discriminator="type")]


class GotoOnTimeout(Strict):
    action: Literal["goto"]
    step: StepId


class EscalateOnTimeout(Strict):
    action: Literal["escalate"]
    role: Role


class FailOnTimeout(Strict):
    action: Literal["fail"]


OnTimeout = Annotated[GotoOnTimeout | EscalateOnTimeout | FailOnTimeout, Field(discriminator="action")]
TAGGED_SETTINGS = ("assign_to", "on_timeout")  # settings told apart by "type" / "action", as steps are by "type"


class TaskFields(Strict):
    """A step that puts a task in someone's queue."""

    title: Annotated[Text, Field(min_length=1)]
    description: Text | None = None
    assign_to: AssignTo
    priority: Literal["low", "medium", "high"] = "medium"
    due_in_days: Days | None = None


class TimeoutFields(Strict):
    """A step that waits for a person, optionally with a deadline."""

    timeout_days: Days | None = None
    on_timeout: OnTimeout | None = None


# --- edges -------------------------------------------------------------------------------------------------------
class Edge(NamedTuple):
    """Where a step can go next. `field` names the setting that says so (None: the next step in order)."""

    target: str
    kind: Literal["next", "branch", "otherwise", "timeout"] = "next"
    label: str | None = None
    field: str | None = None


def next_edge(next_id: str | None) -> list[Edge]:
    return [Edge(next_id)] if next_id else []


def timeout_edges(config: dict[str, Any]) -> list[Edge]:
    policy = config.get("on_timeout")
    if isinstance(policy, dict) and policy.get("action") == "goto" and isinstance(policy.get("step"), str):
        return [Edge(policy["step"], "timeout", "timeout", "config.on_timeout.step")]
    return []


def go_on(config: dict[str, Any], next_id: str | None) -> list[Edge]:
    """Most steps: the next step in order."""
    return next_edge(next_id)


# --- what a waiting step tells the inspector --------------------------------------------------------------------
@dataclass(frozen=True)
class Waiting:
    """The facts `inspect` has about a step an execution waits at, for its one-line explanation."""

    step_label: str
    step_name: str
    held_by: str | None
    age: str
    timer_text: str
    has_timeout: bool


def waiting_for_a_person(w: Waiting) -> str:
    text = f"waiting for {w.step_name}" + (f", held by {w.held_by} for {w.age}" if w.held_by else f" for {w.age}")
    return text + w.timer_text + ("" if w.has_timeout else ", no timeout")


# --- the declaration ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StepType:
    name: str
    summary: str
    config: type[Strict]
    module: str
    edges: Callable[[dict[str, Any], str | None], list[Edge]] = go_on
    shape: str = "box"  # Graphviz node shape on the workflow diagram
    starts: bool = False  # every execution starts here: a definition has exactly one, first in order
    waits: bool = False  # an execution can stop here until a person or the clock moves it on
    timer_verb: str = "times out"  # what happens when the step's timer fires, for "…, times out in 2 days"
    waiting_for: Callable[[Waiting], str] | None = None  # inspect's "what is it waiting for" line; None: never waits
    task_type: Literal["standard", "approval"] | None = None  # the kind of task the step creates, if any
    # A step that waits on a task created by another step names that step in this config key.
    task_source_key: str | None = None
    # Keys of the step's output (variables[step_id]) that templates may read.
    outputs: tuple[str, ...] = ()

    @property
    def handler(self) -> Callable | None:
        """How the engine runs the step: the module-level `handler` of the step type's module ([A])."""
        return getattr(sys.modules[self.module], "handler", None)

    def task_source(self, step_id: str, config: dict[str, Any]) -> str | None:
        """The step whose task this step waits on or creates (itself for a step that creates its own)."""
        if self.task_source_key:
            return config.get(self.task_source_key)
        return step_id if self.task_type else None
