"""Intake under attack (issue [C] 11-13): deliveries that can never be stored are refused with 400 before the
group commit and never fail their neighbours; no endpoint without an active configuration; unsigned only by
an admin's choice; a body that trickles in is cut off with 408."""
from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from byte_core.access import Actor
from byte_core.intake.service import configure, endpoint_path
from byte_core.intake.webhook import MAX_FIELDS, ParsedDelivery, sign
from byte_core.intake.writer import Stored, store_isolated
from tests.conftest import new_org
from tests.test_intake import HMAC_KEY, client, fields, intake, post_form, stored  # noqa: F401 - fixtures


def post_raw_json(client, path, raw: str | bytes):
    body = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    return client.post(path, content=body, headers={"Content-Type": "application/json",
                                                    "X-FS-Signature": sign(body, HMAC_KEY)})


def good_json(unique_id: str, **extra) -> str:
    return json.dumps({**fields(unique_id), **extra})


def deep(levels: int) -> dict:
    value: dict = {"leaf": "x"}
    for _ in range(levels - 1):
        value = {"n": value}
    return value


# Each one correctly signed, each one something PostgreSQL could never store (or we will not keep).
POISON = {
    "json_nul_escape": (good_json("p-nul")[:-1] + ', "note": "a\\u0000b"}', "nul_character"),
    "json_nul_in_key": (good_json("p-nulkey")[:-1] + ', "k\\u0000": "v"}', "nul_character"),
    "json_nan": (good_json("p-nan")[:-1] + ', "score": NaN}', "invalid_number"),
    "json_infinity": (good_json("p-inf")[:-1] + ', "score": -Infinity}', "invalid_number"),
    "json_overflowing_float": (good_json("p-big")[:-1] + ', "score": 1e999}', "invalid_number"),
    "json_lone_surrogate": (good_json("p-sur")[:-1] + ', "note": "\\ud800"}', "invalid_unicode"),
    "json_invalid_utf8": (good_json("p-utf")[:-1].encode() + b', "note": "\xff\xfe"}', "malformed_body"),
    "json_long_unique_id": (good_json("u" * 300_000), "id_too_long"),
    "json_too_deep": (good_json("p-deep", nested=deep(40)), "too_deep"),
    "json_too_many_fields": (good_json("p-many", **{f"f{i}": i for i in range(MAX_FIELDS + 1)}), "too_many_fields"),
}


@pytest.mark.parametrize("name", sorted(POISON))
def test_unstorable_json_is_refused_with_a_reason_and_nothing_is_stored(database, actor, client, intake, name):
    raw, reason = POISON[name]
    response = post_raw_json(client, intake, raw)
    assert (response.status_code, response.json()["reason"]) == (400, reason)
    assert stored(database, actor.org_id) == []


@pytest.mark.parametrize("value, reason", [
    ("a\x00b", "nul_character"),
    ("%FF%FE", "invalid_unicode"),  # percent-encoded bytes that are not UTF-8
])
def test_unstorable_form_fields_are_refused(database, actor, client, intake, value, reason):
    body = (urlencode(fields("form-poison")) + "&note=" + (value if "%" in value else value.replace("\x00", "%00")))
    response = client.post(intake, content=body.encode(), headers={
        "Content-Type": "application/x-www-form-urlencoded", "X-FS-Signature": sign(body.encode(), HMAC_KEY)})
    assert (response.status_code, response.json()["reason"]) == (400, reason)
    assert stored(database, actor.org_id) == []


def test_too_many_form_fields_are_refused(database, actor, client, intake):
    data = {**fields("form-many"), **{f"f{i}": "x" for i in range(MAX_FIELDS + 1)}}
    response = post_form(client, intake, data)
    assert (response.status_code, response.json()["reason"]) == (400, "too_many_fields")


def test_one_poisoned_delivery_among_many_concurrent_good_ones(database, actor, client, intake):
    """Through the real route and the group-committing writer: every good delivery is acknowledged and stored,
    each poisoned one gets 400 and is not kept (the sender keeps it: Formstack's webhook log)."""
    goods = [("good", good_json(f"g{i}", FormID="901")) for i in range(120)]
    poisons = [("bad", POISON[name][0]) for name in ("json_nul_escape", "json_nan", "json_lone_surrogate",
                                                      "json_long_unique_id")]
    deliveries = goods[:40] + poisons[:2] + goods[40:80] + poisons[2:] + goods[80:]
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda d: (d[0], post_raw_json(client, intake, d[1])), deliveries))
    assert [r.status_code for kind, r in answers if kind == "good"] == [200] * 120
    assert [r.status_code for kind, r in answers if kind == "bad"] == [400] * 4
    with database.session(actor.org_id) as s:
        kept = s.execute(text("SELECT count(*) FROM formstack_submissions WHERE form_id = '901'")).scalar_one()
        total = s.execute(text("SELECT count(*) FROM formstack_submissions")).scalar_one()
    assert kept == 120 and total == 120


