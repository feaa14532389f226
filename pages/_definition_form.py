"""The Workflows page's form editor: a definition draft (a dict in session state) as an ordered list of phases
and steps, each step's settings drawn from its type's config model (byte_core.workflow.field_specs).

Widgets write straight back into the draft. Their keys carry a revision number: when the draft changes from
outside (the JSON tab, a move or removal) the revision goes up and every widget starts again from the draft.
"""
from __future__ import annotations

import json
from typing import Any

import streamlit as st

from byte_core.access import ROLES
from byte_core.text import md_escape
from byte_core.workflow.field_specs import FieldSpec, describe_step_type
from byte_core.workflow.problems import DefinitionError
from byte_core.workflow.steps.registry import STEP_TYPES

NONE = "(none)"


def _errors_at(errors: list[DefinitionError], owners: set, field: str) -> list[str]:
    """Messages of the errors naming this owner (step id, steps[i], or None) and this field or a part of it."""
    return [e.message for e in errors if e.step_id in owners
            and (e.field == field or e.field.startswith(field + ".") or e.field.startswith(field + "["))]


def _show(messages: list[str]) -> None:
    for message in messages:
        st.error(md_escape(message), icon="⚠️")


def _get(config: dict, path: str) -> Any:
    for part in path.split(".")[:-1]:
        config = config.get(part) if isinstance(config.get(part), dict) else {}
    return config.get(path.split(".")[-1])


def _set(config: dict, path: str, value: Any) -> None:
    """Set a config value; None removes it (and an emptied nested object)."""
    *parents, leaf = path.split(".")
    holder = config
    for part in parents:
        if not isinstance(holder.get(part), dict):
            if value is None:
                return
            holder[part] = {}
        holder = holder[part]
    if value is None:
        holder.pop(leaf, None)
    else:
        holder[leaf] = value
    if parents and not holder:
        config.pop(parents[0], None)


def _with(options, current) -> list:
    """The options plus a current value that is not one of them (an invalid one keeps showing, with its error)."""
    return list(options) + ([current] if isinstance(current, str) and current and current not in options else [])


def _step_picker(label: str, current: Any, step_ids: list[str], key: str, optional: bool = True) -> str | None:
    options = ([NONE] if optional else []) + step_ids
    if current not in options:
        options = options + [current] if current else options
    choice = st.selectbox(label, options, index=options.index(current) if current in options else 0, key=key)
    return None if choice == NONE else choice


def _field(spec: FieldSpec, config: dict, key: str, step_ids: list[str]) -> None:
    current = _get(config, spec.name)
    label = spec.label + ("" if spec.required else " (optional)")
    if spec.kind == "text":
        text = st.text_input(label, "" if current is None else str(current), key=key)
        value = text if text or spec.required else None
    elif spec.kind == "number":
        value = st.number_input(label, value=float(current) if isinstance(current, (int, float)) else None,
                                min_value=0.0, key=key)
        value = int(value) if value is not None and value == int(value) else value
    elif spec.kind == "bool":
        value = st.checkbox(label, bool(current if current is not None else spec.default), key=key)
    elif spec.kind in ("choice", "role"):
        options = list(spec.choices) if spec.required or spec.default is not None else [NONE, *spec.choices]
        shown = current if current is not None else (spec.default if spec.default is not None else options[0])
        options += [shown] if shown not in options else []
        value = st.selectbox(label, options, index=options.index(shown) if shown in options else 0, key=key)
        value = None if value == NONE else value
    elif spec.kind == "step":
        value = _step_picker(label, current, step_ids, key, optional=not spec.required)
    elif spec.kind == "tags":
        text = st.text_input(label + ", separated by commas", ", ".join(current or []), key=key)
        value = [t.strip() for t in text.split(",") if t.strip()] or None
    elif spec.kind == "assignee":
        value = _assignee(label, current if isinstance(current, dict) else {}, key)
    elif spec.kind == "timeout":
        value = _timeout(label, current if isinstance(current, dict) else {}, key, step_ids)
    elif spec.kind == "branches":
        value = _branches(current if isinstance(current, list) else [], key, step_ids)
    else:
        text = st.text_input(label + " (JSON)", "" if current is None else json.dumps(current), key=key)
        try:
            value = json.loads(text) if text.strip() else None
        except ValueError as exc:
            st.error(f"Not JSON: {md_escape(str(exc))}", icon="⚠️")
            value = current
    if value == spec.default and current is None:
        value = None  # a default left alone stays out of the JSON
    _set(config, spec.name, value)


