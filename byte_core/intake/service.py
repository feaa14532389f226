"""Formstack intake: keep every verified delivery once, then turn it into a contact and an execution.

Receiving is one short transaction (store + NOTIFY) so the endpoint answers fast; the mapping,
contact upsert and workflow start happen in the scheduler, where a failure is kept as `error` on
the submission and nothing is lost.
"""
from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from .. import activity
from ..access import Actor, require_role
from ..db import Database
from ..errors import InvalidInput, NotFound
from ..models import Contact, FormstackConfig, FormstackSubmission, Organization, WorkflowDefinition
from ..orgs import org_id_by_intake_token
from ..workflow.commands import start_execution_in
from ..workflow.store import utcnow, wake
from .webhook import ParsedDelivery, VerificationSettings, WebhookRejected, map_fields, receive, validate_mappings

log = logging.getLogger("byte.intake")
CONTACT_COLUMNS = ("first_name", "last_name", "email", "phone", "address_line_1", "address_line_2", "city", "state",
                   "zip")


@dataclass(frozen=True)
class Receipt:
    status: int
    body: dict[str, Any]


# --- configuration --------------------------------------------------------------------------------------------
def get_config(db: Database, actor: Actor) -> FormstackConfig | None:
    with db.session(actor.org_id) as session:
        return session.scalar(select(FormstackConfig))


def configure(db: Database, actor: Actor, *, form_id: str | None = None, hmac_key: str | None = None,
              handshake_key: str | None = None, signature_header: str | None = None,
              mappings: dict[str, str] | None = None, default_workflow: str | None = None,
              is_active: bool | None = None, sample_payload: dict | None = None,
              replace_mappings: bool = False, allow_unsigned: bool | None = None) -> FormstackConfig:
    """Create or change the org's intake set-up; with form_id, mappings and workflow apply to that form.
    Mappings are merged into the existing ones (the CLI adds one at a time) unless `replace_mappings`
    (the page's editor sends the whole table)."""
    require_role(actor, "admin")
    problems = validate_mappings(mappings or {})
    if problems:
        raise InvalidInput("field mapping: " + "; ".join(problems))
    with db.session(actor.org_id, user_id=actor.user_id) as session:
        config = session.scalar(select(FormstackConfig).with_for_update())
        if config is None:
            config = FormstackConfig(id=uuid.uuid4(), org_id=actor.org_id, field_mappings={}, form_settings={},
                                     signature_header="X-FS-Signature", is_active=True)
            session.add(config)
        workflow_id = None
        if default_workflow:
            from ..workflow.definitions import get_definition_row

            workflow_id = get_definition_row(session, default_workflow).id
        changed: list[str] = []
        if hmac_key is not None:
            config.webhook_secret, changed = hmac_key or None, changed + ["hmac_key"]
        if handshake_key is not None:
            config.handshake_key, changed = handshake_key or None, changed + ["handshake_key"]
        if signature_header:
            config.signature_header, changed = signature_header, changed + ["signature_header"]
        if is_active is not None:
            config.is_active, changed = is_active, changed + ["is_active"]
        if allow_unsigned is not None:
            config.allow_unsigned, changed = allow_unsigned, changed + ["allow_unsigned"]
        if sample_payload is not None:
            config.sample_payload, changed = sample_payload, changed + ["sample_payload"]
        if form_id:
            settings = dict(config.form_settings or {})
            entry = dict(settings.get(form_id, {}))
            if mappings is not None:
                base = {} if replace_mappings else entry.get("field_mappings", {})
                entry["field_mappings"] = {**base, **mappings}
            if workflow_id:
                entry["default_workflow_definition_id"] = str(workflow_id)
            settings[form_id] = entry
            config.form_settings, changed = settings, changed + [f"form {form_id}"]
        else:
            if mappings is not None:
                base = {} if replace_mappings else (config.field_mappings or {})
                config.field_mappings, changed = {**base, **mappings}, changed + ["mappings"]
            if workflow_id:
                config.default_workflow_definition_id, changed = workflow_id, changed + ["default_workflow"]
        session.flush()
        activity.record(session, entity_type="formstack_config", entity_id=config.id, action="intake_configured",
                        details={"changed": changed, "form_id": form_id})  # secrets are never logged
    forget_endpoint_cache()  # this server applies new secrets at once; others within ENDPOINT_CACHE_SECONDS
    return config


def accepts_unsigned(config: FormstackConfig | None) -> bool:
    """True when deliveries are accepted with no secret at all: the Intake page warns about it."""
    return bool(config and config.is_active and config.allow_unsigned and not config.webhook_secret
                and not config.handshake_key)


def mask(secret: str | None) -> str:
    if not secret:
        return "(not set)"
    return secret[:2] + "•" * max(4, len(secret) - 4) + secret[-2:] if len(secret) > 6 else "••••••"


def endpoint_path(db: Database, actor: Actor) -> str:
    with db.session(actor.org_id) as session:
        org = session.get(Organization, actor.org_id)
        return f"/api/intake/{org.intake_token}"