def test_a_row_the_database_refuses_inside_a_batch_fails_alone(database, actor):
    """Should a delivery the checks did not foresee reach the group commit, the batch is retried row by row:
    the others are stored and acknowledged, only that one fails."""
    def delivery(unique: str, **extra) -> ParsedDelivery:
        return ParsedDelivery("902", unique, {"FormID": "902", "UniqueID": unique, **extra})

    batch = [delivery("ok-1"), delivery("poison", note="a\x00b"), delivery("ok-2")]  # NUL: bypassed the checks
    answers = store_isolated(database, actor.org_id, batch)
    assert isinstance(answers[0], Stored) and isinstance(answers[2], Stored)
    assert isinstance(answers[1], Exception)
    with database.session(actor.org_id) as s:
        kept = set(s.execute(text("SELECT submission_id FROM formstack_submissions WHERE form_id = '902'")).scalars())
    assert kept == {"ok-1", "ok-2"}


# --- item 12: no endpoint without an active configuration; unsigned only when chosen --------------------------------
def test_org_without_intake_configured_has_no_endpoint(database, client):
    bare = Actor.system(new_org(database, "noint").id)
    body = urlencode(fields("unconfigured-1")).encode()
    response = client.post(endpoint_path(database, bare), content=body,
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert (response.status_code, response.json()["reason"]) == (404, "unknown_endpoint")
    assert stored(database, bare.org_id) == []


def test_switched_off_intake_answers_404_and_stores_nothing(database, actor, client, intake):
    configure(database, actor, is_active=False)
    response = post_form(client, intake, fields("off-1"))
    assert (response.status_code, response.json()["reason"]) == (404, "unknown_endpoint")
    assert stored(database, actor.org_id) == []


def test_configured_without_secret_needs_the_explicit_allow_unsigned_choice(database, client):
    admin = Actor.system(new_org(database, "unsig").id)
    configure(database, admin, mappings={"Email Address": "email"})  # configured, but no secret at all
    path = endpoint_path(database, admin)
    data = {k: v for k, v in fields("unsigned-1").items() if k != "HandshakeKey"}
    refused = post_form(client, path, data, key=None)
    assert (refused.status_code, refused.json()["reason"]) == (401, "unsigned_not_allowed")
    assert stored(database, admin.org_id) == []

    slug = admin.org_id.removeprefix("org_").replace("_", "-")
    result = CliRunner().invoke(__import__("byte_core.cli", fromlist=["cli"]).cli,
                                ["intake", "configure", "--allow-unsigned", "--org", slug, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["allow_unsigned"] is True
    from byte_core.intake.service import forget_endpoint_cache

    forget_endpoint_cache()  # the CLI ran in this process, but as if it were another: drop this server's cache
    assert post_form(client, path, data, key=None).status_code == 200


# --- item 13: body read timeout -------------------------------------------------------------------------------------
@pytest.fixture
def live_server(database, monkeypatch):
    """The intake routes on a real uvicorn server on loopback, so a client can send its body slowly."""
    import uvicorn

    from byte_core.intake import http

    monkeypatch.setattr(http, "BODY_TIMEOUT_SECONDS", 0.5)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(http.standalone_app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield port
    server.should_exit = True
    thread.join(timeout=5)


def test_a_body_that_trickles_in_is_cut_off_with_408(live_server, intake):
    with socket.create_connection(("127.0.0.1", live_server), timeout=5) as conn:
        conn.sendall((f"POST {intake} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                      "Content-Length: 1000\r\n\r\n{\"FormID\": ").encode())
        started = time.monotonic()
        response = b""  # the client sends nothing more: the server must answer anyway
        while b"}" not in response.partition(b"\r\n\r\n")[2]:
            chunk = conn.recv(4096)
            if not chunk:
                break
            response += chunk
        waited = time.monotonic() - started
    response = response.decode()
    assert response.startswith("HTTP/1.1 408") and "body_timeout" in response
    assert waited < 4


def test_intake_page_offers_unsigned_as_a_checkbox_and_warns_when_it_is_on(database):
    from byte_core.users import add_user
    from tests.test_markdown_escaping import signed_in

    admin = Actor.system(new_org(database, "unsig-page").id)
    email = f"admin-{uuid.uuid4().hex[:8]}@example.com"
    add_user(database, admin, email, ["admin"], password="long-enough-password", password_rounds=4)
    configure(database, admin, mappings={"Email Address": "email"})
    at = signed_in(database, email)
    at.switch_page("pages/intake.py")
    at.run()
    assert any("every delivery is refused" in w.value for w in at.warning), [w.value for w in at.warning]
    at.checkbox(key="intake_allow_unsigned").check()
    next(b for b in at.button if b.label == "Save set-up").click().run()
    assert not at.exception
    assert any("Unsigned deliveries are accepted" in w.value for w in at.warning), [w.value for w in at.warning]
    from byte_core.intake.service import get_config

    assert get_config(database, admin).allow_unsigned is True
