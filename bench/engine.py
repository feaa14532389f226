"""Engine figures (issue [2/4]): throughput against pgbench -N, and approval-to-next-task latency.

    python bench/engine.py [--executions 20000] [--approvals 300] [--pgbench-seconds 20]

Runs on a fresh embedded PostgreSQL in a temporary directory with durable settings (fsync on),
the same server for the engine and pgbench. Prints every figure with its data size.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

AUTOMATED = {
    "name": "Bench automated",
    "phases": [{"id": "p1", "name": "Automated", "order": 1}, {"id": "p2", "name": "Close", "order": 2}],
    "steps": [
        {"id": "s1", "order": 1, "phase_id": "p1", "type": "trigger", "name": "Start", "config": {}},
        {"id": "s2", "order": 2, "phase_id": "p1", "type": "set_variable", "name": "Score",
         "config": {"name": "score", "value": "{{contact.email}}"}},
        {"id": "s3", "order": 3, "phase_id": "p1", "type": "set_variable", "name": "Tier", "config": {"name": "tier", "value": "gold"}},
        {"id": "s4", "order": 4, "phase_id": "p1", "type": "condition", "name": "Route",
         "config": {"field": "{{variables.tier}}", "branches": [{"if": "gold", "then_goto": "s5"}], "default_goto": "s6"}},
        {"id": "s5", "order": 5, "phase_id": "p2", "type": "set_variable", "name": "Mark", "config": {"name": "done", "value": "yes"}},
        {"id": "s6", "order": 6, "phase_id": "p2", "type": "end", "name": "End", "config": {"outcome": "done"}},
    ],
}
STEPS_PER_EXECUTION = 6

LATENCY = {
    "name": "Bench approval",
    "phases": [{"id": "p", "name": "Only", "order": 1}],
    "steps": [
        {"id": "t", "order": 1, "phase_id": "p", "type": "trigger", "name": "Start", "config": {}},
        {"id": "ok", "order": 2, "phase_id": "p", "type": "wait_for_approval", "name": "Approve",
         "config": {"title": "Approve", "assign_to": {"type": "role", "role": "manager"}}},
        {"id": "next", "order": 3, "phase_id": "p", "type": "assign_task", "name": "Next",
         "config": {"title": "Follow up", "assign_to": {"type": "role", "role": "hr"}}},
        {"id": "w", "order": 4, "phase_id": "p", "type": "wait_for_task", "name": "Wait", "config": {"task_from_step": "next"}},
        {"id": "e", "order": 5, "phase_id": "p", "type": "end", "name": "End", "config": {}},
    ],
}


def setup(data_dir: Path):
    os.environ["BYTE_DATA_DIR"] = str(data_dir)
    os.environ.pop("DATABASE_URL", None)
    from byte_core.access import Actor
    from byte_core.db import get_database, migrate
    from byte_core.orgs import create_org

    db = get_database()
    migrate(db)
    org = create_org(db, "bench-engine", "Engine bench")
    return db, Actor.system(org.id, "bench")


def insert_due_executions(db, actor, definition_name: str, count: int) -> None:
    from sqlalchemy import text

    with db.session(actor.org_id) as s:
        definition = s.execute(text("SELECT id, version FROM workflow_definitions WHERE name = :n"),
                               {"n": definition_name}).one()
        s.execute(text(
            "INSERT INTO contacts (org_id, first_name, last_name, email) "
            "SELECT :o, 'Bench', 'Person ' || g, 'bench' || g || '@example.org' FROM generate_series(1, :n) g"),
            {"o": actor.org_id, "n": min(count, 5000)})
        s.execute(text(
            "INSERT INTO workflow_executions (org_id, workflow_definition_id, contact_id, definition_version, "
            "current_step_id, current_phase_id, next_run_at, variables) "
            "SELECT :o, :d, c.ids[1 + (g % array_length(c.ids, 1))], :v, 's1', 'p1', now(), '{}' "
            "FROM generate_series(1, :n) g, (SELECT array_agg(id) AS ids FROM contacts WHERE org_id = :o) c"),
            {"o": actor.org_id, "d": definition.id, "v": definition.version, "n": count})
    # A bulk INSERT leaves the planner's statistics empty until autovacuum's analyze a minute later; the
    # engine is measured on a table as production sees it (analyzed), not in that first minute.
    with db.owner_engine.begin() as conn:
        conn.execute(text("ANALYZE contacts, workflow_executions"))


def _worker(data_dir: str, org_id: str, batch: int, queue) -> None:
    os.environ["BYTE_DATA_DIR"] = data_dir
    from byte_core.db import get_database
    from byte_core.workflow.runner import drain_org

    db = get_database()
    start = time.perf_counter()
    result = drain_org(db, org_id, batch_size=batch)
    queue.put((result.steps, result.claimed, time.perf_counter() - start))


def throughput(db, actor, data_dir: Path, executions: int, batch: int) -> float:
    from byte_core.workflow.definitions import save_definition

    save_definition(db, actor, AUTOMATED)
    insert_due_executions(db, actor, AUTOMATED["name"], executions)
    queue = mp.get_context("spawn").Queue()
    workers = [mp.get_context("spawn").Process(target=_worker, args=(str(data_dir), actor.org_id, batch, queue))
               for _ in range(2)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    results = [queue.get() for _ in workers]
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    steps = sum(r[0] for r in results)
    claimed = sum(r[1] for r in results)
    print(f"engine: {claimed:,} executions x {STEPS_PER_EXECUTION} automated steps = {steps:,} step advances "
          f"in {elapsed:.2f}s with 2 worker processes (batch {batch}) -> {steps / elapsed:,.0f} steps/s")
    assert claimed == executions, f"only {claimed} of {executions} executions advanced"
    return steps / elapsed


def pgbench_tps(data_dir: Path, seconds: int) -> float:
    import psycopg

    from byte_core.embedded import SUPERUSER, EmbeddedServer, pg_binary

    server = EmbeddedServer(data_dir)
    url = server.psql_url(SUPERUSER).rsplit("/", 1)[0]
    with psycopg.connect(url + "/postgres", autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS pgbench_bench")
        conn.execute("CREATE DATABASE pgbench_bench")
    env = {**os.environ}
    subprocess.run([pg_binary("pgbench"), "-i", "-s", "10", "-q", url + "/pgbench_bench"], check=True,
                   capture_output=True, env=env)
    out = subprocess.run([pg_binary("pgbench"), "-N", "-c", "4", "-j", "2", "-T", str(seconds), url + "/pgbench_bench"],
                         check=True, capture_output=True, text=True, env=env).stdout
    tps = float(re.search(r"tps = ([\d.]+)", out).group(1))
    print(f"pgbench -N -c 4 -j 2 -T {seconds} (scale 10): {tps:,.0f} TPS")
    return tps


def latency(db, actor, data_dir: Path, approvals: int) -> None:
    from sqlalchemy import select

    from byte_core.access import Actor
    from byte_core.models import Contact, Task
    from byte_core.users import add_user
    from byte_core.workflow.definitions import get_definition_row, save_definition
    from byte_core.workflow.commands import complete_task, start_execution_in

    save_definition(db, actor, LATENCY)
    manager = add_user(db, actor, f"manager-{uuid.uuid4().hex[:6]}@bench.example.com", "manager", password=None)
    person = Actor(actor.org_id, manager.id, frozenset(["manager"]), manager.email)
    env = {**os.environ, "BYTE_DATA_DIR": str(data_dir)}
    scheduler = subprocess.Popen([sys.executable, "-m", "scheduler", "run", "--sweep-seconds", "30"], env=env,
                                 cwd=Path(__file__).resolve().parents[1], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
    try:
        with db.session(actor.org_id) as s:
            definition = get_definition_row(s, LATENCY["name"])
            contact_id = s.scalar(select(Contact.id).limit(1))
            ids = [start_execution_in(s, actor, definition, contact_id, run_now=True).id for _ in range(approvals)]
        time.sleep(2.0)  # the scheduler is listening and idle
        samples = []
        for execution_id in ids:
            with db.session(actor.org_id) as s:
                task_id = s.scalar(select(Task.id).where(Task.workflow_execution_id == execution_id,
                                                         Task.created_by_step_id == "ok"))
            complete_task(db, person, task_id, outcome="approved")
            committed = time.perf_counter()
            while True:
                with db.session(actor.org_id) as s:
                    if s.scalar(select(Task.id).where(Task.workflow_execution_id == execution_id,
                                                      Task.created_by_step_id == "next")):
                        break
                if time.perf_counter() - committed > 5:
                    raise SystemExit("latency: the next task did not appear within 5 s; is the scheduler running?")
                time.sleep(0.0005)
            samples.append((time.perf_counter() - committed) * 1000)
            time.sleep(0.01)  # let the scheduler go idle again between approvals
        samples.sort()
        p50 = statistics.median(samples)
        p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
        print(f"latency over {len(samples)} approvals (approval commit -> next task visible, scheduler idle and "
              f"listening): p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {samples[-1]:.1f} ms")
    finally:
        scheduler.terminate()
        scheduler.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--executions", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--approvals", type=int, default=300)
    parser.add_argument("--pgbench-seconds", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="byte-bench-") as tmp:
        data_dir = Path(tmp) / "data"
        db, actor = setup(data_dir)
        print(f"bench started {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} cores, "
              f"embedded PostgreSQL (fsync on) in {data_dir}")
        engine_rate = throughput(db, actor, data_dir, args.executions, args.batch)
        tps = pgbench_tps(data_dir, args.pgbench_seconds)
        print(f"ratio: engine step advances/s / pgbench -N TPS = {engine_rate / tps:.2f}x (target >= 1.8x)")
        latency(db, actor, data_dir, args.approvals)
        from byte_core.db import reset_database
        from byte_core.embedded import EmbeddedServer

        reset_database()
        EmbeddedServer(data_dir).stop()


if __name__ == "__main__":
    main()
