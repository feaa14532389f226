"""Demo executions, played through the real engine on a simulated clock.

Each execution gets a fate (where it stands today) and is driven there by the same services people
use, at past moments: so its steps, tasks, decisions, notes and activity are consistent by
construction. Seeded once: an organization that already has executions is left alone.
"""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select, text

from .access import Actor
from .db import Database
from .models import Contact, Task, User, WorkflowExecution
from .notes import add_note
from .workflow.definitions import get_definition_row
from .workflow.runner import run_execution
from .workflow.commands import change_status, claim_task, complete_task, start_execution_in

SEED = 7
EXECUTIONS = 240
DAYS = 90  # a quarter of history, ending now
WEEKDAY_WEIGHT = (1.0, 1.1, 1.05, 1.0, 0.85, 0.2, 0.1)  # Monday .. Sunday: applications come in on working days
REVIEW = "Application Review Workflow"
ONBOARDING = "Client Onboarding"
BACKGROUND = "Volunteer Background Check"
# (workflow, fate, weight, youngest, oldest): the fate names where the execution stands today; an execution
# that is `age` days old can only have a fate with youngest <= age <= oldest. Waits still open today must be
# younger than their timeout (else the scheduler would time them out at once), and finished fates need room
# for every step before now.
FATES = [
    (REVIEW, "at_review", 12, 0, 2.8), (REVIEW, "at_approval", 12, 0.1, 4), (REVIEW, "at_letter", 6, 0.3, 6),
    (REVIEW, "approved", 16, 2.5, DAYS), (REVIEW, "rejected", 8, 2.5, DAYS), (REVIEW, "approval_timed_out", 4, 7.5, DAYS),
    (REVIEW, "cancelled", 3, 1, DAYS), (REVIEW, "paused", 3, 2, 30),
    (ONBOARDING, "at_call", 5, 0, 3.5), (ONBOARDING, "at_docs", 5, 0.2, 8), (ONBOARDING, "cooling", 3, 0.05, 3.5),
    (ONBOARDING, "onboarded", 6, 3, DAYS), (ONBOARDING, "docs_missing", 2, 2, DAYS),
    (BACKGROUND, "at_check", 4, 0, 6), (BACKGROUND, "at_signoff", 4, 0.3, 10),
    (BACKGROUND, "cleared", 5, 2, DAYS), (BACKGROUND, "not_cleared", 2, 2, DAYS),
]
COMMENTS = {
    "approved": ["Meets all criteria.", "Strong references, approved.", "Approved; start next month."],
    "rejected": ["Outside our service area.", "Incomplete income documentation.", "Does not meet eligibility rules."],
}
NOTES = ["Called applicant, left voicemail.", "Applicant asked about timeline.", "Documents received by email.",
         "Needs Spanish-speaking follow-up.", "Priority case per director."]