def _assignee(label: str, current: dict, key: str) -> dict:
    left, right = st.columns([1, 2])
    kind = left.selectbox(label, ["role", "user"], index=1 if current.get("type") == "user" else 0, key=key + "_t")
    if kind == "role":
        roles = _with(ROLES, current.get("role"))
        return {"type": "role", "role": right.selectbox("Role", roles, index=roles.index(current.get("role"))
                                                        if current.get("role") in roles else 0, key=key + "_r")}
    return {"type": "user", "user": right.text_input("Person (email)", current.get("user", ""), key=key + "_u")}


def _timeout(label: str, current: dict, key: str, step_ids: list[str]) -> dict | None:
    actions = [NONE, "goto", "escalate", "fail"]
    left, right = st.columns([1, 2])
    action = left.selectbox(label, actions, index=actions.index(current.get("action", NONE))
                            if current.get("action", NONE) in actions else 0, key=key + "_a")
    if action == "goto":
        with right:
            return {"action": "goto", "step": _step_picker("Go to step", current.get("step"), step_ids, key + "_s",
                                                           optional=False)}
    if action == "escalate":
        roles = _with(ROLES, current.get("role"))
        return {"action": "escalate", "role": right.selectbox(
            "Escalate to role", roles, index=roles.index(current.get("role")) if current.get("role") in roles else 0,
            key=key + "_r")}
    return {"action": "fail"} if action == "fail" else None


def _branches(current: list, key: str, step_ids: list[str]) -> list:
    branches = [dict(b) for b in current if isinstance(b, dict)]
    kept = []
    for i, branch in enumerate(branches):
        a, b, c = st.columns([2, 2, 1])
        value = a.text_input(f"If the value is (branch {i + 1})", str(branch.get("if", "")), key=f"{key}_{i}_if")
        with b:
            goto = _step_picker("then go to", branch.get("then_goto"), step_ids, f"{key}_{i}_to", optional=False)
        if not c.button("Remove", key=f"{key}_{i}_rm"):
            kept.append({"if": value, "then_goto": goto})
    if st.button("Add branch", key=key + "_add"):
        kept.append({"if": "", "then_goto": step_ids[0] if step_ids else ""})
    return kept


def shape(draft: dict) -> tuple:
    """What widget positions depend on: when it changes, the form's widget keys must be renewed."""
    steps = [s for s in draft.get("steps") or [] if isinstance(s, dict)]
    return (len(draft.get("phases") or []), tuple((s.get("type"), len((s.get("config") or {}).get("branches") or []))
                                                  for s in steps))


def render_form(draft: dict, errors: list[DefinitionError], rev: str) -> bool:
    """Draw the form over `draft` and write every edit into it; True when a step or phase moved or went (the
    caller bumps `rev` and reruns so the widgets start again from the draft). `rev` names the draft and its
    revision: two drafts never share a widget."""
    k = f"wf_form_{rev}"
    draft["name"] = st.text_input("Name", draft.get("name", ""), key=f"{k}_name")
    _show(_errors_at(errors, {None}, "name"))
    draft["description"] = st.text_area("Description", draft.get("description") or "", key=f"{k}_desc", height=68)
    if _phases(draft, errors, k):
        return True
    st.subheader("Steps")
    steps = draft.setdefault("steps", [])
    ids = [s.get("id") for s in steps if isinstance(s, dict) and isinstance(s.get("id"), str)]
    reshaped = False
    for i, step in enumerate(steps):
        if _step(draft, i, step, errors, f"{k}_s{i}", ids):
            # The widgets below now sit on other steps' positions: stop, the caller reruns with new keys.
            reshaped = True
            break
    a, b = st.columns([2, 1])
    new_type = a.selectbox("New step of type", list(STEP_TYPES), key=f"{k}_newtype")
    if not reshaped and b.button("Add step", key=f"{k}_addstep"):
        taken = set(ids)
        number = next(n for n in range(len(steps) + 1, len(steps) + 1000) if f"step_{n}" not in taken)
        steps.append({"id": f"step_{number}", "order": 0, "phase_id": (draft.get("phases") or [{}])[0].get("id"),
                      "type": new_type, "name": STEP_TYPES[new_type].summary.rstrip("."), "config": {}})
        reshaped = True
    if reshaped:
        for order, step in enumerate(steps, start=1):
            step["order"] = order
    leftover = [e for e in errors if e.step_id is None and e.field != "name" and not e.field.startswith("phases")]
    _show([f"{e.field}: {e.message}" for e in leftover])
    return reshaped


