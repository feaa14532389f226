"""Organizations: the tenants. Replaces Clerk organizations."""
from __future__ import annotations

import re
import secrets

from sqlalchemy import text

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
    if slug:
        org_id = org_id_by_slug(db, slug)
        if org_id is None:
            raise NotFound(f"no organization with slug {slug!r}; `byte orgs list` shows them")
        return _read_own(db, org_id)
    ids = all_org_ids(db)
    if not ids:
        raise NotFound("there is no organization yet: run `byte demo seed` or `byte orgs add SLUG NAME`")
    if len(ids) > 1:
        raise InvalidInput("several organizations exist: name one with --org SLUG")
    return _read_own(db, ids[0])


def list_orgs(db: Database) -> list[Organization]:
    """Every organization, each read in its own session (RLS shows a session only its own org)."""
    return sorted((_read_own(db, org_id) for org_id in all_org_ids(db)), key=lambda org: org.slug)


def count_orgs(db: Database) -> int:
    return len(all_org_ids(db))


# --- the only cross-organization reads: SECURITY DEFINER functions of migration 0008, returning ids only ---------
def all_org_ids(db: Database) -> list[str]:
    """Every organization's id, oldest first (scheduler sweep, CLI)."""
    with db.session(None) as session:
        return list(session.scalars(text("SELECT byte_org_ids()")))


def org_id_by_slug(db: Database, slug: str) -> str | None:
    with db.session(None) as session:
        return session.scalar(text("SELECT byte_org_by_slug(:slug)"), {"slug": slug})


def org_id_by_intake_token(db: Database, token: str) -> str | None:
    with db.session(None) as session:
        return session.scalar(text("SELECT byte_org_by_intake_token(:token)"), {"token": token})


def _read_own(db: Database, org_id: str) -> Organization:
    with db.session(org_id) as session:
        org = session.get(Organization, org_id)
        if org is None:  # deleted between the id lookup and this read
            raise NotFound("that organization no longer exists")
        return org