class DemoPlayer:
    def __init__(self, db: Database, actor: Actor, now: datetime):
        self.db, self.org_actor, self.now = db, actor, now
        self.rng = random.Random(SEED)
        with db.session(actor.org_id) as session:
            users = session.scalars(select(User).where(User.is_active.is_(True))).all()
            self.contacts = list(session.scalars(select(Contact.id).order_by(Contact.created_at, Contact.id)))
            self.definitions = {name: get_definition_row(session, name) for name in (REVIEW, ONBOARDING, BACKGROUND)}
        self.people = {role: Actor(actor.org_id, u.id, frozenset(u.roles), u.email)
                       for u in users for role in (u.roles or [])}

    def person(self, role: str) -> Actor:
        return self.people.get(role) or self.people["admin"]

    def open_task(self, execution_id, step_id: str) -> Task | None:
        with self.db.session(self.org_actor.org_id) as session:
            return session.scalar(select(Task).where(Task.workflow_execution_id == execution_id,
                                                     Task.created_by_step_id == step_id,
                                                     Task.status.in_(("todo", "in_progress")))
                                  .order_by(Task.created_at.desc()))

    def act(self, execution_id, step_id: str, role: str, at: datetime, outcome: str | None = None,
            claim_only: bool = False, done_at: datetime | None = None) -> datetime:
        task = self.open_task(execution_id, step_id)
        if task is None:
            return at
        person = self.person(role)
        claim_task(self.db, person, task.id, now=at)
        if claim_only:
            return at
        done = max(done_at, at) if done_at else self.before_now(at, hours=self.rng.uniform(1, 30))
        comment = self.rng.choice(COMMENTS[outcome]) if outcome in COMMENTS else None
        complete_task(self.db, person, task.id, outcome=outcome, comment=comment, now=done)
        run_execution(self.db, self.org_actor.org_id, execution_id, done)
        return done

    def before_now(self, at: datetime, hours: float) -> datetime:
        """`hours` after `at`, squeezed so that it stays before now with room left for the steps after it
        (each step takes at most 40% of the time remaining): nothing in the demo happens in the future."""
        room = (self.now - at).total_seconds() / 3600
        return at + timedelta(hours=max(0.0, min(hours, room * 0.4)))

    def start(self, workflow: str, contact_index: int, at: datetime):
        definition = self.definitions[workflow]
        with self.db.session(self.org_actor.org_id) as session:
            execution = start_execution_in(session, self.org_actor, definition, self.contacts[contact_index],
                                           source=self.rng.choice(["formstack", "formstack", "manual", "api"]),
                                           run_now=True, now=at)
        return execution.id

    def play(self, index: int, at: datetime, workflow: str, fate: str) -> None:
        execution_id = self.start(workflow, index % len(self.contacts), at)
        if workflow == REVIEW:
            self._review(execution_id, fate, at)
        elif workflow == ONBOARDING:
            self._onboarding(execution_id, fate, at)
        else:
            self._background(execution_id, fate, at)
        if self.rng.random() < 0.3:
            add_note(self.db, self.person("reviewer"), "workflow_execution", execution_id, self.rng.choice(NOTES),
                     now=self.before_now(at, hours=2))

    def _review(self, execution_id, fate: str, at: datetime) -> None:
        if fate == "at_review":
            if self.rng.random() < 0.5:
                self.act(execution_id, "step_2", "reviewer", self.before_now(at, 1), claim_only=True)
            return
        if fate == "cancelled":
            self.change_status(execution_id, "cancel", "Applicant withdrew", self.before_now(at, hours=20))
            return
        at = self.act(execution_id, "step_2", "reviewer", self.before_now(at, 2))
        if fate == "at_approval":
            return
        if fate == "paused":
            self.change_status(execution_id, "pause", "Waiting for a policy decision", self.before_now(at, hours=6))
            return
        if fate == "approval_timed_out":
            run_execution(self.db, self.org_actor.org_id, execution_id,
                          min(at + timedelta(days=5, hours=1), self.now - timedelta(minutes=5)))
            return
        outcome = "rejected" if fate == "rejected" else "approved"
        at = self.act(execution_id, "step_4", "manager", self.before_now(at, 3), outcome=outcome)
        if fate == "at_letter":
            return
        self.act(execution_id, "step_6" if outcome == "approved" else "step_9", "hr", self.before_now(at, 4))

    def _onboarding(self, execution_id, fate: str, at: datetime) -> None:
        if fate == "at_call":
            return
        at = self.act(execution_id, "call", "hr", self.before_now(at, 1))
        if fate == "at_docs":
            return
        outcome = "rejected" if fate == "docs_missing" else "approved"
        # Cooling-off lasts a day, so an execution in it today had its documents checked within the last day.
        decided = self.now - timedelta(hours=self.rng.uniform(2, 20)) if fate == "cooling" else None
        at = self.act(execution_id, "docs", "reviewer", self.before_now(at, 2), outcome=outcome, done_at=decided)
        if fate == "onboarded":
            run_execution(self.db, self.org_actor.org_id, execution_id,
                          min(at + timedelta(days=1, hours=1), self.now - timedelta(minutes=5)))

    def _background(self, execution_id, fate: str, at: datetime) -> None:
        if fate == "at_check":
            return
        at = self.act(execution_id, "s2", "reviewer", self.before_now(at, 5))
        if fate == "at_signoff":
            return
        self.act(execution_id, "s4", "manager", self.before_now(at, 5),
                 outcome="approved" if fate == "cleared" else "rejected")


    def change_status(self, execution_id, action: str, reason: str, at: datetime) -> None:
        """A manager's pause or cancel, dated when it happened (the service stamps the current time)."""
        change_status(self.db, self.person("manager"), execution_id, action, reason)
        backdate_status_change(self.db, self.org_actor.org_id, execution_id, at)