def _phases(draft: dict, errors: list[DefinitionError], k: str) -> bool:
    st.subheader("Phases")
    phases = draft.setdefault("phases", [])
    reshaped = False
    for i, phase in enumerate(list(phases)):
        cols = st.columns([2, 3, 1, 1, 1])
        phase["id"] = cols[0].text_input("Phase id", phase.get("id", ""), key=f"{k}_p{i}_id")
        phase["name"] = cols[1].text_input("Phase name", phase.get("name", ""), key=f"{k}_p{i}_name")
        if _mover(cols[2:], phases, i, f"{k}_p{i}"):
            reshaped = True
            break
        _show(_errors_at(errors, {None}, f"phases[{i}]"))
    if not reshaped and st.button("Add phase", key=f"{k}_addphase"):
        taken = {p.get("id") for p in phases}
        number = next(n for n in range(len(phases) + 1, len(phases) + 1000) if f"phase_{n}" not in taken)
        phases.append({"id": f"phase_{number}", "name": f"Phase {number}", "order": len(phases) + 1})
        reshaped = True
    if reshaped:
        for order, phase in enumerate(phases, start=1):
            phase["order"] = order
    return reshaped


def _mover(cols, items: list, i: int, key: str) -> bool:
    """Up / down / remove buttons for item i; True when the list changed."""
    if cols[0].button("↑", key=key + "_up", disabled=i == 0, help="Move up"):
        items[i - 1], items[i] = items[i], items[i - 1]
        return True
    if cols[1].button("↓", key=key + "_down", disabled=i == len(items) - 1, help="Move down"):
        items[i + 1], items[i] = items[i], items[i + 1]
        return True
    if cols[2].button("✕", key=key + "_rm", help="Remove"):
        items.pop(i)
        return True
    return False


def _step(draft: dict, i: int, step: dict, errors: list[DefinitionError], k: str, ids: list[str]) -> bool:
    owners = {step.get("id"), f"steps[{i}]"}
    with st.container(border=True):
        head = st.columns([2, 3, 2, 2, 1, 1, 1])
        step["id"] = head[0].text_input("Step id", step.get("id", ""), key=f"{k}_id")
        step["name"] = head[1].text_input("Step name", step.get("name", ""), key=f"{k}_name")
        # An unknown value (typed in the JSON tab) stays as it is, with its error shown, rather than being
        # silently replaced by the first option.
        types = list(STEP_TYPES) + ([step["type"]] if step.get("type") not in STEP_TYPES else [])
        kind = head[2].selectbox("Type", types, index=types.index(step["type"]) if step.get("type") in types else 0,
                                 key=f"{k}_type")
        if kind != step.get("type"):
            step["type"], step["config"] = kind, {}
        phase_ids = [p.get("id") for p in draft.get("phases") or []]
        with head[3]:
            step["phase_id"] = _step_picker("Phase", step.get("phase_id"), phase_ids, f"{k}_phase")
        if step["phase_id"] is None:
            step.pop("phase_id")
        if _mover(head[4:], draft["steps"], i, k):
            return True
        for fld in ("id", "name", "type", "order", "phase_id"):
            _show(_errors_at(errors, owners, fld))
        config = step.setdefault("config", {})
        others = [s for s in ids if s != step.get("id")]
        shown_fields = []
        for spec in describe_step_type(step.get("type")):
            _field(spec, config, f"{k}_c_{spec.name}", others)
            _show(_errors_at(errors, owners, f"config.{spec.name}"))
            shown_fields.append(f"config.{spec.name}")
        rest = [e for e in errors if e.step_id in owners and e.field not in ("id", "name", "type", "order", "phase_id")
                and not any(e.field == f or e.field.startswith(f + ".") or e.field.startswith(f + "[")
                            for f in shown_fields)]
        _show([f"{e.field}: {e.message}" for e in rest])
    return False
