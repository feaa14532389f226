"""A fresh, migrated embedded PostgreSQL in a temporary directory for one bench run (removed afterwards)."""
from __future__ import annotations

import os
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


@contextmanager
def fresh_database(prefix: str):
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        os.environ["BYTE_DATA_DIR"] = tmp
        os.environ.pop("DATABASE_URL", None)
        from byte_core.db import get_database, migrate, reset_database
        from byte_core.embedded import EmbeddedServer

        try:
            database = get_database()
            migrate(database)
            yield database
        finally:
            reset_database()
            EmbeddedServer(Path(tmp)).stop()
