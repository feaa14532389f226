"""Formstack intake over HTTP (the real route on a Starlette app) and its processing on the real DB."""
from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select, text
from starlette.applications import Starlette
from starlette.testclient import TestClient

from byte_core.demo import WORKFLOW_DIR
from byte_core.intake.http import routes
from byte_core.intake.service import configure, endpoint_path, list_submissions, process_pending, reprocess
from byte_core.intake.webhook import sign
from byte_core.models import Contact, FormstackSubmission, Task, WorkflowExecution
from byte_core.workflow.definitions import save_definition

HMAC_KEY = "s3cret-hmac"
HANDSHAKE = "shake-hands"
MAPPING = {"Email Address": "email", "12345": "first_name", "last_name": "last_name", "Phone": "phone",
           "Address": "address", "Interests": "tags", "Position": "metadata.position"}


@pytest.fixture
def client():
    return TestClient(Starlette(routes=routes), raise_server_exceptions=True)


@pytest.fixture
def intake(database, actor):
    save_definition(database, actor, json.loads((WORKFLOW_DIR / "application_review.json").read_text()))
    configure(database, actor, hmac_key=HMAC_KEY, handshake_key=HANDSHAKE, mappings=MAPPING,
              default_workflow="Application Review Workflow")
    return endpoint_path(database, actor)


def fields(unique_id: str = "sub-1", **extra) -> dict:
    return {"FormID": "777", "UniqueID": unique_id, "HandshakeKey": HANDSHAKE, "Email Address": "Ada@Example.org",
            "12345": "Ada", "last_name": "Lovelace", "Phone": "555-0100", "Position": "Analyst", **extra}


def post_form(client, path, data: dict, key: str | None = HMAC_KEY, header="X-FS-Signature"):
    body = urlencode(data).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if key:
        headers[header] = sign(body, key)
    return client.post(path, content=body, headers=headers)


def post_json(client, path, data: dict, key: str | None = HMAC_KEY):
    body = json.dumps(data).encode()
    headers = {"Content-Type": "application/json"}
    if key:
        headers["X-FS-Signature"] = sign(body, key)
    return client.post(path, content=body, headers=headers)


def stored(database, org_id) -> list[FormstackSubmission]:
    with database.session(org_id) as s:
        return list(s.scalars(select(FormstackSubmission)))


def test_urlencoded_delivery_becomes_a_running_execution_with_its_first_task(database, actor, client, intake):
    response = post_form(client, intake, fields())
    assert response.status_code == 200 and response.json()["duplicate"] is False
    [row] = stored(database, actor.org_id)
    assert "HandshakeKey" not in row.raw_payload and row.raw_payload["12345"] == "Ada"
    assert process_pending(database, actor.org_id) == 1
    with database.session(actor.org_id) as s:
        row = s.get(FormstackSubmission, row.id)
        execution = s.get(WorkflowExecution, row.workflow_execution_id)
        contact = s.get(Contact, row.contact_id)
        task = s.scalar(select(Task).where(Task.workflow_execution_id == execution.id))
    assert row.processed and row.error is None
    assert (contact.email, contact.first_name, contact.metadata_["position"]) == ("ada@example.org", "Ada", "Analyst")
    assert execution.source == "formstack" and execution.current_step_id == "step_3"
    assert task.assigned_role == "reviewer" and task.status == "todo"
    assert execution.variables["trigger"]["submission_id"] == "sub-1"


def test_json_delivery_with_nested_name_and_address(database, actor, client, intake):
    configure(database, actor, form_id="888", mappings={"Full Name": "name"})
    data = {"FormID": "888", "UniqueID": "json-1", "HandshakeKey": HANDSHAKE, "Email Address": "grace@example.org",
            "Full Name": {"first": "Grace", "last": "Hopper"},
            "Address": {"address": "1 Navy Way", "city": "Arlington", "state": "VA", "zip": "22201"},
            "Interests": ["cobol", "ships"]}
    assert post_json(client, intake, data).status_code == 200
    process_pending(database, actor.org_id)
    with database.session(actor.org_id) as s:
        contact = s.scalar(select(Contact).where(Contact.email == "grace@example.org"))
    assert (contact.first_name, contact.last_name, contact.city, contact.zip) == ("Grace", "Hopper", "Arlington", "22201")
    assert contact.tags == ["cobol", "ships"]


