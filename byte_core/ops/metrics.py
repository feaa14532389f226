"""Prometheus metrics for /api/metrics, in two kinds, named so nobody mistakes one for the other:

- **Shared state**, read from PostgreSQL at scrape time, the same on every server: executions by
  status, open tasks by queue, overdue tasks, scheduler lag, and each scheduler process's counters from
  its heartbeat row (steps, batches and their seconds). Totals span organizations and carry no
  organization label: this is an operator's view, not tenant data. Cached a few seconds so several
  scrapers cost one read.
- **This process**, counted in memory: intake deliveries by outcome and page run times by page. Scrape
  every server (not the proxy) to see all of them; Prometheus adds the `instance` label.
"""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, PlatformCollector, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, SummaryMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from ..db import Database

CACHE_SECONDS = 5.0

REGISTRY = CollectorRegistry()
ProcessCollector(registry=REGISTRY)  # this server's CPU seconds and resident memory
PlatformCollector(registry=REGISTRY)

INTAKE_DELIVERIES = Counter(
    "byte_intake_deliveries", "Formstack deliveries answered by this process, by outcome "
    "(accepted: stored or a duplicate acknowledged; rejected: refused with a 4xx; error: 5xx).",
    ["outcome"], registry=REGISTRY)
PAGE_RUN_SECONDS = Histogram(
    "byte_page_run_seconds", "Wall time of completed page runs (reruns) in this process, by page.",
    ["page"], registry=REGISTRY, buckets=(0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10))


def record_intake(status_code: int) -> None:
    outcome = "accepted" if status_code < 400 else "rejected" if status_code < 500 else "error"
    INTAKE_DELIVERIES.labels(outcome).inc()


@contextmanager
def page_timer(page: str) -> Iterator[None]:
    """Times one page run. A run cut short (a newer click reruns, st.stop) is not a page time: only runs
    that finish are observed."""
    started = time.perf_counter()
    yield
    PAGE_RUN_SECONDS.labels(page).observe(time.perf_counter() - started)


@dataclass
class WorkerStats:
    worker: str
    age_seconds: float
    claimed: int
    steps: int
    errors: int
    batches: int
    batch_seconds: float


@dataclass
class SharedState:
    executions: dict[str, int] = field(default_factory=dict)
    open_tasks: dict[str, int] = field(default_factory=dict)
    overdue_tasks: int = 0
    lag_seconds: float = 0.0
    workers: list[WorkerStats] = field(default_factory=list)


def read_shared_state(database: Database) -> SharedState:
    """One short transaction per organization (row-level security scopes every read to one), summed."""
    from ..models import SchedulerHeartbeat, Task, WorkflowExecution
    from ..task_queue import OPEN
    from ..workflow.runner import org_ids

    state = SharedState()
    for org_id in org_ids(database):
        with database.session(org_id) as session:
            for status, count in session.execute(
                    select(WorkflowExecution.status, func.count()).group_by(WorkflowExecution.status)):
                state.executions[status] = state.executions.get(status, 0) + count
            queue = func.coalesce(Task.assigned_role, "none")
            for name, count in session.execute(
                    select(queue, func.count()).where(Task.status.in_(OPEN)).group_by(queue)):
                state.open_tasks[name] = state.open_tasks.get(name, 0) + count
            state.overdue_tasks += session.scalar(select(func.count()).select_from(Task).where(
                Task.status.in_(OPEN), Task.due_date < func.current_date())) or 0
            lag = session.scalar(select(func.extract("epoch", func.now() - func.min(WorkflowExecution.next_run_at)))
                                 .where(WorkflowExecution.status == "running",
                                        WorkflowExecution.next_run_at <= func.now()))
            state.lag_seconds = max(state.lag_seconds, float(lag or 0))
    with database.session(None) as session:
        for row in session.execute(select(
                SchedulerHeartbeat.worker_id, func.extract("epoch", func.now() - SchedulerHeartbeat.last_tick_at),
                SchedulerHeartbeat.claimed, SchedulerHeartbeat.advanced, SchedulerHeartbeat.errors,
                SchedulerHeartbeat.batches, SchedulerHeartbeat.batch_seconds)):
            state.workers.append(WorkerStats(row[0], float(row[1]), row[2], row[3], row[4], row[5], row[6]))
    return state


class SharedStateCollector(Collector):
    def __init__(self, database: Callable[[], Database], cache_seconds: float = CACHE_SECONDS):
        self._database, self._cache_seconds = database, cache_seconds
        self._lock = threading.Lock()
        self._cached: tuple[float, SharedState | None] = (float("-inf"), None)

    def _state(self) -> SharedState | None:
        with self._lock:
            read_at, state = self._cached
            if time.monotonic() - read_at > self._cache_seconds:
                try:
                    state = read_shared_state(self._database())
                except Exception:  # noqa: BLE001 - a scrape during an outage reports byte_database_up 0
                    state = None
                self._cached = (time.monotonic(), state)
            return state

    def collect(self):
        state = self._state()
        up = GaugeMetricFamily("byte_database_up", "1 when this process could read the shared state at the last scrape.")
        up.add_metric([], 1 if state is not None else 0)
        yield up
        if state is None:
            return
        executions = GaugeMetricFamily("byte_executions", "Workflow executions by status, all organizations.",
                                       labels=["status"])
        for status, count in sorted(state.executions.items()):
            executions.add_metric([status], count)
        yield executions
        tasks = GaugeMetricFamily("byte_open_tasks", "Open tasks (todo or in progress) by queue (assigned role).",
                                  labels=["queue"])
        for queue, count in sorted(state.open_tasks.items()):
            tasks.add_metric([queue], count)
        yield tasks
        yield GaugeMetricFamily("byte_overdue_tasks", "Open tasks whose due date has passed.", value=state.overdue_tasks)
        yield GaugeMetricFamily("byte_scheduler_lag_seconds", "Age of the oldest running execution that is due "
                                "(0 when nothing waits): how far the schedulers are behind.", value=state.lag_seconds)
        age = GaugeMetricFamily("byte_scheduler_heartbeat_age_seconds", "Seconds since each scheduler's last heartbeat.",
                                labels=["worker"])
        steps = CounterMetricFamily("byte_engine_steps", "Steps advanced by each scheduler process since it started "
                                    "(rate() gives steps per second).", labels=["worker"])
        claimed = CounterMetricFamily("byte_engine_claimed", "Executions claimed by each scheduler process.",
                                      labels=["worker"])
        errors = CounterMetricFamily("byte_engine_errors", "Failed steps and batches in each scheduler process.",
                                     labels=["worker"])
        batches = SummaryMetricFamily("byte_engine_batch_duration_seconds", "Engine batches of each scheduler "
                                      "process and the seconds they took (sum/count is the mean latency); "
                                      "as of its last heartbeat.", labels=["worker"])
        for worker in state.workers:
            age.add_metric([worker.worker], worker.age_seconds)
            steps.add_metric([worker.worker], worker.steps)
            claimed.add_metric([worker.worker], worker.claimed)
            errors.add_metric([worker.worker], worker.errors)
            batches.add_metric([worker.worker], count_value=worker.batches, sum_value=worker.batch_seconds)
        yield from (age, steps, claimed, errors, batches)


_shared_collector: SharedStateCollector | None = None
_shared_lock = threading.Lock()


def registry_with_shared_state(database: Callable[[], Database]) -> CollectorRegistry:
    """The process registry, with the database collector added the first time it is asked for."""
    global _shared_collector
    with _shared_lock:
        if _shared_collector is None:
            _shared_collector = SharedStateCollector(database)
            REGISTRY.register(_shared_collector)
    return REGISTRY
