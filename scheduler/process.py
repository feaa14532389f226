"""Placeholder scheduler process: heartbeats only until the engine lands (issue [2/4])."""
from __future__ import annotations

import os
import socket
import time
import uuid

from sqlalchemy import text


def main() -> None:
    from byte_core.db import get_database

    db = get_database()
    worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
    try:
        while True:
            with db.session(None) as session:
                session.execute(text(
                    "INSERT INTO scheduler_heartbeats (worker_id, hostname, pid) VALUES (:w, :h, :p) "
                    "ON CONFLICT (worker_id) DO UPDATE SET last_tick_at = now()"),
                    {"w": worker_id, "h": socket.gethostname(), "p": os.getpid()})
            time.sleep(5)
    except KeyboardInterrupt:
        pass