def test_duplicate_unique_id_is_acknowledged_and_stored_once(database, actor, client, intake):
    for _ in range(3):
        assert post_form(client, intake, fields("dup-1")).status_code == 200
    assert post_form(client, intake, fields("dup-1")).json()["duplicate"] is True
    [row] = stored(database, actor.org_id)
    assert row.duplicate_count == 3
    process_pending(database, actor.org_id)
    process_pending(database, actor.org_id)
    with database.session(actor.org_id) as s:
        assert s.scalar(select(func.count()).select_from(WorkflowExecution)) == 1


@pytest.mark.parametrize("mutate, status, reason", [
    (lambda body, headers: headers.pop("X-FS-Signature"), 401, "bad_signature"),
    (lambda body, headers: headers.update({"X-FS-Signature": sign(b"other", HMAC_KEY)}), 401, "bad_signature"),
    (lambda body, headers: headers.update({"X-FS-Signature": sign(body, "wrong-key")}), 401, "bad_signature"),
])
def test_bad_signatures_are_refused_and_nothing_is_stored(database, actor, client, intake, mutate, status, reason):
    body = urlencode(fields()).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-FS-Signature": sign(body, HMAC_KEY)}
    mutate(body, headers)
    response = client.post(intake, content=body, headers=headers)
    assert (response.status_code, response.json()["reason"]) == (status, reason)
    assert stored(database, actor.org_id) == []


def test_signature_covers_raw_bytes_not_reserialised_json(database, actor, client, intake):
    data = fields("raw-1")
    signed_body = json.dumps(data).encode()
    sent_body = json.dumps(data, indent=2).encode()  # same JSON, other bytes
    response = client.post(intake, content=sent_body, headers={"Content-Type": "application/json",
                                                               "X-FS-Signature": sign(signed_body, HMAC_KEY)})
    assert response.status_code == 401


def test_wrong_handshake_is_refused(database, actor, client, intake):
    response = post_form(client, intake, fields(HandshakeKey="nope"))
    assert (response.status_code, response.json()["reason"]) == (401, "bad_handshake")
    assert stored(database, actor.org_id) == []


def test_custom_signature_header(database, actor, client, intake):
    configure(database, actor, signature_header="X-Custom-Sig")
    assert post_form(client, intake, fields("c-1"), header="X-Custom-Sig").status_code == 200
    assert post_form(client, intake, fields("c-2")).status_code == 401


@pytest.mark.parametrize("body, content_type, status, reason", [
    (b"{not json", "application/json", 400, "malformed_body"),
    (b"[1, 2]", "application/json", 400, "malformed_body"),
    (b"FormID=777&HandshakeKey=shake-hands", "application/x-www-form-urlencoded", 400, "missing_unique_id"),
    (b"UniqueID=1&HandshakeKey=shake-hands", "application/x-www-form-urlencoded", 400, "missing_form_id"),
    (b"<xml/>", "text/xml", 415, "unsupported_media_type"),
])
def test_malformed_requests(database, actor, client, intake, body, content_type, status, reason):
    response = client.post(intake, content=body, headers={"Content-Type": content_type,
                                                          "X-FS-Signature": sign(body, HMAC_KEY)})
    assert (response.status_code, response.json()["reason"]) == (status, reason)


