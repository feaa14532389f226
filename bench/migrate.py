"""Migration throughput (issue [E]): running executions moved to a new version, executions per second.

    python bench/migrate.py [--contacts 100000] [--executions 300000] [--limit 5000]

Starts an embedded PostgreSQL in a temporary directory, loads the large seed, saves a version 2 of the
Application Review workflow whose manager approval has a new step id, and migrates up to --limit of the
executions waiting at that approval (each in its own transaction, as the product does). Prints the
plan time, executions/s, and checks that no open task was duplicated or lost.
"""
from __future__ import annotations

import argparse
import json
import time

from _fresh import fresh_database


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--executions", type=int, default=300_000)
    parser.add_argument("--limit", type=int, default=5_000)
    args = parser.parse_args()
    with fresh_database("byte-bench-migrate-") as database:
        from sqlalchemy import text

        from byte_core.bulk_seed import seed_large
        from byte_core.cli.base import actor_for
        from byte_core.demo import WORKFLOW_DIR
        from byte_core.workflow.definitions import save_definition
        from byte_core.workflow.migrate import migrate as migrate_executions, plan_migration

        started = time.perf_counter()
        seed_large(database, "bench", args.contacts, args.executions, show_progress=False)
        print(f"seeded {args.contacts:,} contacts / {args.executions:,} executions in "
              f"{time.perf_counter() - started:.0f}s")
        actor = actor_for(database, "bench")
        review = json.loads((WORKFLOW_DIR / "application_review.json").read_text())
        v2 = json.loads(json.dumps(review).replace('"step_4"', '"approve"').replace("{{step_4.", "{{approve."))
        saved = save_definition(database, actor, v2)
        open_tasks = "SELECT count(*) FROM tasks WHERE status IN ('todo', 'in_progress')"
        with database.session(actor.org_id) as session:
            before = session.execute(text(open_tasks)).scalar_one()
        started = time.perf_counter()
        plan = plan_migration(database, actor, review["name"], saved.version - 1, saved.version,
                              {"step_4": "approve"}, at_step="step_4", limit=args.limit)
        planned = time.perf_counter() - started
        assert not plan.problems, plan.problems
        started = time.perf_counter()
        report = migrate_executions(database, actor, plan)
        seconds = time.perf_counter() - started
        with database.session(actor.org_id) as session:
            after = session.execute(text(open_tasks)).scalar_one()
        print(f"plan: {len(plan.moves):,} executions at step_4 in {planned:.2f}s")
        print(f"migrated {report.migrated:,} executions in {seconds:.1f}s = {report.migrated / seconds:,.0f} "
              f"executions/s ({len(report.failed)} failed); open tasks before {before:,}, after {after:,} "
              f"({'unchanged' if before == after else 'CHANGED'})")


if __name__ == "__main__":
    main()
