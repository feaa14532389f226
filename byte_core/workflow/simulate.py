"""Dry run: a definition run in memory by the pure engine, with the decisions and waiting times given,
step by step to its end. Nothing is written anywhere (issue [E]: try a draft before publishing).

The same `engine.run_execution` the scheduler uses advances the simulated execution; between runs the
simulator plays the people (decides tasks after the waits given) and the clock (jumps to the next timer).
"""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any

from ..errors import InvalidInput
from .definition import Definition
from .engine import ExecutionState, Snapshot, TaskState, VisitState, run_execution, user_key
from .steps.registry import WAIT_TYPES, spec_of

MAX_RUNS = 200
_SPAN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([dhm])\s*$")


@dataclass(frozen=True)
class SimulatedEvent:
    at: datetime
    elapsed: timedelta
    step_id: str | None
    text: str


@dataclass
class Simulation:
    events: list[SimulatedEvent] = field(default_factory=list)
    #: "completed", "failed", or None when the run stopped waiting on something the inputs never decide
    ended: str | None = None
    outcome: str | None = None
    error: str | None = None
    variables: dict[str, Any] = field(default_factory=dict)

    def lines(self) -> list[str]:
        return [f"{_span(e.elapsed):>8}  {e.text}" for e in self.events]


def contact_for_dry_run(row) -> dict[str, Any]:
    """What the engine reads of a stored contact (a `models.Contact`), for a dry run with a real person."""
    contact = {name: getattr(row, name) for name in ("id", "first_name", "last_name", "email", "phone", "city",
                                                      "state", "zip", "tags")}
    contact["metadata"] = row.metadata_ or {}
    return contact


def parse_span(text: str) -> timedelta:
    """'4d', '36h', '90m' -> a timedelta."""
    match = _SPAN.match(text or "")
    if not match:
        raise InvalidInput(f"{text!r} is not a waiting time: use a number and d, h or m, like 4d or 36h")
    number, unit = float(match.group(1)), match.group(2)
    return {"d": timedelta(days=number), "h": timedelta(hours=number), "m": timedelta(minutes=number)}[unit]


