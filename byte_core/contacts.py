"""Contacts: search, create and edit with validation, CSV import/export, and a contact's timeline."""
from __future__ import annotations

import csv
import io
import re
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from sqlalchemy import func, or_, select

from . import activity
from .access import Actor, require_role
from .db import Database
from .errors import InvalidInput, NotFound
from .models import (ActivityLog, Contact, FormstackSubmission, Note, Task, WorkflowDefinition, WorkflowExecution)
from .text import contains_nul, csv_text, search_text

EDITABLE = ("first_name", "last_name", "email", "phone", "address_line_1", "address_line_2", "city", "state", "zip")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE = re.compile(r"^[0-9+()\-. x]{7,25}$")
WRITERS = ("admin", "manager", "hr", "reviewer")


@dataclass(frozen=True)
class ContactPage:
    rows: list[Contact]
    total: int


def search_contacts(db: Database, actor: Actor, text: str = "", *, tag: str | None = None, offset: int = 0,
                    limit: int = 25) -> ContactPage:
    where = []
    text = search_text(text)
    if text:
        like = f"%{text.lower()}%"
        digits = re.sub(r"\D", "", text)
        conditions = [Contact.name_key.like(like),
                      Contact.email_key.like(like)]
        if len(digits) >= 3:
            conditions.append(func.regexp_replace(Contact.phone, r"\D", "", "g").like(f"%{digits}%"))
        where.append(or_(*conditions))
    tag = search_text(tag)
    if tag:
        where.append(Contact.tags.contains([tag]))
    with db.session(actor.org_id) as session:
        total = session.scalar(select(func.count()).select_from(Contact).where(*where)) or 0
        rows = session.scalars(select(Contact).where(*where).order_by(Contact.last_name, Contact.first_name, Contact.id)
                               .offset(offset).limit(limit)).all()
    return ContactPage(list(rows), total)


def all_tags(db: Database, actor: Actor) -> list[str]:
    with db.session(actor.org_id) as session:
        return list(session.scalars(select(func.unnest(Contact.tags).label("tag")).distinct().order_by("tag")))


def get_contact(db: Database, actor: Actor, contact_id: uuid.UUID) -> Contact:
    with db.session(actor.org_id) as session:
        contact = session.get(Contact, contact_id)
        if contact is None:
            raise NotFound("contact not found in this organization")
        return contact


def clean_contact(values: dict[str, Any], row_label: str = "") -> dict[str, Any]:
    """Normalised editable fields, or InvalidInput naming every problem (and the row, for imports)."""
    prefix = f"{row_label}: " if row_label else ""
    clean = {k: (str(values.get(k) or "").strip() or None) for k in EDITABLE}
    problems = [f"{k.replace('_', ' ')} contains a NUL character" for k, v in clean.items() if contains_nul(v)]
    if not clean["first_name"]:
        problems.append("first name is required")
    if not clean["last_name"]:
        problems.append("last name is required")
    if clean["email"]:
        clean["email"] = clean["email"].lower()
        if not EMAIL.match(clean["email"]):
            problems.append(f"email {clean['email']!r} is not valid")
    if clean["phone"] and not PHONE.match(clean["phone"]):
        problems.append(f"phone {clean['phone']!r} is not valid")
    tags = values.get("tags") or []
    if isinstance(tags, str):
        tags = [t for t in re.split(r"[;,]", tags)]
    clean["tags"] = sorted({t.strip().lower() for t in tags if t and t.strip()})
    if contains_nul(clean["tags"]):
        problems.append("a tag contains a NUL character")
    metadata = values.get("metadata") or {}
    if not isinstance(metadata, dict):
        problems.append("metadata must be key/value pairs")
    elif contains_nul(metadata):
        problems.append("metadata contains a NUL character")
    clean["metadata"] = metadata if isinstance(metadata, dict) else {}
    if problems:
        raise InvalidInput(prefix + "; ".join(problems))
    return clean


