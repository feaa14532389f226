"""The scheduler process: APScheduler is only the clock, PostgreSQL is the queue.

- A LISTEN thread wakes on `byte_wake` notifications (sent by the writing transaction) and drains
  that organization at once: this is what makes an approval move on within milliseconds.
- A periodic sweep drains every organization: it fires timeouts and delays, and catches anything
  a notification missed (notifications are lost while nobody listens).
- A heartbeat row per process feeds the dashboard's health panel.
- A delivery thread sends the outbox (emails over SMTP, outgoing webhooks), woken by `byte_outbox`
  notifications; a minute job produces due/overdue reminders and daily digests. Neither runs inside
  the engine's batches, so a slow SMTP server or endpoint never holds up a workflow.
Any number of these processes can run against one database: claims use FOR UPDATE SKIP LOCKED.
"""
from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field

import psycopg
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import text
from sqlalchemy.exc import InterfaceError, OperationalError

from byte_core.db import Database, get_database
from byte_core.notifications.reminders import sweep as notification_sweep
from byte_core.notifications.worker import DeliveryWorker
from byte_core.work import drain_everything
from byte_core.workflow.runner import TickResult, org_ids
from byte_core.workflow.store import WAKE_CHANNEL

log = logging.getLogger("byte.scheduler")


@dataclass
class Counters:
    claimed: int = 0
    advanced: int = 0
    errors: int = 0
    batches: int = 0
    batch_seconds: float = 0.0  # wall time of the drains that ran those batches (intake included)
    last_error: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, result: TickResult, seconds: float = 0.0) -> None:
        with self.lock:
            self.claimed += result.claimed
            self.advanced += result.steps
            self.errors += result.failed
            if result.batches:  # an empty drain is polling, not a batch: it would flatter the latency
                self.batches += result.batches
                self.batch_seconds += seconds

    def error(self, message: str) -> None:
        with self.lock:
            self.errors += 1
            self.last_error = message[:500]


