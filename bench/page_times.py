"""Page figures (issue [3/4]): each page's server-side script run, median of N runs, with the time spent in
SQL beside it, at demo size and at the large seed. The first run of each page (imports, cold caches: the
Analytics page keeps each chart's aggregation five minutes per organization) is shown apart.

    python bench/page_times.py [--runs 7] [--contacts 100000] [--executions 300000] [--skip-large]

Runs on a fresh embedded PostgreSQL in a temporary directory. A run is what Streamlit does when a user
opens the page, timed under AppTest in this process; SQL time is the sum of cursor executions seen by
SQLAlchemy during that run. After its first run, AppTest reruns only the page's own script: app.py's
part of a real click (one indexed session-check query, the cookie component, building the navigation) is
not in these figures, and a fresh AppTest's first run is dominated by AppTest's own component discovery
(~190 ms), so it cannot stand in for it either.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


class SqlClock:
    """Sums the time of every statement executed through the app engine."""

    def __init__(self, engine) -> None:
        from sqlalchemy import event

        self.seconds = 0.0
        self.statements = 0
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn, cursor, statement, parameters, context, executemany) -> None:
        conn.info.setdefault("bench_started", []).append(time.perf_counter())

    def _after(self, conn, cursor, statement, parameters, context, executemany) -> None:
        self.seconds += time.perf_counter() - conn.info["bench_started"].pop()
        self.statements += 1


def user_for(database, org_id: str, role: str):
    from sqlalchemy import select

    from byte_core.auth.login import actor_of
    from byte_core.models import User

    with database.session(org_id) as session:
        user = session.scalar(select(User).where(User.roles.contains([role]), User.is_active.is_(True))
                              .order_by(User.email).limit(1))
        return actor_of(user)


def signed_in_app(database, actor):
    """An app signed in as `actor`, as after the password form: a live session row in session state."""
    from streamlit.testing.v1 import AppTest

    from byte_core.auth.sessions import open_session
    from byte_core.models import User

    with database.session(actor.org_id, user_id=actor.user_id) as session:
        issued = open_session(session, session.get(User, actor.user_id), ip=None, user_agent="bench/page_times",
                              now=datetime.now(timezone.utc))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.session_state["actor"] = actor
    at.session_state["session_id"] = issued.id
    return at


def measure(database, clock: SqlClock, actor, runs: int) -> list[tuple[str, float, float, int]]:
    from pages._registry import pages_for

    results = []
    for spec in pages_for(actor.roles):
        at = signed_in_app(database, actor)
        at.run()
        at.switch_page(f"pages/{spec.file}")
        walls, sqls, statements = [], [], []
        for _ in range(runs + 1):  # the first run warms caches and imports; it is not counted
            before_sql, before_n, started = clock.seconds, clock.statements, time.perf_counter()
            at.run()
            walls.append(time.perf_counter() - started)
            sqls.append(clock.seconds - before_sql)
            statements.append(clock.statements - before_n)
            if at.exception:
                raise RuntimeError(f"{spec.file}: {at.exception[0].message}")
        results.append((spec.title, statistics.median(walls[1:]) * 1000, statistics.median(sqls[1:]) * 1000,
                        int(statistics.median(statements[1:])), walls[0] * 1000))
    return results


def report(label: str, results) -> None:
    print(f"\n{label}")
    print(f"  {'page':<14} {'median ms':>10} {'SQL ms':>8} {'statements':>11} {'first run ms':>13}")
    for title, wall, sql, count, first in results:
        flag = "" if wall <= 300 else "  (over the 300 ms target)"
        print(f"  {title:<14} {wall:>10.0f} {sql:>8.0f} {count:>11} {first:>13.0f}{flag}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--executions", type=int, default=300_000)
    parser.add_argument("--skip-large", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="byte-bench-pages-") as tmp:
        os.environ["BYTE_DATA_DIR"] = tmp
        os.environ.pop("DATABASE_URL", None)
        from byte_core import db as db_module
        from byte_core.db import get_database, migrate
        from byte_core.demo import seed_demo
        from byte_core.embedded import EmbeddedServer

        server = EmbeddedServer(Path(tmp))
        database = None
        try:
            database = get_database()
            migrate(database)
            demo = seed_demo(database)
            clock = SqlClock(database.app_engine)
            db_module._database = database
            admin = user_for(database, demo.org_id, "admin")
            report(f"demo size (200 contacts, 150 executions), admin, median of {args.runs}",
                   measure(database, clock, admin, args.runs))
            if not args.skip_large:
                from byte_core.bulk_seed import seed_large
                from byte_core.orgs import get_org

                started = time.perf_counter()
                seeded = seed_large(database, org_slug="bench", contacts=args.contacts, executions=args.executions,
                                    show_progress=True)
                print(f"\nlarge seed in {time.perf_counter() - started:.0f}s: " +
                      ", ".join(f"{k} {v:,}" for k, v in seeded.items() if isinstance(v, int)))
                org = get_org(database, "bench")
                admin = user_for(database, org.id, "admin")
                report(f"large seed ({args.contacts:,} contacts, {args.executions:,} executions), admin, "
                       f"median of {args.runs}", measure(database, clock, admin, args.runs))
        finally:
            if database is not None:
                database.dispose()
            server.stop()


if __name__ == "__main__":
    main()
