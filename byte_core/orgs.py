"""Organizations: the tenants. Replaces Clerk organizations."""
from __future__ import annotations

import re
import secrets

from sqlalchemy import func, select

from .db import Database
from .errors import InvalidInput, NotFound
from .models import Organization

SLUG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")


def org_id_for_slug(slug: str) -> str:
    return "org_" + slug.replace("-", "_")


def create_org(db: Database, slug: str, name: str) -> Organization:
    if not SLUG_PATTERN.match(slug):
        raise InvalidInput(f"organization slug {slug!r} is invalid: use 2-63 lower-case letters, digits or '-'")
    org_id = org_id_for_slug(slug)
    with db.session(org_id) as session:
        existing = session.get(Organization, org_id)
        if existing is not None:
            return existing
        org = Organization(id=org_id, slug=slug, name=name, intake_token=secrets.token_urlsafe(24), settings={})
        session.add(org)
    return org


def get_org(db: Database, slug: str | None = None) -> Organization:
    """The organization with this slug; without a slug, the only one (a one-org install)."""
    with db.session(None) as session:
        if slug:
            org = session.scalar(select(Organization).where(Organization.slug == slug))
            if org is None:
                raise NotFound(f"no organization with slug {slug!r}; `byte orgs list` shows them")
            return org
        orgs = session.scalars(select(Organization).order_by(Organization.created_at).limit(2)).all()
        if not orgs:
            raise NotFound("there is no organization yet: run `byte demo seed` or `byte orgs add SLUG NAME`")
        if len(orgs) > 1:
            raise InvalidInput("several organizations exist: name one with --org SLUG")
        return orgs[0]


def list_orgs(db: Database) -> list[Organization]:
    with db.session(None) as session:
        return list(session.scalars(select(Organization).order_by(Organization.slug)))


def count_orgs(db: Database) -> int:
    with db.session(None) as session:
        return session.scalar(select(func.count()).select_from(Organization)) or 0