def test_oversized_and_unknown_org(database, actor, client, intake):
    big = b"a=" + b"x" * (1024 * 1024 + 10)
    response = client.post(intake, content=big, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert (response.status_code, response.json()["reason"]) == (413, "payload_too_large")
    unknown = client.post("/api/intake/not-a-token", content=b"FormID=1&UniqueID=2")
    assert (unknown.status_code, unknown.json()["reason"]) == (404, "unknown_endpoint")


def test_failed_mapping_is_kept_with_a_readable_error_then_reprocessed(database, actor, client, intake):
    data = fields("late-1")
    data["E-mail"] = data.pop("Email Address")  # a form field the mapping does not know yet
    assert post_form(client, intake, data).status_code == 200
    process_pending(database, actor.org_id)
    [row] = stored(database, actor.org_id)
    assert row.processed is False and "no email address" in row.error
    failed, total = list_submissions(database, actor, failed_only=True)
    assert total == 1 and failed[0].id == row.id
    configure(database, actor, mappings={"E-mail": "email"})
    assert reprocess(database, actor, all_failed=True) == 1
    process_pending(database, actor.org_id)
    [row] = stored(database, actor.org_id)
    assert row.processed is True and row.error is None and row.workflow_execution_id is not None


def test_existing_contact_is_updated_not_duplicated(database, actor, client, intake):
    with database.session(actor.org_id) as s:
        s.add(Contact(org_id=actor.org_id, first_name="Ada", last_name="Old", email="ada@example.org", tags=["vip"]))
    post_form(client, intake, fields("again-1", Interests="math"))
    process_pending(database, actor.org_id)
    with database.session(actor.org_id) as s:
        contacts = s.scalars(select(Contact)).all()
    assert len(contacts) == 1 and contacts[0].last_name == "Lovelace" and contacts[0].tags == ["math", "vip"]


def test_inactive_workflow_fails_readably(database, actor, client, intake):
    from byte_core.workflow.definitions import set_active

    set_active(database, actor, "Application Review Workflow", False)
    post_form(client, intake, fields("inactive-1"))
    process_pending(database, actor.org_id)
    [row] = stored(database, actor.org_id)
    assert row.processed is False and "inactive" in row.error


def test_group_commit_counts_repeats_inside_one_batch_like_separate_deliveries(database, actor, intake):
    from byte_core.intake.webhook import ParsedDelivery
    from byte_core.intake.writer import store_batch

    def delivery(unique: str) -> ParsedDelivery:
        return ParsedDelivery(form_id="555", unique_id=unique, payload={"FormID": "555", "UniqueID": unique})

    answers = store_batch(database, actor.org_id, [delivery("a"), delivery("b"), delivery("a"), delivery("a")])
    assert [a.duplicate for a in answers] == [False, False, True, True]
    assert answers[0].id == answers[2].id == answers[3].id != answers[1].id
    again = store_batch(database, actor.org_id, [delivery("a")])
    assert again[0].duplicate and again[0].id == answers[0].id
    with database.session(actor.org_id) as session:
        counts = dict(session.execute(text(
            "SELECT submission_id, duplicate_count FROM formstack_submissions WHERE form_id = '555'")).all())
        audited = session.scalar(text("SELECT count(*) FROM activity_log WHERE action = 'submission_received' "
                                      "AND details->>'form_id' = '555'"))
    assert counts == {"a": 3, "b": 0} and audited == 2


def test_concurrent_posts_through_the_writer_are_stored_once_each(database, actor, client, intake):
    from concurrent.futures import ThreadPoolExecutor

    deliveries = [fields(f"c{i % 40}", FormID="556") for i in range(120)]
    with ThreadPoolExecutor(12) as pool:
        responses = list(pool.map(lambda data: post_form(client, intake, data), deliveries))
    assert all(r.status_code == 200 for r in responses)
    assert sum(not r.json()["duplicate"] for r in responses) == 40
    with database.session(actor.org_id) as session:
        rows, repeats = session.execute(text(
            "SELECT count(*), sum(duplicate_count) FROM formstack_submissions WHERE form_id = '556'")).one()
    assert (rows, repeats) == (40, 80)