# --- receiving (the HTTP handler calls this) -----------------------------------------------------------------------
ENDPOINT_CACHE_SECONDS = 5.0
_endpoints: dict[str, tuple[float, str | None, VerificationSettings | None]] = {}


def _endpoint(db: Database, token: str) -> tuple[str | None, VerificationSettings | None]:
    """The org and its verification settings for a token (settings None: intake not configured or switched
    off), cached a few seconds: a burst of deliveries costs one lookup, and a changed secret applies within
    ENDPOINT_CACHE_SECONDS."""
    now = time.monotonic()
    cached = _endpoints.get(token)
    if cached and now - cached[0] < ENDPOINT_CACHE_SECONDS:
        return cached[1], cached[2]
    org_id = org_id_by_intake_token(db, token)
    settings = None
    if org_id is not None:
        with db.session(org_id) as session:
            config = session.scalar(select(FormstackConfig))
        # No configuration, or one switched off: no endpoint at all (404), so nothing is ever stored for it.
        if config is not None and config.is_active:
            settings = VerificationSettings(
                hmac_key=config.webhook_secret, handshake_key=config.handshake_key,
                signature_header=config.signature_header or "X-FS-Signature",
                allow_unsigned=bool(config.allow_unsigned))
    if len(_endpoints) > 10_000:  # unknown tokens from a scanner must not grow this forever
        _endpoints.clear()
    _endpoints[token] = (now, org_id, settings)
    return org_id, settings


def forget_endpoint_cache() -> None:
    _endpoints.clear()


def check_delivery(db: Database, token: str, body: bytes, headers: Mapping[str, str]
                   ) -> tuple[str, ParsedDelivery] | Receipt:
    """The org and the verified delivery, or the refusal to send back (404, 400, 401, 413)."""
    org_id, settings = _endpoint(db, token)
    if org_id is None or settings is None:
        return Receipt(404, {"ok": False, "reason": "unknown_endpoint", "message": "no intake endpoint at this URL"})
    try:
        return org_id, receive(body, headers, settings)
    except WebhookRejected as rejected:
        if rejected.status == 400:  # never stored: this line is all that is kept here (the sender keeps the body)
            log.warning("intake refused a delivery for %s: %s (%s)", org_id, rejected.reason, rejected)
        return Receipt(rejected.status, {"ok": False, "reason": rejected.reason, "message": str(rejected)})


def endpoint_is_cached(token: str) -> bool:
    cached = _endpoints.get(token)
    return bool(cached) and time.monotonic() - cached[0] < ENDPOINT_CACHE_SECONDS


def accepted(stored) -> Receipt:
    return Receipt(200, {"ok": True, "duplicate": stored.duplicate, "submission": stored.id})


def receive_delivery(db: Database, token: str, body: bytes, headers: Mapping[str, str]) -> Receipt:
    """Verify and store one delivery (its own transaction). Never raises for bad input: every outcome is a
    status and a reason. The HTTP endpoint does the same through the group-committing writer."""
    from .writer import store_batch

    checked = check_delivery(db, token, body, headers)
    if isinstance(checked, Receipt):
        return checked
    org_id, delivery = checked
    return accepted(store_batch(db, org_id, [delivery])[0])


def _json(value: Any) -> str:
    import json

    return json.dumps(value, default=str)


# --- processing (the scheduler calls this) ---------------------------------------------------------------------------
def process_pending(db: Database, org_id: str, limit: int = 50, now: datetime | None = None) -> int:
    """Process unprocessed submissions of one org; each in a savepoint so one failure stays alone."""
    done = 0
    while True:
        with db.session(org_id) as session:
            rows = session.scalars(select(FormstackSubmission).where(
                FormstackSubmission.processed.is_(False), FormstackSubmission.error.is_(None))
                .order_by(FormstackSubmission.created_at).limit(limit).with_for_update(skip_locked=True)).all()
            if not rows:
                return done
            config = session.scalar(select(FormstackConfig))
            for row in rows:
                try:
                    with session.begin_nested():
                        _process_one(session, config, row, now or utcnow())
                except Exception as exc:  # noqa: BLE001 - kept on the row, readable, for reprocessing
                    row.error = str(exc) if isinstance(exc, (InvalidInput, NotFound)) else f"{type(exc).__name__}: {exc}"
                    activity.record(session, entity_type="formstack_submission", entity_id=row.id,
                                    action="submission_failed", details={"error": row.error})
            done += len(rows)


class IntakeProblem(InvalidInput):
    pass


