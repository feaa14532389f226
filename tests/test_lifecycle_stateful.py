"""Proof by property: random sequences of what people and the scheduler do, against the real database,
with the lifecycle's invariants checked after every step (issue [A], docs/lifecycle.md).

The example count is modest so the suite stays in budget; `BYTE_STATEFUL_EXAMPLES=200 pytest
tests/test_lifecycle_stateful.py` runs a longer search.
"""
from __future__ import annotations

import json
import os
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from sqlalchemy import text

from byte_core.access import Actor
from byte_core.demo import WORKFLOW_DIR
from byte_core.errors import ByteError
from byte_core.models import Contact
from byte_core.users import add_user
from byte_core.workflow import commands
from byte_core.workflow.definitions import save_definition
from byte_core.workflow.runner import drain_org

REVIEW = json.loads((WORKFLOW_DIR / "application_review.json").read_text())
# The manager approval fails its execution on timeout, so fail and retry are reachable too.
FLOW = {**REVIEW, "name": "Stateful Review", "steps": [
    {**s, "config": {**s["config"], "on_timeout": {"action": "fail"}}} if s["id"] == "step_4" else s
    for s in REVIEW["steps"]]}
EXAMPLES = int(os.environ.get("BYTE_STATEFUL_EXAMPLES", "15"))
STEPS = {"task_claimed", "task_released", "task_reassigned", "task_completed", "approval_decided",
         "task_completed_on_behalf", "approval_decided_on_behalf", "task_escalated", "task_closed", "task_reopened",
         "task_snoozed"}
DECISIONS = ("task_completed", "approval_decided", "task_completed_on_behalf", "approval_decided_on_behalf")
STATUS_ACTION = {"paused": "execution_paused", "cancelled": "execution_cancelled", "failed": "execution_failed",
                 "completed": "execution_completed"}
STATUS_FROM_RETRY_OR_RESUME = {"paused": "execution_resumed", "failed": "execution_retried"}


