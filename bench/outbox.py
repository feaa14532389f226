"""Outbox figures ([F]): emails per second to a local SMTP server, the p50 delay from a task's creation to
its email being accepted by SMTP, and sent/duplicated/lost with two concurrent delivery workers.

    python bench/outbox.py [--tasks 1000] [--workers 2] [--latency-samples 50]

Runs on a fresh embedded PostgreSQL in a temporary directory and an aiosmtpd server on 127.0.0.1.
1. Throughput: N executions each assign one task to one person; the engine drains them (one emit per
   batch of 100), then W delivery workers (threads, as two scheduler processes would) send the emails.
2. Latency: with the workers serving (LISTEN byte_outbox, as in the scheduler), tasks are created one at
   a time through the engine; the delay is the SMTP server's acceptance time minus the task's created_at.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def definition(email: str) -> dict:
    return {"name": "Bench notify", "phases": [{"id": "p", "name": "Only", "order": 1}], "steps": [
        {"id": "t", "order": 1, "phase_id": "p", "type": "trigger", "name": "Start", "config": {}},
        {"id": "a", "order": 2, "phase_id": "p", "type": "assign_task", "name": "Call",
         "config": {"title": "Call {{contact.first_name}}", "assign_to": {"type": "user", "user": email}}},
        {"id": "w", "order": 3, "phase_id": "p", "type": "wait_for_task", "name": "Wait", "config": {"task_from_step": "a"}},
        {"id": "e", "order": 4, "phase_id": "p", "type": "end", "name": "End", "config": {}}]}


class Mailbox:
    """The SMTP server runs in its own process (as a real one would: in this one it would compete with
    the workers for the GIL); it appends "accepted-at Message-ID" lines to a file."""

    def __init__(self, path: Path):
        import subprocess

        self.path, self.port = path, _free_port()
        self.process = subprocess.Popen([sys.executable, __file__, "--serve-smtp", str(self.port), str(path)])
        deadline = time.time() + 10
        while not path.exists() and time.time() < deadline:
            time.sleep(0.05)

    @property
    def accepted(self) -> list[tuple[float, str]]:
        lines = self.path.read_text().splitlines()[1:]  # the first line says the server is up
        return [(float(at), message_id) for at, message_id in (line.split(" ", 1) for line in lines)]

    def clear(self) -> None:
        with self.path.open("w") as out:
            out.write("ready\n")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(5)


def serve_smtp(port: int, path: str) -> None:
    import re

    from aiosmtpd.controller import Controller

    out = open(path, "a", buffering=1)  # O_APPEND: lines land at the end after clear() truncates
    pattern = re.compile(rb"^Message-ID: (.+?)\r?$", re.M)

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            found = pattern.search(envelope.original_content or envelope.content)
            out.write(f"{time.time()} {found.group(1).decode() if found else '?'}\n")
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    out.write("ready\n")
    import signal

    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    controller.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--latency-samples", type=int, default=50)
    parser.add_argument("--serve-smtp", nargs=2, metavar=("PORT", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_smtp:
        serve_smtp(int(args.serve_smtp[0]), args.serve_smtp[1])
        return

    with tempfile.TemporaryDirectory(prefix="byte-outbox-bench-") as tmp:
        box = Mailbox(Path(tmp) / "accepted.txt")
        os.environ.update(BYTE_SMTP_URL=f"smtp://127.0.0.1:{box.port}", BYTE_SMTP_FROM="bench@byte.test",
                          BYTE_PUBLIC_URL="http://localhost:8501", BYTE_DATA_DIR=str(Path(tmp) / "data"))
        os.environ.pop("DATABASE_URL", None)
        try:
            run(args, box)
        finally:
            from byte_core.db import reset_database

            reset_database()
            from byte_core.embedded import EmbeddedServer

            EmbeddedServer(Path(tmp) / "data").stop()
            box.stop()


def run(args, box: Mailbox) -> None:
    from sqlalchemy import text

    from byte_core.access import Actor
    from byte_core.db import get_database, migrate
    from byte_core.notifications.outbox import RetryPolicy
    from byte_core.notifications.worker import DeliveryWorker
    from byte_core.orgs import create_org
    from byte_core.users import add_user
    from byte_core.workflow.definitions import save_definition
    from byte_core.workflow.runner import drain_org

    db = get_database()
    migrate(db)
    org = create_org(db, "bench-outbox", "Outbox bench")
    actor = Actor.system(org.id, "bench")
    user = add_user(db, actor, "reviewer@bench.example.com", ["reviewer"], password=None)
    save_definition(db, actor, definition(user.email))

    def enqueue(count: int) -> None:
        with db.session(org.id) as s:
            contact = s.execute(text("INSERT INTO contacts (org_id, first_name, last_name, email) VALUES "
                                     "(:o, 'Bench', 'Person', 'b@example.org') RETURNING id"), {"o": org.id}).scalar_one()
            s.execute(text("INSERT INTO workflow_executions (org_id, workflow_definition_id, contact_id, current_step_id,"
                           " current_phase_id, next_run_at) SELECT :o, d.id, :c, 't', 'p', now() FROM workflow_definitions d,"
                           " generate_series(1, :n) WHERE d.name = 'Bench notify'"), {"o": org.id, "c": contact, "n": count})

    # 1. throughput ------------------------------------------------------------------------------------------
    enqueue(args.tasks)
    started = time.perf_counter()
    drain_org(db, org.id)
    engine_seconds = time.perf_counter() - started
    with db.session(org.id) as s:
        notifications = s.execute(text("SELECT count(*) FROM notifications")).scalar_one()
        expected = {f"<{i}@byte.test>" for i in s.execute(text("SELECT id FROM email_outbox")).scalars()}
    workers = [DeliveryWorker(db, email_policy=RetryPolicy(base_seconds=1)) for _ in range(args.workers)]
    threads = [threading.Thread(target=w.deliver, args=(org.id,)) for w in workers]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    ids = [message_id for _, message_id in box.accepted]
    print(f"assigned {args.tasks:,} tasks to one person: engine drained them in {engine_seconds:.2f} s "
          f"({args.tasks / engine_seconds:,.0f} executions/s incl. notifications)")
    print(f"notifications={notifications:,} emails queued={len(expected):,}")
    print(f"{args.workers} delivery workers: sent={len(ids):,} duplicated={len(ids) - len(set(ids))} "
          f"lost={len(expected - set(ids))} in {seconds:.2f} s = {len(ids) / seconds:,.0f} emails/s "
          f"(per worker: {', '.join(str(w.stats.emails_sent) for w in workers)})")

    # 2. latency: task created -> email accepted, with the workers listening as in the scheduler ---------------
    box.clear()
    stopping = threading.Event()
    serving = [threading.Thread(target=DeliveryWorker(db).serve, args=(stopping,), daemon=True)
               for _ in range(args.workers)]
    for thread in serving:
        thread.start()
    time.sleep(1.0)  # both listening
    for _ in range(args.latency_samples):
        enqueue(1)
        drain_org(db, org.id)
        time.sleep(0.05)
    deadline = time.time() + 30
    while len(box.accepted) < args.latency_samples and time.time() < deadline:
        time.sleep(0.05)
    stopping.set()
    with db.session(org.id) as s:
        created = dict(s.execute(text(
            "SELECT '<' || o.id || '@byte.test>', t.created_at FROM email_outbox o "
            "JOIN notifications n ON n.id = o.notification_ids[1] JOIN tasks t ON t.id = n.task_id")).all())
    delays = [(accepted - created[mid].timestamp()) * 1000 for accepted, mid in box.accepted if mid in created]
    if delays:
        print(f"task created -> email accepted by SMTP over {len(delays)} tasks: p50 {statistics.median(delays):.0f} ms, "
              f"max {max(delays):.0f} ms (LISTEN/NOTIFY wake-up, {args.workers} workers)")
    else:
        print("no email arrived in the latency run")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


if __name__ == "__main__":
    main()
