"""The demo organization: users per role, workflow definitions, contacts and executions.

Deterministic (fixed Faker seed, ids derived from a namespace) and idempotent: running it again
finds everything in place and adds nothing.
"""
from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert

from . import activity
from .access import Actor
from .db import Database
from .models import Contact, User
from .orgs import create_org

DEMO_SLUG = "demo"
DEMO_NAME = "BYTE Demo Org"
DEMO_NAMESPACE = uuid.UUID("6f1c2d1e-5b0a-4c55-9a43-1f0e8b7a9d10")
DEMO_USERS = [
    # email, roles, password, first, last
    ("admin@demo.example.com", ["admin"], "admin-demo-2026", "Alex", "Admin"),
    ("manager@demo.example.com", ["manager"], "manager-demo-2026", "Morgan", "Manager"),
    ("reviewer@demo.example.com", ["reviewer"], "reviewer-demo-2026", "Riley", "Reviewer"),
    ("hr@demo.example.com", ["hr"], "hr-demo-2026", "Harper", "Hughes"),
]
DEMO_CONTACTS = 200
TAGS = ["applicant", "volunteer", "client", "priority", "returning", "referral", "remote", "spanish-speaking"]
WORKFLOW_DIR = Path(__file__).parent / "demo_workflows"


@dataclass
class SeedReport:
    org_id: str = ""
    created_org: bool = False
    users_created: list[str] = field(default_factory=list)
    definitions_created: list[str] = field(default_factory=list)
    contacts_created: int = 0
    executions_created: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.created_org or self.users_created or self.definitions_created or self.contacts_created
                    or self.executions_created)


def demo_id(kind: str, key: object) -> uuid.UUID:
    return uuid.uuid5(DEMO_NAMESPACE, f"{kind}:{key}")


def seed_demo(db: Database, *, password_rounds: int = 12, progress: Callable[[str], None] = lambda _m: None
              ) -> SeedReport:
    from .orgs import list_orgs

    report = SeedReport()
    report.created_org = not any(org.slug == DEMO_SLUG for org in list_orgs(db))
    org = create_org(db, DEMO_SLUG, DEMO_NAME)
    report.org_id = org.id
    actor = Actor.system(org.id, label="demo-seed")
    progress("users")
    report.users_created = _seed_users(db, actor, password_rounds)
    progress("workflow definitions")
    report.definitions_created = _seed_definitions(db, actor)
    progress("contacts")
    report.contacts_created = _seed_contacts(db, actor)
    progress("executions")
    report.executions_created = _seed_executions(db, actor)
    return report


def _seed_users(db: Database, actor: Actor, rounds: int) -> list[str]:
    from .users import add_user

    created = []
    for email, roles, password, first, last in DEMO_USERS:
        with db.session(actor.org_id, login_email=email) as session:
            exists = session.scalar(select(User.id).where(func.lower(User.email) == email))
        if not exists:
            add_user(db, actor, email, roles, password=password, first_name=first, last_name=last,
                     password_rounds=rounds)
            created.append(email)
    return created


def demo_definition_files() -> list[Path]:
    return sorted(WORKFLOW_DIR.glob("*.json"))


def _seed_definitions(db: Database, actor: Actor) -> list[str]:
    from .workflow.definitions import find_definition, save_definition

    created = []
    for path in demo_definition_files():
        data = json.loads(path.read_text())
        if find_definition(db, actor, data["name"]) is None:
            save_definition(db, actor, data)
            created.append(data["name"])
    return created


def _contact_rows(org_id: str, count: int, seed: int = 2026) -> list[dict]:
    from faker import Faker

    fake = Faker("en_US")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    # On file before the quarter of workflow history begins (demo_executions.DAYS), so no execution is older
    # than its contact.
    base = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=200)
    rows = []
    for index in range(count):
        first, last = fake.first_name(), fake.last_name()
        created = base + timedelta(minutes=rng.randint(0, 60 * 24 * 105))
        rows.append({
            "id": demo_id("contact", index),
            "org_id": org_id,
            "first_name": first,
            "last_name": last,
            "email": f"{first}.{last}.{index}@example.org".lower(),
            "phone": fake.numerify("(###) ###-####"),
            "address_line_1": fake.street_address(),
            "address_line_2": fake.secondary_address() if rng.random() < 0.2 else None,
            "city": fake.city(),
            "state": fake.state_abbr(),
            "zip": fake.zipcode(),
            "metadata": {"source": rng.choice(["website", "referral", "event", "formstack"]),
                         "language": rng.choice(["en", "en", "en", "es"]),
                         "household_size": rng.randint(1, 6)},
            "tags": sorted(rng.sample(TAGS, rng.randint(0, 3))),
            "created_at": created,
            "updated_at": created,
        })
    return rows


def _seed_contacts(db: Database, actor: Actor) -> int:
    rows = _contact_rows(actor.org_id, DEMO_CONTACTS)
    with db.session(actor.org_id) as session:
        inserted = session.execute(
            insert(Contact).values(rows).on_conflict_do_nothing(index_elements=["id"]).returning(Contact.id)
        ).scalars().all()
        created_at = {row["id"]: row["created_at"] for row in rows}
        for contact_id in inserted:
            entry = activity.record(session, entity_type="contact", entity_id=contact_id, action="created",
                                    details={"source": "demo seed"})
            entry.created_at = created_at[contact_id]
    return len(inserted)


def _seed_executions(db: Database, actor: Actor) -> int:
    from .demo_executions import seed_demo_executions

    return seed_demo_executions(db, actor)