class Lifecycle(RuleBasedStateMachine):
    database = None  # set by the test below

    @initialize()
    def organization(self):
        from byte_core.orgs import create_org

        org = create_org(self.database, f"sm-{uuid.uuid4().hex[:10]}", "Stateful")
        self.org_id = org.id
        system = Actor.system(org.id, label="stateful")
        self.people = {"system": system}
        for name, roles in (("rev1", ["reviewer"]), ("rev2", ["reviewer"]), ("boss", ["manager"]),
                            ("hr", ["hr"]), ("root", ["admin"])):
            user = add_user(self.database, system, f"{name}@{org.id}.example.com", ",".join(roles), password=None)
            self.people[name] = Actor(org.id, user.id, frozenset(roles), user.email)
        save_definition(self.database, self.people["root"], FLOW)
        self.now = datetime.now(timezone.utc)
        self.statuses: dict[uuid.UUID, str] = {}
        self.action_counts: dict[tuple, int] = {}

    # --- helpers -------------------------------------------------------------------------------------------
    def sql(self, query: str, **params):
        with self.database.session(self.org_id) as session:
            return session.execute(text(query), params).all()

    def open_tasks(self):
        return self.sql("SELECT id, version, task_type FROM tasks WHERE status IN ('todo', 'in_progress') "
                        "ORDER BY created_at, id")

    def executions(self):
        return [row.id for row in self.sql("SELECT id FROM workflow_executions ORDER BY created_at, id")]

    def attempt(self, command, *args, **kwargs) -> None:
        """A refusal is fine, but it must change nothing: the versions of every task stay as they were."""
        before = self.sql("SELECT id, version, status FROM tasks ORDER BY id")
        try:
            command(*args, **kwargs)
        except ByteError:
            assert self.sql("SELECT id, version, status FROM tasks ORDER BY id") == before

    # --- rules ---------------------------------------------------------------------------------------------
    @rule()
    def start(self):
        if len(self.executions()) >= 3:
            return
        email = f"c{uuid.uuid4().hex[:8]}@example.org"
        with self.database.session(self.org_id) as session:
            session.add(Contact(org_id=self.org_id, first_name="C", last_name=email[:6], email=email))
        commands.start_execution(self.database, self.people["system"], FLOW["name"], email)

    def entitled(self, task_id) -> str:
        """Someone who may work on the task: its holder, else a person of its role."""
        (row,) = self.sql("SELECT assigned_to, assigned_role FROM tasks WHERE id = :id", id=task_id)
        for name, person in self.people.items():
            if row.assigned_to is not None and person.user_id == row.assigned_to:
                return name
        by_role = {"reviewer": "rev1", "manager": "boss", "hr": "hr", "admin": "root"}
        return by_role.get(row.assigned_role, "root")

    @rule(person=st.sampled_from(["entitled", "entitled", "entitled", "rev1", "rev2", "boss", "hr", "root"]),
          pick=st.integers(0, 9), stale=st.sampled_from([False, False, False, True]),
          action=st.sampled_from(["claim", "release", "finish", "finish", "finish", "on_behalf"]),
          approve=st.booleans())
    def act_on_task(self, person, pick, action, stale, approve):
        tasks = self.open_tasks()
        if not tasks:
            return
        task = tasks[pick % len(tasks)]
        version = task.version - 1 if stale else task.version
        actor = self.people[self.entitled(task.id) if person == "entitled" else person]
        if action == "claim":
            self.attempt(commands.claim_task, self.database, actor, task.id, expected_version=version)
        elif action == "release":
            self.attempt(commands.release_task, self.database, actor, task.id, expected_version=version)
        else:
            outcome = ("approved" if approve else "rejected") if task.task_type == "approval" else None
            command = commands.decide_on_behalf if action == "on_behalf" else commands.complete_task
            self.attempt(command, self.database, actor, task.id, outcome=outcome, comment="because",
                         expected_version=version)

    @rule(pick=st.integers(0, 9), to=st.sampled_from(["rev1", "boss", "hr", "role:reviewer", "role:manager"]))
    def reassign(self, pick, to):
        tasks = self.open_tasks()
        if not tasks:
            return
        task = tasks[pick % len(tasks)]
        target = {"to_role": to[5:]} if to.startswith("role:") else {"to_user": self.people[to].email}
        self.attempt(commands.reassign_tasks, self.database, self.people["boss"], [(task.id, task.version)], **target)

    @rule(pick=st.integers(0, 9), action=st.sampled_from(["pause", "resume", "cancel", "retry"]))
    def control(self, pick, action):
        executions = self.executions()
        if executions:
            self.attempt(commands.change_status, self.database, self.people["boss"], executions[pick % len(executions)],
                         action, f"stateful {action}")

    @rule(days=st.sampled_from([0, 1, 4, 6]))
    def tick(self, days):
        self.now += timedelta(days=days)
        drain_org(self.database, self.org_id, now=self.now)

    # --- invariants ------------------------------------------------------------------------------------------
    @invariant()
    def no_open_task_outside_a_live_execution(self):
        if not hasattr(self, "org_id"):
            return
        assert self.sql("""SELECT t.id FROM tasks t JOIN workflow_executions e ON e.id = t.workflow_execution_id
                           WHERE t.status IN ('todo', 'in_progress') AND e.status NOT IN ('running', 'paused')""") == []

    @invariant()
    def at_most_one_open_task_per_step_visit_and_step(self):
        if not hasattr(self, "org_id"):
            return
        assert self.sql("""SELECT workflow_execution_id, created_by_step_id FROM tasks
                           WHERE status IN ('todo', 'in_progress')
                           GROUP BY 1, 2 HAVING count(*) > 1""") == []

    @invariant()
    def a_decision_is_recorded_at_most_once(self):
        if not hasattr(self, "org_id"):
            return
        assert self.sql("""SELECT task_id FROM activity_log WHERE action = ANY(:actions)
                           GROUP BY task_id HAVING count(*) > 1""", actions=list(DECISIONS)) == []
        assert self.sql("SELECT id FROM tasks WHERE status = 'done' AND completed_at IS NULL") == []

    @invariant()
    def running_executions_are_due_or_wait_on_exactly_one_open_visit(self):
        if not hasattr(self, "org_id"):
            return
        rows = self.sql("""SELECT e.id, e.next_run_at,
                                  (SELECT count(*) FROM workflow_execution_steps v
                                    WHERE v.workflow_execution_id = e.id AND v.status IN ('running', 'waiting')) AS open
                             FROM workflow_executions e WHERE e.status = 'running'""")
        for row in rows:
            assert row.open <= 1, row
            assert row.next_run_at is not None or row.open == 1, row

    @invariant()
    def one_activity_row_per_state_change(self):
        if not hasattr(self, "org_id"):
            return
        # Every change of a task moves its version on by one and writes one audit row.
        mismatched = self.sql("""SELECT t.id, t.version, count(a.id) AS rows FROM tasks t
                                   LEFT JOIN activity_log a ON a.task_id = t.id AND a.action = ANY(:actions)
                                  GROUP BY t.id, t.version HAVING t.version - 1 <> count(a.id)""",
                              actions=sorted(STEPS))
        assert mismatched == [], mismatched
        # Every change of an execution's status since the last check left its audit row.
        counts = {(r.workflow_execution_id, r.action): r.n for r in self.sql(
            "SELECT workflow_execution_id, action, count(*) AS n FROM activity_log "
            "WHERE entity_type = 'workflow_execution' GROUP BY 1, 2")}
        for execution_id, status in self.sql("SELECT id, status FROM workflow_executions"):
            before = self.statuses.get(execution_id)
            if before is not None and before != status:
                wanted = STATUS_ACTION.get(status) or STATUS_FROM_RETRY_OR_RESUME.get(before)
                key = (execution_id, wanted)
                assert counts.get(key, 0) > self.action_counts.get(key, 0), (before, status, wanted)
            self.statuses[execution_id] = status
        self.action_counts = counts


def test_lifecycle_invariants_hold_under_random_sequences(database):
    Lifecycle.database = database
    run = Lifecycle.TestCase
    run.settings = settings(max_examples=EXAMPLES, stateful_step_count=40, deadline=None,
                            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    run().runTest()
