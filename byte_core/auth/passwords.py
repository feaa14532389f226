"""Password hashing with bcrypt. bcrypt reads only the first 72 bytes of a password, so a longer one is
refused with a message wherever a password is set, and never truncated: at sign-in it simply fails."""
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
    size = len(password.encode())
    if size > MAX_BYTES:
        raise InvalidInput(f"password too long: at most {MAX_BYTES} bytes in UTF-8, this one has {size} "
                           "(accented letters and symbols take 2-4 bytes each); choose a shorter one")


def hash_password(password: str, *, rounds: int = 12) -> str:
    check_password_policy(password)
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=rounds)).decode()


def verify_password(password: str, password_hash: str | None) -> bool:
    """Constant work whether or not there is a hash to check against, or a password that could never have
    been set (over MAX_BYTES: checking its first 72 bytes would accept anything that starts right)."""
    encoded = password.encode()
    if not password_hash or len(encoded) > MAX_BYTES:
        bcrypt.checkpw(b"not the password", _DUMMY_HASH.encode())
        return False
    try:
        return bcrypt.checkpw(encoded, password_hash.encode())
    except ValueError:
        return False
