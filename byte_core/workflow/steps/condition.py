"""condition: compares a value (usually a template such as {{step_4.outcome}}) with each branch and jumps."""
from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from ..step_results import Next
from ..templates import resolve
from .base import Edge, Scalar, StepId, Strict, StepType, Text


class Branch(Strict):
    if_: Scalar = Field(alias="if")
    then_goto: StepId


class ConditionConfig(Strict):
    field: Annotated[Text, Field(min_length=1)]
    branches: Annotated[list[Branch], Field(min_length=1, max_length=50)]
    default_goto: StepId | None = None


def edges(config: dict[str, Any], next_id: str | None) -> list[Edge]:
    found = [Edge(b["then_goto"], "branch", str(b.get("if")), f"config.branches[{i}].then_goto")
             for i, b in enumerate(config.get("branches") or []) if isinstance(b, dict) and b.get("then_goto")]
    default = config.get("default_goto")
    if default:
        found.append(Edge(default, "otherwise", "otherwise", "config.default_goto"))
    elif next_id:
        found.append(Edge(next_id, "otherwise", "otherwise"))
    return found


# How the pure engine (workflow/engine.py) runs this step: `run` is the execution's Run.
def handler(run, step) -> Next:
    value = resolve(step.config["field"], run.context())
    text = "" if value is None else str(value)
    for branch in step.config["branches"]:
        if str(branch["if"]) == text:
            run.output(step, value=text, branch=branch["then_goto"])
            return Next(goto=branch["then_goto"], outcome=text)
    default = step.config.get("default_goto")
    run.output(step, value=text, branch=default)
    return Next(goto=default, outcome=text or "default")

SPEC = StepType(name="condition", summary="Jumps to the branch whose value matches.", config=ConditionConfig,
                module=__name__, edges=edges, shape="diamond", outputs=("value", "branch"))