def _duplicate_email(session, email: str | None, except_id: uuid.UUID | None = None) -> bool:
    if not email:
        return False
    query = select(Contact.id).where(Contact.email_key == email.lower())
    if except_id is not None:
        query = query.where(Contact.id != except_id)
    return session.scalar(query.limit(1)) is not None


def save_contact(db: Database, actor: Actor, values: dict[str, Any], contact_id: uuid.UUID | None = None) -> Contact:
    """Create (no id) or update a contact; audited in the same transaction."""
    require_role(actor, *WRITERS)
    clean = clean_contact(values)
    with db.session(actor.org_id, user_id=actor.user_id) as session:
        if _duplicate_email(session, clean["email"], contact_id):
            raise InvalidInput(f"another contact already has email {clean['email']}")
        if contact_id is None:
            contact = Contact(id=uuid.uuid4(), org_id=actor.org_id, **_columns(clean))
            session.add(contact)
            changes = {k: v for k, v in _columns(clean).items() if v}
            action = "created"
        else:
            contact = session.get(Contact, contact_id, with_for_update=True)
            if contact is None:
                raise NotFound("contact not found in this organization")
            changes = {}
            for key, value in _columns(clean).items():
                old = getattr(contact, key)
                if old != value:
                    changes[key] = {"from": old, "to": value}
                    setattr(contact, key, value)
            if not changes:
                return contact
            action = "updated"
        session.flush()
        activity.record(session, entity_type="contact", entity_id=contact.id, action=action,
                        details={"by": actor.label, "changes": _jsonable(changes)})
        return contact


def _columns(clean: dict[str, Any]) -> dict[str, Any]:
    return {**{k: clean[k] for k in EDITABLE}, "tags": clean["tags"], "metadata_": clean["metadata"]}


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value if isinstance(value, (str, int, float, bool, type(None))) else str(value)


# --- CSV ---------------------------------------------------------------------------------------------------------
CSV_COLUMNS = (*EDITABLE, "tags")


@dataclass
class ImportPreview:
    valid: list[dict[str, Any]] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line number, message)
    unknown_columns: list[str] = field(default_factory=list)


def preview_csv(data: bytes | str, db: Database | None = None, actor: Actor | None = None) -> ImportPreview:
    """Parse and validate every row; nothing is written. Duplicate emails (in the file or, with a db, already
    stored) are row errors."""
    text = data.decode("utf-8-sig", errors="replace") if isinstance(data, bytes) else data
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    if not {"first_name", "last_name"} <= set(header):
        raise InvalidInput("the CSV needs a header row with at least first_name and last_name "
                           f"(columns it may have: {', '.join(CSV_COLUMNS)})")
    preview = ImportPreview(unknown_columns=[h for h in header if h not in CSV_COLUMNS])
    seen: set[str] = set()
    existing = _existing_emails(db, actor) if db is not None and actor is not None else set()
    for line, raw in enumerate(reader, start=2):
        row = {k.strip(): v for k, v in raw.items() if k}
        try:
            clean = clean_contact(row)
        except InvalidInput as exc:
            preview.errors.append((line, str(exc)))
            continue
        if clean["email"] and (clean["email"] in seen or clean["email"] in existing):
            preview.errors.append((line, f"email {clean['email']} is already " +
                                   ("in this file" if clean["email"] in seen else "a contact")))
            continue
        if clean["email"]:
            seen.add(clean["email"])
        preview.valid.append(clean)
    return preview


def _existing_emails(db: Database, actor: Actor) -> set[str]:
    with db.session(actor.org_id) as session:
        return set(session.scalars(select(func.lower(Contact.email)).where(Contact.email.is_not(None))))


