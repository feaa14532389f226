"""Hypothesis strategies for workflow definitions: any JSON value, and the demo definitions changed in small,
plausible ways (what a person editing the JSON by hand produces), shared by the unit and database tiers."""
from __future__ import annotations

import copy
import json

from hypothesis import strategies as st

from byte_core.access import ROLES
from byte_core.demo import WORKFLOW_DIR
from byte_core.workflow.steps.registry import STEP_TYPES

DEMOS = [json.loads(path.read_text()) for path in sorted(WORKFLOW_DIR.glob("*.json"))]

scalars = (st.none() | st.booleans() | st.integers(min_value=-(2 ** 70), max_value=2 ** 70)
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=30)
           | st.sampled_from(["{{", "}}", "{{ contact.first_name }}", "step_2", "reviewer", "", " ", "\x00", "\u202e",
                              "wait_for_task", "condition", "end", "goto", "escalate"]))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=12) | st.sampled_from(
                               ["id", "type", "order", "config", "if", "then_goto", "role", "step", "action"]),
                               inner, max_size=4), max_leaves=20)


def _places(data) -> list[tuple]:
    """Every (container, key) in a JSON document, found with an explicit stack."""
    found, stack = [], [data]
    while stack:
        node = stack.pop()
        keys = list(node) if isinstance(node, dict) else range(len(node)) if isinstance(node, list) else []
        for key in keys:
            found.append((node, key))
            stack.append(node[key])
    return found


def _step_ids(data: dict) -> list[str]:
    return [s["id"] for s in _steps(data) if isinstance(s.get("id"), str)]


def _steps(data: dict) -> list[dict]:
    steps = data.get("steps")
    return [s for s in steps if isinstance(s, dict)] if isinstance(steps, list) else []


REFERENCES = ("then_goto", "default_goto", "task_from_step", "step")
ALL_EDITS = ("replace", "delete", "retarget", "retype", "swap_orders", "drop_step", "number", "role")
PLAUSIBLE_EDITS = ("retarget", "swap_orders", "drop_step", "number", "role")  # more of these are accepted


@st.composite
def mutated_demo(draw, edits: tuple[str, ...] = ALL_EDITS) -> dict:
    data = copy.deepcopy(draw(st.sampled_from(DEMOS)))
    for _ in range(draw(st.integers(1, 3))):
        places = _places(data)
        ids = _step_ids(data) or ["step_1"]
        node, key = draw(st.sampled_from(places))
        steps = _steps(data)
        operation = draw(st.sampled_from(edits))
        if operation == "replace":
            node[key] = draw(json_values)
        elif operation == "delete":
            del node[key]
        elif operation == "retarget":  # point a goto, task_from_step or timeout step at another step
            references = [(n, k) for n, k in places if k in REFERENCES]
            if references:
                target, name = draw(st.sampled_from(references))
                target[name] = draw(st.sampled_from(ids))
        elif operation == "retype" and steps:
            draw(st.sampled_from(steps))["type"] = draw(st.sampled_from(list(STEP_TYPES)))
        elif operation == "swap_orders" and len(steps) > 1:
            a, b = draw(st.sampled_from(steps)), draw(st.sampled_from(steps))
            a["order"], b["order"] = b.get("order"), a.get("order")
        elif operation == "drop_step" and steps:
            dropped = draw(st.sampled_from(steps))
            data["steps"].remove(dropped)
            for phase in data.get("phases") if isinstance(data.get("phases"), list) else []:
                if isinstance(phase, dict) and isinstance(phase.get("step_ids"), list):
                    phase["step_ids"] = [i for i in phase["step_ids"] if i != dropped.get("id")]
        elif operation == "number":
            numbers = [(n, k) for n, k in places if type(n[k]) in (int, float)]
            if numbers:
                target, name = draw(st.sampled_from(numbers))
                target[name] = draw(st.sampled_from([0, -1, 0.5, 2, 12, 3650, 3651, 1e308, float("inf"), True, "3"]))
        elif operation == "role":
            roles = [(n, k) for n, k in places if k == "role"]
            if roles:
                target, name = draw(st.sampled_from(roles))
                target[name] = draw(st.sampled_from(list(ROLES) + ["owner", "Reviewer"]))
    return data
