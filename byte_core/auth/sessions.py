"""The signing key of the sign-in cookie: random, generated on first use, kept outside the repo."""
from __future__ import annotations

import os
import secrets
from pathlib import Path

from ..config import load_settings


def cookie_key() -> str:
    """BYTE_COOKIE_KEY when set (several dashboard servers must share it), else a key in the data dir."""
    configured = os.environ.get("BYTE_COOKIE_KEY")
    if configured:
        return configured
    path = Path(load_settings().data_dir) / "cookie_key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another server wrote it first: use theirs
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key
