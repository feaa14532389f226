"""Where the dashboard answers: `byte up` records its address in the data directory while it runs, so
`byte intake url` (and anything else that prints links) names the real port. BYTE_PUBLIC_URL, the
address people and Formstack use (the proxy's, with https), wins over both."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

PUBLIC_URL_SETTING = "BYTE_PUBLIC_URL"
FALLBACK_URL = "http://127.0.0.1:8501"
RUN_FILE = "server.json"


def record_server(data_dir: Path, url: str, pid: int) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=data_dir, prefix=".server-", suffix=".tmp")
    with os.fdopen(fd, "w") as handle:
        json.dump({"url": url, "pid": pid}, handle)
    os.replace(tmp, data_dir / RUN_FILE)


def forget_server(data_dir: Path, pid: int) -> None:
    recorded = _recorded(data_dir)
    if recorded and recorded.get("pid") == pid:
        (data_dir / RUN_FILE).unlink(missing_ok=True)


def running_server_url(data_dir: Path) -> str | None:
    """The address a live `byte up` recorded, or None (none recorded, or its process is gone)."""
    recorded = _recorded(data_dir)
    if not recorded or not _alive(recorded.get("pid")):
        return None
    return recorded.get("url")


def configured_public_url() -> str | None:
    return (os.environ.get(PUBLIC_URL_SETTING) or "").rstrip("/") or None


def public_base_url(data_dir: Path) -> str:
    return (configured_public_url() or running_server_url(data_dir) or FALLBACK_URL).rstrip("/")


def _recorded(data_dir: Path) -> dict | None:
    try:
        return json.loads((data_dir / RUN_FILE).read_text())
    except (OSError, ValueError):
        return None


def _alive(pid) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True
