"""`{{ path }}` templates over an execution's context. A missing value is an error, never ''."""
from __future__ import annotations

import re
from typing import Any

from ..errors import InvalidInput

PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*$")
ROOTS = ("contact", "variables", "trigger", "execution")


class TemplateError(InvalidInput):
    def __init__(self, message: str, path: str | None = None):
        super().__init__(message)
        self.path = path


def find_references(text: str) -> list[str]:
    return [m.group(1) for m in PLACEHOLDER.finditer(text or "")]


def check_syntax(text: str) -> list[str]:
    problems = []
    stripped = PLACEHOLDER.sub("", text or "")
    if "{{" in stripped or "}}" in stripped:
        problems.append("has an unclosed or stray '{{' / '}}'")
    for path in find_references(text):
        if not path:
            problems.append("has an empty placeholder {{ }}")
        elif not PATH.match(path):
            problems.append(f"placeholder {{{{{path}}}}} is not a dotted name such as step_4.outcome")
    return problems


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


def render(text: str, context: dict[str, Any]) -> str:
    problems = check_syntax(text)
    if problems:
        raise TemplateError(f"template {text!r} {problems[0]}")
    return PLACEHOLDER.sub(lambda m: str(lookup(m.group(1), context)), text)


def resolve(text: str, context: dict[str, Any]) -> Any:
    """A text that is exactly one placeholder keeps the value's type; anything else renders to text."""
    match = PLACEHOLDER.fullmatch((text or "").strip())
    if match and PATH.match(match.group(1)):
        return lookup(match.group(1), context)
    return render(text, context)