def import_contacts(db: Database, actor: Actor, rows: list[dict[str, Any]], *, batch_size: int = 200,
                    progress: Callable[[int, int], None] | None = None) -> int:
    """Insert validated rows in batches, each batch one transaction with its activity rows."""
    require_role(actor, *WRITERS)
    done = 0
    for start in range(0, len(rows), batch_size):
        batch = rows[start:start + batch_size]
        with db.session(actor.org_id, user_id=actor.user_id) as session:
            contacts = [Contact(id=uuid.uuid4(), org_id=actor.org_id, **_columns(clean)) for clean in batch]
            session.add_all(contacts)
            session.flush()  # without relationships the unit of work may insert the audit rows first
            for contact in contacts:
                activity.record(session, entity_type="contact", entity_id=contact.id, action="created",
                                details={"by": actor.label, "source": "csv_import"})
        done += len(batch)
        if progress:
            progress(done, len(rows))
    return done


def export_csv(db: Database, actor: Actor, text: str = "", tag: str | None = None) -> str:
    """The contacts matching a search as CSV; cells that a spreadsheet would run as formulas are neutralised."""
    return csv_text(["id", *CSV_COLUMNS, "created_at"], _export_rows(db, actor, text, tag))


def _export_rows(db: Database, actor: Actor, text: str, tag: str | None) -> Iterable[list[Any]]:
    offset = 0
    while True:
        page = search_contacts(db, actor, text, tag=tag, offset=offset, limit=5000)
        for c in page.rows:
            yield [c.id, *(getattr(c, k) or "" for k in EDITABLE), ";".join(c.tags or []),
                   c.created_at.isoformat() if c.created_at else ""]
        offset += len(page.rows)
        if not page.rows or offset >= page.total:
            return


# --- timeline ----------------------------------------------------------------------------------------------------
def timeline(db: Database, actor: Actor, contact_id: uuid.UUID, limit: int = 200) -> list[activity.Entry]:
    """Everything that happened to a contact and its executions, newest first, as sentences (the activity
    log holds every change: edits, intake, workflow steps, decisions, notes)."""
    with db.session(actor.org_id) as session:
        execution_ids = list(session.scalars(select(WorkflowExecution.id)
                                             .where(WorkflowExecution.contact_id == contact_id)))
    return activity.history(db, actor, execution_ids=execution_ids, contact_id=contact_id, limit=limit)


def executions_of(db: Database, actor: Actor, contact_id: uuid.UUID) -> list[dict[str, Any]]:
    """A contact's executions, newest first, with the workflow's and the current phase's names."""
    from .workflow.definitions import phase_positions

    with db.session(actor.org_id) as session:
        rows = session.execute(select(WorkflowExecution.id, WorkflowDefinition, WorkflowExecution.status,
                                      WorkflowExecution.current_phase_id, WorkflowExecution.started_at)
                               .join(WorkflowDefinition, WorkflowDefinition.id == WorkflowExecution.workflow_definition_id)
                               .where(WorkflowExecution.contact_id == contact_id)
                               .order_by(WorkflowExecution.started_at.desc())).all()
        return [dict(id=i, workflow=d.name, status=s, phase=phase_positions(d).get(p, (0, p or ""))[1], started_at=t)
                for i, d, s, p, t in rows]


ACTIVE = ("running", "paused")


def active_runs_of(runs: list[dict[str, Any]], workflow: str) -> list[dict[str, Any]]:
    """Of `executions_of`'s rows, those of this workflow still under way (starting another needs a confirmation)."""
    return [r for r in runs if r["workflow"] == workflow and r["status"] in ACTIVE]


def parse_metadata(text: str) -> dict[str, str]:
    """`key=value` lines from the edit form into a dict; a line without `=` is an error naming it."""
    result: dict[str, str] = {}
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"metadata line {number} ({line.strip()!r}) should look like key=value")
        result[key.strip()] = value.strip()
    return result


def metadata_text(metadata: dict[str, Any] | None) -> str:
    return "\n".join(f"{k}={v}" for k, v in (metadata or {}).items())


__all__: Iterable[str] = ("search_contacts", "all_tags", "get_contact", "save_contact", "preview_csv",
                          "import_contacts", "export_csv", "timeline", "executions_of", "parse_metadata")
