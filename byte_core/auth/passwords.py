"""Password hashing with bcrypt; its 72-byte limit is enforced with a message, never truncated."""
from __future__ import annotations

import bcrypt

from ..errors import InvalidInput

MIN_LENGTH = 10
MAX_BYTES = 72
# A real hash of a random string: checked against when the user is unknown so both paths take as long.
_DUMMY_HASH = bcrypt.hashpw(b"byte-dashboard-timing-equaliser", bcrypt.gensalt(rounds=12)).decode()


def check_password_policy(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise InvalidInput(f"password too short: use at least {MIN_LENGTH} characters")
    if len(password.encode()) > MAX_BYTES:
        raise InvalidInput(f"password too long: at most {MAX_BYTES} bytes (bcrypt ignores the rest)")


def hash_password(password: str, *, rounds: int = 12) -> str:
    check_password_policy(password)
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=rounds)).decode()


def verify_password(password: str, password_hash: str | None) -> bool:
    """Constant work whether or not there is a hash to check against."""
    encoded = password.encode()[:MAX_BYTES]
    if not password_hash:
        bcrypt.checkpw(encoded, _DUMMY_HASH.encode())
        return False
    try:
        return bcrypt.checkpw(encoded, password_hash.encode())
    except ValueError:
        return False