def _span(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    if hours < 1:
        return f"+{int(delta.total_seconds() // 60)}m"
    if hours < 48:
        return f"+{hours:.0f}h" if hours == int(hours) else f"+{hours:.1f}h"
    return f"+{hours / 24:.1f}d".replace(".0d", "d")


def simulate(definition: Definition, contact: dict[str, Any], *, decisions: dict[str, str] | None = None,
             waits: dict[str, timedelta] | None = None, variables: dict[str, Any] | None = None,
             start: datetime | None = None, users: dict[str, str | None] | None = None) -> Simulation:
    """Run `definition` for `contact` until it ends or waits on something nobody decides.

    `decisions` maps a waiting step id (or the step that created the task) to an outcome (approved,
    rejected, completed); `waits` maps it to how long after the step was entered the decision comes
    (none: at once). A wait longer than the step's timeout lets the timeout fire first.
    `users` maps named assignees (id or email) to user ids; unknown ones are assumed to exist."""
    decisions, waits = dict(decisions or {}), dict(waits or {})
    unknown = (set(decisions) | set(waits)) - {s.id for s in definition.steps}
    if unknown:
        raise InvalidInput(f"no step {', '.join(sorted(unknown))} in this definition")
    start = start or datetime.now(timezone.utc)
    now = start
    contact = {"id": uuid.uuid4(), "tags": [], "metadata": {}, **contact}
    first = definition.steps[0]
    execution = ExecutionState(uuid.uuid4(), "dry-run", uuid.uuid4(), 0, contact["id"], first.id, first.phase_id, 0,
                               {**(variables or {}), "trigger": {"source": "dry run"}}, "dry run", None, {})
    named = {**_assumed_users(definition), **(users or {})}
    visit: VisitState | None = None
    tasks: dict[uuid.UUID, TaskState] = {}
    roles: dict[uuid.UUID, str] = {}
    sim = Simulation()
    for _ in range(MAX_RUNS):
        result = run_execution(Snapshot(execution, visit, tasks, contact, named), definition, now)
        for row in result.activity:
            text = _describe(row, definition, roles)
            if text:
                sim.events.append(SimulatedEvent(now, now - start, row["details"].get("step_id"), text))
        if result.failure is not None:
            sim.ended, sim.error = "failed", result.failure[1]
            return sim
        for row in result.new_tasks:
            tasks[row["id"]] = TaskState(row["id"], row["title"], row["status"], assigned_to=row["assigned_to"],
                                         assigned_role=row["assigned_role"])
        for task_id, values in result.task_changes:
            tasks[task_id] = replace(tasks[task_id], **{k: v for k, v in values.items() if k != "updated_at"})
        visits = result.new_visits + result.changed_visits
        visit = max(visits, key=lambda v: v.seq) if visits else visit
        values = result.execution
        execution = replace(execution, variables=values["variables"], step_seq=values["step_seq"],
                            current_step_id=values["current_step_id"], current_phase_id=values["current_phase_id"],
                            metadata=values["metadata"])
        sim.variables = values["variables"]
        if result.ended:
            sim.ended, sim.outcome = result.ended, (values["metadata"] or {}).get("outcome")
            return sim
        moved = _play_people_and_clock(definition, execution, visit, tasks, decisions, waits, now)
        if moved is None:
            step = definition.step(execution.current_step_id)
            sim.events.append(SimulatedEvent(now, now - start, step.id if step else None,
                                             f"waits at {_name(definition, execution.current_step_id)}: no decision "
                                             "given for it (add --decide) and no timer to fire"))
            return sim
        now, tasks = moved
    sim.error = f"stopped after {MAX_RUNS} runs: is there a loop that never waits?"
    return sim


def _assumed_users(definition: Definition) -> dict[str, str | None]:
    named = {}
    for step in definition.steps:
        target = step.config.get("assign_to") or {}
        if isinstance(target, dict) and target.get("type") == "user" and target.get("user"):
            named[user_key(target["user"])] = str(target["user"])
    return named


def _play_people_and_clock(definition: Definition, execution: ExecutionState, visit: VisitState | None,
                           tasks: dict[uuid.UUID, TaskState], decisions: dict[str, str],
                           waits: dict[str, timedelta], now: datetime):
    """The next moment something happens, and the tasks as they are then; None if nothing ever will."""
    if visit is None or visit.status != "waiting":
        return now, tasks
    step = definition.step(visit.step_id)
    spec = spec_of(step.type)
    source = spec.task_source(step.id, step.config) if spec else None  # the step whose task it waits on
    task_id = (execution.variables.get(source) or {}).get("task_id") if source else None
    task = tasks.get(uuid.UUID(task_id)) if task_id else None
    outcome = decisions.get(step.id) or (decisions.get(source) if source else None)
    wait = waits.get(step.id) or (waits.get(source) if source else None) or timedelta(0)
    decided_at = visit.entered_at + wait
    timer = visit.timeout_at
    needs_decision = task is not None and task.id in tasks and spec.task_type == "approval"
    if task is not None and (outcome or not needs_decision) and (timer is None or decided_at < timer):
        if outcome is None:
            outcome = "completed"
        done = replace(task, status="done", outcome=outcome, outcome_comment="(dry run)", completed_by="dry-run")
        return max(now, decided_at), {**tasks, task.id: done}
    if timer is not None:
        return max(now, timer), tasks
    return None


def _name(definition: Definition, step_id: str | None) -> str:
    step = definition.step(step_id) if step_id else None
    return f"{step.id} ({step.name})" if step else str(step_id)


def _describe(row: dict[str, Any], definition: Definition, roles: dict) -> str | None:
    details, action = row["details"], row["action"]
    step_id = details.get("step_id")
    if action == "task_created":
        who = f"the {details['assigned_role']} role" if details.get("assigned_role") else details.get("assigned_to")
        kind = "approval" if details.get("task_type") == "approval" else "task"
        return f"{_name(definition, step_id)}: {kind} “{details.get('title')}” for {who}"
    if action == "step_completed":
        step = definition.step(step_id)
        outcome = details.get("outcome")
        if step is not None and step.type == "condition":
            goto = next((b.get("then_goto") for b in step.config.get("branches", []) if str(b.get("if")) == outcome),
                        step.config.get("default_goto"))
            return f"{_name(definition, step_id)}: value “{outcome}” → goes to {_name(definition, goto)}"
        if step is not None and step.type in WAIT_TYPES:
            return f"{_name(definition, step_id)}: done ({outcome})"
        return None
    if action == "step_timed_out":
        return f"{_name(definition, step_id)}: timed out → {details.get('policy')}"
    if action == "task_escalated":
        return f"{_name(definition, step_id)}: task escalated to the {details.get('to_role')} role"
    if action == "contact_updated":
        return f"{_name(definition, step_id)}: contact tags become {', '.join(details.get('tags') or []) or 'none'}"
    if action == "execution_completed":
        return f"ends at {_name(definition, step_id)} with outcome {details.get('outcome')}"
    if action == "execution_failed":
        return f"fails: {details.get('error') or 'ends with outcome ' + str(details.get('outcome'))}"
    return None