class SchedulerProcess:
    def __init__(self, db: Database, *, sweep_seconds: float = 2.0, heartbeat_seconds: float = 5.0,
                 batch_size: int = 100):
        self.db = db
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.sweep_seconds, self.heartbeat_seconds, self.batch_size = sweep_seconds, heartbeat_seconds, batch_size
        self.counters = Counters()
        self.stopping = threading.Event()
        self.clock = BackgroundScheduler(job_defaults={"misfire_grace_time": 30, "coalesce": True, "max_instances": 1})

    # --- work ----------------------------------------------------------------------------------------------
    def drain(self, org_id: str) -> None:
        started = time.perf_counter()
        try:
            result = drain_everything(self.db, org_id, batch_size=self.batch_size)
            self.counters.add(result, time.perf_counter() - started)
        except Exception as exc:  # noqa: BLE001 - a failing batch is retried by the next sweep
            _log_failure(exc, "draining %s failed", org_id)
            # The heartbeat row is read by every organization: no error text from one org's data in it.
            self.counters.error(f"{type(exc).__name__} while draining an organization (see this scheduler's log)")

    def sweep(self) -> None:
        try:
            orgs = org_ids(self.db)
        except Exception as exc:  # noqa: BLE001
            _log_failure(exc, "sweep could not list organizations")
            self.counters.error(f"{type(exc).__name__}: {exc}")
            return
        for org_id in orgs:
            if self.stopping.is_set():
                return
            self.drain(org_id)

    def notification_sweep(self) -> None:
        """Due/overdue reminders and digests of every organization (idempotent: fine on every scheduler)."""
        try:
            for org_id in org_ids(self.db):
                if self.stopping.is_set():
                    return
                notification_sweep(self.db, org_id)
        except Exception as exc:  # noqa: BLE001 - the next sweep tries again
            log.exception("notification sweep failed")
            self.counters.error(f"{type(exc).__name__}: {exc}")

    def heartbeat(self) -> None:
        with self.counters.lock:
            values = {"w": self.worker_id, "h": socket.gethostname(), "p": os.getpid(), "c": self.counters.claimed,
                      "a": self.counters.advanced, "e": self.counters.errors, "le": self.counters.last_error,
                      "b": self.counters.batches, "bs": self.counters.batch_seconds}
        try:
            with self.db.session(None) as session:
                session.execute(text(
                    "INSERT INTO scheduler_heartbeats (worker_id, hostname, pid, claimed, advanced, errors, last_error,"
                    " batches, batch_seconds) VALUES (:w, :h, :p, :c, :a, :e, :le, :b, :bs)"
                    " ON CONFLICT (worker_id) DO UPDATE SET last_tick_at = now(),"
                    " claimed = :c, advanced = :a, errors = :e, last_error = :le, batches = :b, batch_seconds = :bs"),
                    values)
                # Rows of processes gone for a day are noise on the health panel.
                session.execute(text("DELETE FROM scheduler_heartbeats WHERE last_tick_at < now() - interval '1 day'"))
        except Exception as exc:  # noqa: BLE001 - a missed heartbeat shows as staleness, never as a crash
            # One line, not a traceback: while the database restarts this repeats every few seconds.
            log.warning("heartbeat failed: %s", _one_line(exc))

    # --- wake-ups ----------------------------------------------------------------------------------------------
    def listen(self) -> None:
        while not self.stopping.is_set():
            try:
                with psycopg.connect(_libpq_url(self.db.app_url), autocommit=True) as conn:
                    conn.execute(f"LISTEN {WAKE_CHANNEL}")
                    self.sweep()  # whatever was notified while we were not listening
                    while not self.stopping.is_set():
                        pending = self._read_notifies(conn)
                        for org_id in pending:
                            self.drain(org_id)
            except Exception as exc:  # noqa: BLE001 - reconnect after a dropped connection
                if self.stopping.is_set():
                    return
                log.warning("listener lost its connection (%s); reconnecting", _one_line(exc))
                time.sleep(1)

    @staticmethod
    def _read_notifies(conn: psycopg.Connection) -> set[str]:
        """Block up to a second for one notification, then take whatever else has arrived."""
        payloads = {n.payload for n in conn.notifies(timeout=1.0, stop_after=1)}
        if payloads:
            payloads |= {n.payload for n in conn.notifies(timeout=0.0)}
        return {p for p in payloads if p}

    # --- lifecycle ---------------------------------------------------------------------------------------------
    def run(self) -> None:
        # The signal handler only sets an event; the main thread stops the clock. Stopping the clock from
        # the handler raised SchedulerNotRunningError when Ctrl-C came before or during its start.
        signal.signal(signal.SIGTERM, lambda _signum, _frame: self.stopping.set())
        signal.signal(signal.SIGINT, lambda _signum, _frame: self.stopping.set())
        self.heartbeat()
        listener = threading.Thread(target=self.listen, name="byte-listener", daemon=True)
        listener.start()
        delivery = threading.Thread(target=DeliveryWorker(self.db).serve, args=(self.stopping,), name="byte-outbox",
                                    daemon=True)
        delivery.start()
        self.clock.add_job(self.sweep, "interval", seconds=self.sweep_seconds, id="sweep")
        self.clock.add_job(self.notification_sweep, "interval", seconds=60, id="notification_sweep")
        self.clock.add_job(self.heartbeat, "interval", seconds=self.heartbeat_seconds, id="heartbeat")
        log.info("scheduler %s started", self.worker_id)
        try:
            if not self.stopping.is_set():
                self.clock.start()
            while not self.stopping.wait(0.5):
                pass
        finally:
            self.stopping.set()
            if self.clock.running:
                self.clock.shutdown(wait=True)  # lets a running sweep finish its batch
            listener.join(timeout=3)
            delivery.join(timeout=3)
            self.heartbeat()
            log.info("scheduler %s stopped", self.worker_id)


def _one_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def _log_failure(exc: BaseException, message: str, *args) -> None:
    """The database being away (restarting, failing over) is one line per attempt; anything else is a bug
    worth its traceback."""
    if isinstance(exc, (OperationalError, InterfaceError, psycopg.OperationalError)):
        log.warning(message + ": database unavailable (%s)", *args, _one_line(exc))
    else:
        log.exception(message, *args)


def _libpq_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def run_forever(workers: int = 1, sweep_seconds: float = 2.0) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # it logs every job run at INFO
    if workers <= 1:
        SchedulerProcess(get_database(), sweep_seconds=sweep_seconds).run()
        return
    import subprocess
    import sys

    children = [subprocess.Popen([sys.executable, "-m", "scheduler", "run", "--workers", "1",
                                  "--sweep-seconds", str(sweep_seconds)]) for _ in range(workers)]

    def forward(signum, _frame) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for child in children:
        child.wait()


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m scheduler")
    parser.add_argument("command", choices=["run"])
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--sweep-seconds", type=float, default=2.0)
    args = parser.parse_args()
    try:
        run_forever(args.workers, args.sweep_seconds)
    except KeyboardInterrupt:  # Ctrl-C before the handlers were installed (while connecting): no traceback
        raise SystemExit(130) from None
