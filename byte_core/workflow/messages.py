"""pydantic's validation errors in a workflow admin's words: which step, which field, what to do."""
from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from .problems import DefinitionError
from .steps.base import ID_PATTERN, MAX_DAYS, TAGGED_SETTINGS
from .steps.registry import STEP_TYPES, spec_of

_PLAIN = {
    "missing": "is required",
    "string_type": "must be a text",
    "string_unicode": "contains an invalid character (a lone UTF-16 surrogate)",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "finite_number": "must be a finite number (not Infinity or NaN)",
    "bool_type": "must be true or false",
    "dict_type": "must be an object ({ … })",
    "model_type": "must be an object ({ … })",
    "model_attributes_type": "must be an object ({ … })",
    "list_type": "must be a list ([ … ])",
    "recursion_loop": "is nested too deeply",
    "string_pattern_mismatch": "must be an id: a letter, then up to 63 letters, digits, '_' or '-' "
                               "(no spaces, quotes or other characters)",
}


def _bounds(kind: str, ctx: dict[str, Any]) -> str | None:
    def number(key: str) -> str:
        return f"{ctx[key]:g}" if isinstance(ctx.get(key), float) else str(ctx.get(key))

    return {
        "less_than_equal": lambda: f"must be at most {number('le')}",
        "less_than": lambda: f"must be less than {number('lt')}",
        "greater_than": lambda: f"must be greater than {number('gt')}",
        "greater_than_equal": lambda: f"must be at least {number('ge')}",
        "string_too_short": lambda: "must not be empty",
        "string_too_long": lambda: f"is too long: at most {ctx.get('max_length')} characters",
        "too_short": lambda: f"needs at least {ctx.get('min_length')} item{'s' if ctx.get('min_length') != 1 else ''}",
        "too_long": lambda: f"has too many items: at most {ctx.get('max_length')}",
        "literal_error": lambda: f"must be one of {ctx.get('expected')}",
        "enum": lambda: f"must be one of {ctx.get('expected')}",
    }.get(kind, lambda: None)()


def _path(loc: tuple, raw: Any) -> tuple[list, Any]:
    """The location without the union tags pydantic adds (e.g. 'wait_for_task' after a step's index), and the
    raw value found there."""
    kept: list = []
    node, tag_skipped = raw, False
    for part in loc:
        at_union = (len(kept) == 2 and kept[0] == "steps") or (kept and kept[-1] in TAGGED_SETTINGS)
        if at_union and not tag_skipped and isinstance(node, dict) and part in (node.get("type"), node.get("action")):
            tag_skipped = True  # a discriminated union's tag (pydantic puts it before the keys), not a key
            continue
        kept.append(part)
        tag_skipped = False
        if isinstance(node, dict) and isinstance(part, str):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            node = None
    return kept, node


def _dotted(parts: list) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def step_label(raw_step: Any, index: int) -> str:
    """How an error names a step: its id when it is a proper id, else its position."""
    from re import fullmatch

    sid = raw_step.get("id") if isinstance(raw_step, dict) else None
    return sid if isinstance(sid, str) and fullmatch(ID_PATTERN, sid) else f"steps[{index}]"


def _known_keys(parts: list, data: Any) -> str | None:
    from .definition_models import DefinitionModel, PhaseModel, StepBase

    def names(model) -> list[str]:
        return [info.alias or name for name, info in model.model_fields.items()]

    head = parts[:-1]
    if not head:
        return ", ".join(n for n in names(DefinitionModel) if not n.startswith("$"))
    if len(head) == 2 and head[0] == "phases":
        return ", ".join(names(PhaseModel))
    if len(head) == 2 and head[0] == "steps":
        return ", ".join(names(StepBase) + ["type", "config"])
    if len(head) == 3 and head[0] == "steps" and head[2] == "config":
        raw = data["steps"][head[1]]
        spec = spec_of(raw.get("type")) if isinstance(raw, dict) else None
        return ", ".join(names(spec.config)) or "none" if spec else None
    return None


def _message(error: dict[str, Any], parts: list, value: Any, data: Any) -> str:
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "extra_forbidden":
        known = _known_keys(parts, data)
        return "is not a known setting" + (f" (known: {known})" if known else "")
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        tag = str(ctx.get("discriminator", "")).strip("'")
        if parts and parts[0] == "steps" and len(parts) == 2:
            known = ", ".join(STEP_TYPES)
            if kind == "union_tag_not_found":
                return f"is missing; say which kind of step this is ({known})"
            return f"unknown step type '{ctx.get('tag')}'; known types: {known}"
        return f"needs \"{tag}\" set to one of {ctx.get('expected_tags')}"
    if kind in _PLAIN:
        if kind == "string_pattern_mismatch" and parts and parts[-1] == "name":
            return "must be a simple name: a letter or '_', then letters, digits or '_' (at most 64)"
        return _PLAIN[kind]
    if isinstance(value, str) and kind in ("too_short", "too_long"):
        kind = "string_" + kind  # a length limit applied after our own text checks
    bounded = _bounds(kind, ctx)
    if bounded:
        if kind == "less_than_equal" and ctx.get("le") == MAX_DAYS:
            bounded += f" days (about {MAX_DAYS // 365} years)"
        return bounded
    if "url" not in error and error.get("msg"):
        return error["msg"]  # our own PydanticCustomError (no documentation link): already written for people
    return "has a value that is not allowed here"


def translate(exc: ValidationError, data: Any) -> list[DefinitionError]:
    """Each pydantic error as a DefinitionError naming the step (by id) and the field."""
    found: list[DefinitionError] = []
    for error in exc.errors(include_url=True):
        parts, value = _path(tuple(error["loc"]), data)
        message = _message(error, parts, value, data)
        if len(parts) >= 2 and parts[0] == "steps" and isinstance(parts[1], int):
            field = _dotted(parts[2:]) or ("type" if error["type"].startswith("union_tag") else "step")
            found.append(DefinitionError(step_label(data["steps"][parts[1]], parts[1]), field, message))
        else:
            found.append(DefinitionError(None, _dotted(parts) or "definition", message))
    return list(dict.fromkeys(found))
