"""Demo executions, played through the real engine on a simulated clock.

Each execution gets a fate (where it stands today) and is driven there by the same services people
use, at past moments: so its steps, tasks, decisions, notes and activity are consistent by
construction. Seeded once: an organization that already has executions is left alone.
"""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from .access import Actor
from .db import Database
from .models import Contact, Task, User, WorkflowExecution
from .notes import add_note
from .workflow.definitions import get_definition_row
from .workflow.runner import run_execution
from .workflow.commands import change_status, claim_task, complete_task, start_execution_in

SEED = 7
EXECUTIONS = 150
REVIEW = "Application Review Workflow"
ONBOARDING = "Client Onboarding"
BACKGROUND = "Volunteer Background Check"
# (workflow, fate, weight): the fate names where the execution stands today.
FATES = [
    (REVIEW, "at_review", 12), (REVIEW, "at_approval", 12), (REVIEW, "at_letter", 6), (REVIEW, "approved", 16),
    (REVIEW, "rejected", 8), (REVIEW, "approval_timed_out", 4), (REVIEW, "cancelled", 3), (REVIEW, "paused", 3),
    (ONBOARDING, "at_call", 5), (ONBOARDING, "at_docs", 5), (ONBOARDING, "cooling", 3), (ONBOARDING, "onboarded", 6),
    (ONBOARDING, "docs_missing", 2), (BACKGROUND, "at_check", 4), (BACKGROUND, "at_signoff", 4),
    (BACKGROUND, "cleared", 5), (BACKGROUND, "not_cleared", 2),
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
            claim_only: bool = False) -> datetime:
        task = self.open_task(execution_id, step_id)
        if task is None:
            return at
        person = self.person(role)
        claim_task(self.db, person, task.id, now=at)
        if claim_only:
            return at
        done = at + timedelta(hours=self.rng.uniform(1, 30))
        comment = self.rng.choice(COMMENTS[outcome]) if outcome in COMMENTS else None
        complete_task(self.db, person, task.id, outcome=outcome, comment=comment, now=done)
        run_execution(self.db, self.org_actor.org_id, execution_id, done)
        return done

    def start(self, workflow: str, contact_index: int, at: datetime):
        definition = self.definitions[workflow]
        with self.db.session(self.org_actor.org_id) as session:
            execution = start_execution_in(session, self.org_actor, definition, self.contacts[contact_index],
                                           source=self.rng.choice(["formstack", "formstack", "manual", "api"]),
                                           run_now=True, now=at)
        return execution.id

    def play(self, index: int, workflow: str, fate: str) -> None:
        running = fate.startswith("at_") or fate in ("cooling", "paused")
        # Running executions started recently, so their timers are still in the future today.
        age_days = self.rng.uniform(0.1, 1.5) if running else self.rng.uniform(3, 75)
        at = self.now - timedelta(days=age_days)
        execution_id = self.start(workflow, index % len(self.contacts), at)
        step = lambda hours: at + timedelta(hours=hours)  # noqa: E731
        if workflow == REVIEW:
            self._review(execution_id, fate, at)
        elif workflow == ONBOARDING:
            self._onboarding(execution_id, fate, at)
        else:
            self._background(execution_id, fate, at)
        if self.rng.random() < 0.3:
            add_note(self.db, self.person("reviewer"), "workflow_execution", execution_id, self.rng.choice(NOTES),
                     now=min(step(2), self.now))

    def _review(self, execution_id, fate: str, at: datetime) -> None:
        if fate == "at_review":
            if self.rng.random() < 0.5:
                self.act(execution_id, "step_2", "reviewer", at + timedelta(hours=1), claim_only=True)
            return
        if fate == "cancelled":
            change_status(self.db, self.person("manager"), execution_id, "cancel", "Applicant withdrew")
            return
        at = self.act(execution_id, "step_2", "reviewer", at + timedelta(hours=2))
        if fate == "at_approval":
            return
        if fate == "paused":
            change_status(self.db, self.person("manager"), execution_id, "pause", "Waiting for a policy decision")
            return
        if fate == "approval_timed_out":
            run_execution(self.db, self.org_actor.org_id, execution_id, at + timedelta(days=5, hours=1))
            return
        outcome = "rejected" if fate == "rejected" else "approved"
        at = self.act(execution_id, "step_4", "manager", at + timedelta(hours=3), outcome=outcome)
        if fate == "at_letter":
            return
        self.act(execution_id, "step_6" if outcome == "approved" else "step_9", "hr", at + timedelta(hours=4))

    def _onboarding(self, execution_id, fate: str, at: datetime) -> None:
        if fate == "at_call":
            return
        at = self.act(execution_id, "call", "hr", at + timedelta(hours=1))
        if fate == "at_docs":
            return
        outcome = "rejected" if fate == "docs_missing" else "approved"
        at = self.act(execution_id, "docs", "reviewer", at + timedelta(hours=2), outcome=outcome)
        if fate == "onboarded":
            run_execution(self.db, self.org_actor.org_id, execution_id, at + timedelta(days=1, hours=1))

    def _background(self, execution_id, fate: str, at: datetime) -> None:
        if fate == "at_check":
            return
        at = self.act(execution_id, "s2", "reviewer", at + timedelta(hours=5))
        if fate == "at_signoff":
            return
        self.act(execution_id, "s4", "manager", at + timedelta(hours=5),
                 outcome="approved" if fate == "cleared" else "rejected")


def seed_demo_executions(db: Database, actor: Actor, count: int = EXECUTIONS) -> int:
    with db.session(actor.org_id) as session:
        if session.scalar(select(func.count()).select_from(WorkflowExecution)):
            return 0
    now = datetime.now(timezone.utc).replace(microsecond=0)
    player = DemoPlayer(db, actor, now)
    weights = [w for _, _, w in FATES]
    for index in range(count):
        workflow, fate, _ = player.rng.choices(FATES, weights=weights)[0]
        player.play(index, workflow, fate)
    return count
