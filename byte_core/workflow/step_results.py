"""What a step handler returns or raises, and the helpers handlers share. Step type modules
(`workflow/steps/*.py`) import this, never the engine, so the engine can read the registry without a cycle."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .templates import resolve


class StepFailed(Exception):
    """A step cannot go on; the message is shown to people as the execution's error."""


@dataclass(frozen=True)
class Next:
    """The step is done: go to `goto`, or to the next step in order."""

    goto: str | None = None
    status: str = "completed"
    outcome: str | None = None


@dataclass(frozen=True)
class Finish:
    """The execution ends here with this status and outcome."""

    status: str
    outcome: str


class _Wait:
    def __repr__(self) -> str:
        return "WAIT"


#: The step waits (for a task, a decision or a timer); the run stops here until the execution is due again.
WAIT = _Wait()


def start_timer(run: Any, days: float | None) -> None:
    """A wait's timer runs from when the visit was entered, or from when a retry re-opened it."""
    output = run.visit.output or {}
    if days and run.visit.timeout_at is None and not output.get("escalated_to"):
        base = output.get("timer_restarted_at")
        start = datetime.fromisoformat(base) if base else run.visit.entered_at
        run.visit.timeout_at = start + timedelta(days=days)


def resolve_deep(value: Any, context: dict[str, Any]) -> Any:
    """Templates resolved inside any JSON value (texts, lists, objects)."""
    if isinstance(value, str):
        return resolve(value, context)
    if isinstance(value, list):
        return [resolve_deep(item, context) for item in value]
    if isinstance(value, dict):
        return {key: resolve_deep(item, context) for key, item in value.items()}
    return value