def _process_one(session: Session, config: FormstackConfig | None, row: FormstackSubmission, now: datetime) -> None:
    if config is None:
        raise IntakeProblem("no intake configuration: set field mappings and a default workflow on the Intake page")
    if not config.is_active:
        raise IntakeProblem("intake is switched off for this organization")
    form = (config.form_settings or {}).get(row.form_id, {})
    mappings = {**(config.field_mappings or {}), **form.get("field_mappings", {})}
    if not mappings:
        raise IntakeProblem(f"no field mapping for form {row.form_id}")
    mapped = map_fields(row.raw_payload, mappings)
    row.mapped = {"contact": mapped.contact, "metadata": mapped.metadata, "unmapped": sorted(mapped.unmapped)}
    if mapped.problems:
        raise IntakeProblem("; ".join(mapped.problems))
    workflow_id = form.get("default_workflow_definition_id") or config.default_workflow_definition_id
    if not workflow_id:
        raise IntakeProblem("no default workflow is set for this form")
    definition = session.get(WorkflowDefinition, uuid.UUID(str(workflow_id)))
    if definition is None:
        raise IntakeProblem("the default workflow no longer exists")
    if not definition.is_active:
        raise IntakeProblem(f"workflow {definition.name!r} is inactive")
    contact = _upsert_contact(session, mapped.contact, mapped.metadata, row)
    actor = Actor.system(row.org_id, label="formstack")
    execution = start_execution_in(session, actor, definition, contact.id, source="formstack",
                                   source_id=row.submission_id, run_now=True, now=now,
                                   variables={"trigger": {"form_id": row.form_id, "submission_id": row.submission_id,
                                                          "fields": row.raw_payload}})
    row.contact_id, row.workflow_execution_id = contact.id, execution.id
    row.processed, row.processed_at, row.error = True, now, None
    activity.record(session, entity_type="formstack_submission", entity_id=row.id, action="submission_processed",
                    contact_id=contact.id, workflow_execution_id=execution.id,
                    details={"form_id": row.form_id, "workflow": definition.name})


def _upsert_contact(session: Session, fields: dict[str, Any], metadata: dict[str, Any], row: FormstackSubmission
                    ) -> Contact:
    email = fields.get("email")
    contact = session.scalar(select(Contact).where(Contact.email_key == email.lower()).order_by(Contact.created_at)
                             .limit(1).with_for_update())
    values = {k: v for k, v in fields.items() if k in CONTACT_COLUMNS and v not in (None, "")}
    tags = fields.get("tags") or []
    if contact is None:
        if not values.get("first_name") or not values.get("last_name"):
            raise IntakeProblem("a new contact needs a first and last name: map the name fields")
        contact = Contact(id=uuid.uuid4(), org_id=row.org_id, tags=sorted(set(tags)), metadata_=metadata, **values)
        session.add(contact)
        session.flush()
        action = "created"
    else:
        for key, value in values.items():
            setattr(contact, key, value)
        contact.tags = sorted(set(contact.tags or []) | set(tags))
        contact.metadata_ = {**(contact.metadata_ or {}), **metadata}
        action = "updated"
    activity.record(session, entity_type="contact", entity_id=contact.id, action=action,
                    details={"source": "formstack", "submission_id": row.submission_id})
    return contact


# --- listing and reprocessing -------------------------------------------------------------------------------------------
def list_submissions(db: Database, actor: Actor, *, failed_only: bool = False, offset: int = 0, limit: int = 50
                     ) -> tuple[list[FormstackSubmission], int]:
    require_role(actor, "admin")
    with db.session(actor.org_id) as session:
        query = select(FormstackSubmission)
        if failed_only:
            query = query.where(FormstackSubmission.error.is_not(None))
        total = session.scalar(select(func.count()).select_from(query.subquery()))
        rows = session.scalars(query.order_by(FormstackSubmission.created_at.desc()).offset(offset).limit(limit)).all()
        return list(rows), total or 0


def reprocess(db: Database, actor: Actor, submission_ids: list[Any] | None = None, *, all_failed: bool = False) -> int:
    """Clear the error of failed submissions so the scheduler processes them again (after a fixed mapping)."""
    require_role(actor, "admin")
    if not all_failed and not submission_ids:
        raise InvalidInput("name submissions to reprocess, or choose all failed ones")
    with db.session(actor.org_id, user_id=actor.user_id) as session:
        condition = [FormstackSubmission.processed.is_(False), FormstackSubmission.error.is_not(None)]
        if not all_failed:
            ids = []
            for value in submission_ids or []:
                try:
                    ids.append(uuid.UUID(str(value)))
                except ValueError:
                    raise InvalidInput(f"{value!r} is not a submission id") from None
            condition.append(FormstackSubmission.id.in_(ids))
        reset = session.execute(update(FormstackSubmission).where(*condition).values(error=None)
                                .returning(FormstackSubmission.id)).scalars().all()
        for submission_id in reset:
            activity.record(session, entity_type="formstack_submission", entity_id=submission_id,
                            action="submission_reprocess_requested", details={"by": actor.label})
        if reset:
            wake(session)
        return len(reset)


def sample_fields(db: Database, actor: Actor) -> dict[str, Any]:
    """A payload to map from: the saved sample, else the latest submission received (secrets never stored)."""
    require_role(actor, "admin")
    with db.session(actor.org_id) as session:
        config = session.scalar(select(FormstackConfig))
        if config is not None and config.sample_payload:
            return dict(config.sample_payload)
        latest = session.scalar(select(FormstackSubmission.raw_payload)
                                .order_by(FormstackSubmission.created_at.desc()).limit(1))
        return {k: v for k, v in (latest or {}).items() if k not in ("FormID", "UniqueID")}
