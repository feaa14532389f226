"""`{{ path }}` templates over an execution's context. A missing value is an error, never ''.

Templates are read by a single left-to-right scan (`scan`): no regular expression, so any text, however it is
shaped ("{{" followed by thousands of spaces), is checked in time proportional to its length.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import InvalidInput

ROOTS = ("contact", "variables", "trigger", "execution")
MAX_PATH = 200
MAX_PLACEHOLDERS = 100  # per text: far above any real title, and it keeps a pasted wall of braces cheap
_FIRST = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_PART = _FIRST | frozenset("0123456789-")


class TemplateError(InvalidInput):
    def __init__(self, message: str, path: str | None = None):
        super().__init__(message)
        self.path = path


@dataclass(frozen=True)
class Placeholder:
    start: int  # index of the opening "{{"
    end: int  # index just after the closing "}}"
    path: str  # the stripped text between them


@dataclass(frozen=True)
class Scan:
    placeholders: list[Placeholder]
    problems: list[str]


def is_path(path: str) -> bool:
    """A dotted name such as step_4.outcome: parts of letters, digits, '_' or '-', the first not a digit."""
    if not path or len(path) > MAX_PATH:
        return False
    parts = path.split(".")
    return parts[0][0] in _FIRST and all(part and _PART.issuperset(part) for part in parts)


def scan(text: str | None) -> Scan:
    text = text or ""
    placeholders: list[Placeholder] = []
    problems: dict[str, None] = {}  # each kind of problem once, in the order found
    position = 0
    # Where the next "{{" / "}}" at or after `position` is: searched again only once `position` has passed it,
    # so every character is looked at a bounded number of times.
    opening = closing = -2
    seen = 0  # placeholders and stray braces met so far
    while True:
        seen += 1
        if seen > MAX_PLACEHOLDERS + 1:
            problems[f"has more than {MAX_PLACEHOLDERS} placeholders"] = None
            break
        if opening != -1 and opening < position:
            opening = text.find("{{", position)
        if closing != -1 and closing < position:
            closing = text.find("}}", position)
        if closing != -1 and (opening == -1 or closing < opening):
            problems["has a stray '}}' with no '{{' before it"] = None
            position = closing + 2
            continue
        if opening == -1:
            break
        end = closing if closing >= opening + 2 else text.find("}}", opening + 2)
        if end == -1:
            problems["has an unclosed '{{' (no '}}' after it)"] = None
            break
        inner = text[opening + 2:end]
        path = inner.strip()
        if "{" in inner or "}" in inner:
            problems["has a '{' or '}' inside a placeholder"] = None
        elif not path:
            problems["has an empty placeholder {{ }}"] = None
        elif not is_path(path):
            shown = path if len(path) <= 40 else path[:40] + "…"
            problems[f"placeholder {{{{{shown}}}}} is not a dotted name such as step_4.outcome"] = None
        else:
            placeholders.append(Placeholder(opening, end + 2, path))
        position = end + 2
    return Scan(placeholders, list(problems))


def find_references(text: str) -> list[str]:
    return [p.path for p in scan(text).placeholders]


def check_syntax(text: str) -> list[str]:
    return scan(text).problems


def lookup(path: str, context: dict[str, Any]) -> Any:
    value: Any = context
    walked = []
    for part in path.split("."):
        walked.append(part)
        if isinstance(value, dict) and part in value:
            value = value[part]
        else:
            root = walked[0]
            if len(walked) == 1:
                raise TemplateError(f"{{{{{path}}}}} has no value ({root} has not run or does not exist)", path)
            raise TemplateError(f"{{{{{path}}}}} has no value ({'.'.join(walked[:-1])} has no {part!r})", path)
    if value is None:
        raise TemplateError(f"{{{{{path}}}}} has no value (it is empty)", path)
    return value


def _checked(text: str) -> Scan:
    result = scan(text)
    if result.problems:
        raise TemplateError(f"template {text!r} {result.problems[0]}")
    return result


def render(text: str, context: dict[str, Any]) -> str:
    result = _checked(text)
    pieces, position = [], 0
    for placeholder in result.placeholders:
        pieces += [text[position:placeholder.start], str(lookup(placeholder.path, context))]
        position = placeholder.end
    pieces.append(text[position:])
    return "".join(pieces)


def resolve(text: str, context: dict[str, Any]) -> Any:
    """A text that is exactly one placeholder keeps the value's type; anything else renders to text."""
    stripped = (text or "").strip()
    result = _checked(stripped)
    only = result.placeholders[0] if len(result.placeholders) == 1 else None
    if only is not None and only.start == 0 and only.end == len(stripped):
        return lookup(only.path, context)
    return render(text, context)
