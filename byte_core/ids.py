"""Ids people and scripts type or pass around, read in one place: a clear refusal instead of a ValueError."""
from __future__ import annotations

import uuid
from typing import Any

from .errors import InvalidInput


def as_uuid(value: Any, what: str) -> uuid.UUID:
    """`value` as a UUID, or InvalidInput naming what it should have been ("execution", "task", ...)."""
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value).strip())
    except ValueError:
        raise InvalidInput(f"{value!r} is not a valid {what} id") from None
