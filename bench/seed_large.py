"""Large-seed figures (issue [1/4]): `byte demo seed --contacts N --executions M` timed on a fresh server.

    python bench/seed_large.py [--contacts 100000] [--executions 300000]

Starts an embedded PostgreSQL in a temporary directory, migrates it, loads the data set with COPY and
prints the rows per table, the total seconds and rows per second. Target: under 3 minutes at 100k/300k.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--executions", type=int, default=300_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="byte-bench-seed-") as tmp:
        os.environ["BYTE_DATA_DIR"] = tmp
        os.environ.pop("DATABASE_URL", None)
        from byte_core.bulk_seed import seed_large
        from byte_core.db import get_database, migrate, reset_database
        from byte_core.embedded import EmbeddedServer

        database = get_database()
        try:
            migrate(database)
            started = time.perf_counter()
            result = seed_large(database, "bench", args.contacts, args.executions, show_progress=True)
            seconds = time.perf_counter() - started
            rows = sum(v for k, v in result.items() if isinstance(v, int) and k != "users")
            for key, value in result.items():
                print(f"{key:<26} {value:>12,}" if isinstance(value, int) else f"{key:<26} {value}")
            print(f"total rows {rows:,} in {seconds:.1f}s = {rows / seconds:,.0f} rows/s "
                  f"(target: under 180 s at 100,000 contacts / 300,000 executions)")
        finally:
            reset_database()
            EmbeddedServer(Path(tmp)).stop()


if __name__ == "__main__":
    main()