def backdate_status_change(db: Database, org_id: str, execution_id, at: datetime) -> None:
    """Move the rows a status change just wrote (the execution, its activity row, what it cancelled) from now to
    `at`. Demo data only: people's own changes are always stamped with the real time."""
    params = {"id": execution_id, "at": at}
    with db.session(org_id) as session:
        session.execute(text("UPDATE workflow_executions SET updated_at = :at WHERE id = :id"), params)
        session.execute(text("""UPDATE activity_log SET created_at = :at WHERE workflow_execution_id = :id
                                AND action IN ('execution_paused', 'execution_cancelled')"""), params)
        session.execute(text("""UPDATE workflow_execution_steps SET left_at = :at,
                                duration_ms = GREATEST(0, (EXTRACT(EPOCH FROM (:at - entered_at)) * 1000)::bigint)
                                WHERE workflow_execution_id = :id AND status = 'cancelled'"""), params)
        session.execute(text("UPDATE tasks SET updated_at = :at WHERE workflow_execution_id = :id "
                             "AND status = 'cancelled'"), params)


def start_times(rng: random.Random, now: datetime, count: int = EXECUTIONS, days: int = DAYS) -> list[datetime]:
    """About `count` start moments over the last `days` days, oldest first: a steady flow with a weekday
    rhythm (busy Monday to Thursday, quiet weekends), in working hours, none after now."""
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    day_starts = [today - timedelta(days=back) for back in range(days - 1, -1, -1)]
    weights = [WEEKDAY_WEIGHT[d.weekday()] for d in day_starts]
    per_weight = count / sum(weights)
    moments = []
    for day, weight in zip(day_starts, weights):
        expected = weight * per_weight
        for _ in range(int(expected) + (rng.random() < expected - int(expected))):
            moment = day + timedelta(hours=rng.uniform(7.5, 18.5))
            if moment >= now:  # today's later applications have not come in yet: earlier today instead
                moment = day + (now - day) * rng.uniform(0.1, 0.95)
            moments.append(moment.replace(microsecond=0))
    return sorted(moments)


def fate_for(rng: random.Random, age_days: float) -> tuple[str, str]:
    """(workflow, fate) for an execution started `age_days` ago, weighted among the fates possible at that age."""
    possible = [(w, f, weight) for w, f, weight, youngest, oldest in FATES if youngest <= age_days <= oldest]
    workflow, fate, _ = rng.choices(possible, weights=[weight for *_, weight in possible])[0]
    return workflow, fate


def plan_fates(rng: random.Random, ages: list[float]) -> list[tuple[str, str]]:
    """A fate per execution, drawn by age, then adjusted so that every fate occurs at least once (the demo
    shows every phase and status whatever the hour it is seeded): each missing fate, narrowest age window
    first, takes over an execution of a fate that occurs more than once."""
    plan = [fate_for(rng, age) for age in ages]
    reserved: set[int] = set()
    for workflow, fate, _, youngest, oldest in sorted(FATES, key=lambda f: f[4] - f[3]):
        if (workflow, fate) in plan:
            reserved.add(plan.index((workflow, fate)))
            continue
        candidates = [i for i, age in enumerate(ages) if youngest <= age <= oldest and i not in reserved
                      and plan.count(plan[i]) > 1]
        if candidates:
            chosen = rng.choice(candidates)
            plan[chosen] = (workflow, fate)
            reserved.add(chosen)
    return plan


def seed_demo_executions(db: Database, actor: Actor, count: int = EXECUTIONS) -> int:
    with db.session(actor.org_id) as session:
        if session.scalar(select(func.count()).select_from(WorkflowExecution)):
            return 0
    now = datetime.now(timezone.utc).replace(microsecond=0)
    player = DemoPlayer(db, actor, now)
    moments = start_times(player.rng, now, count)
    plan = plan_fates(player.rng, [(now - at).total_seconds() / 86400 for at in moments])
    for index, (at, (workflow, fate)) in enumerate(zip(moments, plan)):
        player.play(index, at, workflow, fate)
    return len(moments)
