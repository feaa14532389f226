"""Real scheduler processes against the real database: several workers, and a worker killed mid-batch."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from byte_core.workflow.definitions import save_definition

ROOT = Path(__file__).resolve().parents[1]
COUNT = 2000
DEFINITION = {
    "name": "Reliability",
    "phases": [{"id": "p", "name": "Only", "order": 1}],
    "steps": [
        {"id": "t", "order": 1, "phase_id": "p", "type": "trigger", "name": "Start", "config": {}},
        {"id": "a", "order": 2, "phase_id": "p", "type": "assign_task", "name": "Task",
         "config": {"title": "Follow up {{contact.email}}", "assign_to": {"type": "role", "role": "hr"}}},
        {"id": "v", "order": 3, "phase_id": "p", "type": "set_variable", "name": "Mark", "config": {"name": "x", "value": 1}},
        {"id": "e", "order": 4, "phase_id": "p", "type": "end", "name": "End", "config": {"outcome": "done"}},
    ],
}
pytestmark = pytest.mark.slow


def enqueue(database, org_id: str, count: int) -> None:
    with database.session(org_id) as s:
        definition_id = s.execute(text("SELECT id FROM workflow_definitions WHERE name = 'Reliability'")).scalar_one()
        contact = s.execute(text("INSERT INTO contacts (org_id, first_name, last_name, email) "
                                 "VALUES (:o, 'R', 'Person', 'r@example.org') RETURNING id"), {"o": org_id}).scalar_one()
        s.execute(text("INSERT INTO workflow_executions (org_id, workflow_definition_id, contact_id, current_step_id, "
                       "current_phase_id, next_run_at) SELECT :o, :d, :c, 't', 'p', now() FROM generate_series(1, :n)"),
                  {"o": org_id, "d": definition_id, "c": contact, "n": count})


def start_scheduler() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "scheduler", "run", "--sweep-seconds", "0.3"], cwd=ROOT,
                            env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def completed(database, org_id: str) -> int:
    with database.session(org_id) as s:
        return s.execute(text("SELECT count(*) FROM workflow_executions WHERE status = 'completed'")).scalar_one()


def wait_for(database, org_id: str, target: int, seconds: float) -> int:
    deadline = time.monotonic() + seconds
    done = completed(database, org_id)
    while done < target and time.monotonic() < deadline:
        time.sleep(0.2)
        done = completed(database, org_id)
    return done


def assert_each_finished_exactly_once(database, org_id: str) -> None:
    with database.session(org_id) as s:
        row = s.execute(text("""
            SELECT count(*) FILTER (WHERE status <> 'completed') AS unfinished,
                   count(*) FILTER (WHERE step_seq <> 4) AS wrong_seq,
                   (SELECT count(*) FROM tasks) AS tasks,
                   (SELECT count(DISTINCT workflow_execution_id) FROM tasks) AS executions_with_task,
                   (SELECT count(*) FROM workflow_execution_steps) AS steps,
                   (SELECT count(*) FROM activity_log WHERE action = 'execution_completed') AS completions
            FROM workflow_executions""")).one()
    assert row.unfinished == 0 and row.wrong_seq == 0
    assert row.tasks == COUNT and row.executions_with_task == COUNT, "a task was created twice or not at all"
    assert row.steps == 4 * COUNT and row.completions == COUNT


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def test_two_scheduler_processes_finish_every_execution_exactly_once(database, actor):
    save_definition(database, actor, DEFINITION)
    enqueue(database, actor.org_id, COUNT)
    workers = [start_scheduler(), start_scheduler()]
    try:
        assert wait_for(database, actor.org_id, COUNT, 120) == COUNT
    finally:
        for worker in workers:
            stop(worker)
    assert_each_finished_exactly_once(database, actor.org_id)
    with database.session(None) as s:
        claimed = s.execute(text("SELECT sum(claimed) FROM scheduler_heartbeats")).scalar_one()
    assert claimed >= COUNT  # both heartbeats report their work (other tests' orgs may add to it)


def test_worker_killed_mid_batch_loses_and_doubles_nothing(database, actor):
    save_definition(database, actor, DEFINITION)
    enqueue(database, actor.org_id, COUNT)
    victim = start_scheduler()
    try:
        partly = wait_for(database, actor.org_id, 300, 60)
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(timeout=10)
    finally:
        if victim.poll() is None:
            victim.kill()
    assert 0 < partly < COUNT, "the worker must die while work remains"
    survivor = start_scheduler()
    try:
        assert wait_for(database, actor.org_id, COUNT, 120) == COUNT
    finally:
        stop(survivor)
    assert_each_finished_exactly_once(database, actor.org_id)
