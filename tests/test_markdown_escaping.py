"""User text is never Markdown (issue [C] 8): an organization whose every user-typed field holds links, images,
emphasis, HTML and Streamlit directives is rendered page by page (dialogs and detail views included), and no
element that renders Markdown carries a live link, image or formatting from those values."""
from __future__ import annotations

import json
import re
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest
from google.protobuf.json_format import MessageToDict
from streamlit.testing.v1 import AppTest

from byte_core.access import Actor
from byte_core.demo import WORKFLOW_DIR
from tests.conftest import new_org

APP = str(Path(__file__).resolve().parents[1] / "app.py")
HOSTILE = "[Verify](https://evil.example/login) ![x](https://evil.example/i.png) **b** <img src=x> :red[a]"
# A valid address (no spaces, one @) that is also Markdown: the signed-in admin's own email.
HOSTILE_EMAIL = "[v](https://evil.example/l)**b**:red[a]@evil.example"
# What an unescaped HOSTILE value leaves in a Markdown body (compared case-insensitively: titles capitalise).
LIVE_MARKUP = [re.compile(p, re.I) for p in (r"\]\(https://evil", r"!\[x\]", r"\*\*b\*\*", r"(?<!\\)<img",
                                             r"(?<!\\):red\[")]
# GFM turns a bare URL into a link after escapes are resolved: checked on the text a person would read.
AUTOLINK = re.compile(r"(https?://|www\.)evil", re.I)
# Elements whose text is shown as is (tables, JSON, code): hostile text there is data, not markup.
LITERAL_TYPES = {"json", "code", "arrow_data_frame", "dataframe", "text", "plotly_chart", "graphviz_chart",
                 "arrow_table", "data_editor", "selectbox", "multiselect", "text_input", "text_area"}
MARKDOWN_FIELDS = {"body", "label", "text", "help", "title", "content", "caption"}


@pytest.fixture(scope="module")
def hostile_org(database):
    """One organization in which every kind of user field holds HOSTILE."""
    from byte_core.contacts import save_contact
    from byte_core.intake.service import configure, process_pending
    from byte_core.intake.webhook import ParsedDelivery
    from byte_core.intake.writer import store_batch
    from byte_core.notes import add_note
    from byte_core.task_queue import task_queue
    from byte_core.users import add_user
    from byte_core.workflow.definitions import save_definition
    from byte_core.workflow.runner import drain_org
    from byte_core.workflow.commands import change_status, decide_on_behalf, start_execution

    org = new_org(database, "md")
    system = Actor.system(org.id, "setup")
    admin_user = add_user(database, system, HOSTILE_EMAIL, ["admin"], password="long-enough-password",
                          first_name=HOSTILE, last_name=HOSTILE, password_rounds=4)
    admin = Actor(org.id, admin_user.id, frozenset({"admin"}), admin_user.email)

    definition = json.loads((WORKFLOW_DIR / "application_review.json").read_text())
    definition["name"] = "Review " + HOSTILE
    definition["description"] = HOSTILE
    for phase in definition["phases"]:
        phase["name"] = HOSTILE + " " + phase["id"]
    for step in definition["steps"]:
        step["name"] = HOSTILE + " " + step["id"]
        config = step["config"]
        if "description" in config:
            config["description"] = HOSTILE
        if "approval_options" in config:
            # labels are at most 60 characters: the shorter attack still carries a link, emphasis and a directive
            config["approval_options"].update(approve_label="Yes [v](https://evil.example/l) **b** :red[a]",
                                              reject_label="No [v](https://evil.example/l) **b** :red[a]")
    save_definition(database, admin, definition)

    fields = {"first_name": HOSTILE, "last_name": HOSTILE, "email": "evil@example.org", "city": HOSTILE,
              "state": HOSTILE, "tags": HOSTILE.replace(",", " ")}
    contact = save_contact(database, admin, fields)
    other = save_contact(database, admin, {**fields, "email": "evil2@example.org"})
    running = start_execution(database, admin, definition["name"], str(contact.id))
    paused = start_execution(database, admin, definition["name"], str(other.id))
    review = next(r for r in task_queue(database, admin, "reviewer", limit=50).rows
                  if r.workflow and r.title.endswith(HOSTILE) and r.id)
    decide_on_behalf(database, admin, review.id, outcome="completed", comment=HOSTILE)
    drain_org(database, org.id)  # on to the manager's approval
    change_status(database, admin, paused.id, "pause", HOSTILE)
    add_note(database, admin, "workflow_execution", running.id, HOSTILE + "\nsecond line " + HOSTILE)
    add_note(database, admin, "contact", contact.id, HOSTILE)

    configure(database, admin, hmac_key="k", mappings={"Email Address": "email", "Name": "first_name"},
              default_workflow=definition["name"], sample_payload={"Email Address": HOSTILE, HOSTILE: HOSTILE})
    store_batch(database, org.id, [ParsedDelivery("77", HOSTILE[:60], {"FormID": "77", "UniqueID": HOSTILE[:60],
                                                                        "Email Address": HOSTILE, "Name": HOSTILE})])
    process_pending(database, org.id)  # fails: the error quotes the hostile email value
    return {"org": org.id, "email": admin_user.email, "contact": contact.id, "running": running.id,
            "paused": paused.id}


def signed_in(database, email: str) -> AppTest:
    """The app as after the password form: a live session row in session state."""
    from sqlalchemy import func, select

    from byte_core.auth.sessions import open_session, session_actor
    from byte_core.models import User

    now = datetime.now(timezone.utc)
    with database.session(None, login_email=email) as session:
        user = session.scalar(select(User).where(func.lower(User.email) == email.lower()))
    with database.session(user.org_id, user_id=user.id) as session:
        issued = open_session(session, session.get(User, user.id), ip=None, user_agent="test", now=now)
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["actor"] = session_actor(database, user.org_id, issued.id)
    at.session_state["session_id"] = issued.id
    at.run()
    assert not at.exception, at.exception
    return at


def _nodes(node):
    yield node
    for child in getattr(node, "children", {}).values():
        yield from _nodes(child)


def _strings(value, key=None):
    if isinstance(value, dict):
        for name, item in value.items():
            yield from _strings(item, name)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item, key)
    elif isinstance(value, str) and key in MARKDOWN_FIELDS:
        yield value


def _all_strings(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from _all_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _all_strings(item)
    elif isinstance(value, str):
        yield value


def live_markup(at: AppTest) -> list[str]:
    """Every Markdown-rendered string on the page (bodies, labels, help, titles, tab and expander labels)
    that still carries a link, image, emphasis, tag or directive from HOSTILE; and chart labels with raw HTML."""
    found = []
    for node in _nodes(at._tree):
        kind = getattr(node, "type", "")
        proto = getattr(node, "proto", None)
        if kind == "plotly_chart":  # Plotly draws HTML tags in labels: user text must arrive escaped
            found += [f"plotly_chart: {text[:160]}" for text in _all_strings(json.loads(proto.spec))
                      if re.search(r"<(a|b|img)\b", text, re.I) and "evil" in text]
            continue
        if proto is None or kind in LITERAL_TYPES:
            continue
        for text in _strings(MessageToDict(proto)):
            if any(p.search(text) for p in LIVE_MARKUP) or AUTOLINK.search(re.sub(r"\\(.)", r"\1", text)):
                found.append(f"{kind}: {text[:160]}")
    return found


def rendered(at: AppTest, where: str) -> list[str]:
    assert not at.exception, (where, at.exception)
    return [f"{where} · {item}" for item in live_markup(at)]


def test_hostile_values_render_as_text_on_every_page(database, hostile_org):
    from pages._registry import pages_for

    at = signed_in(database, hostile_org["email"])
    problems = rendered(at, "home")
    seen_hostile = 0
    for spec in pages_for(frozenset({"admin"})):
        at.switch_page(f"pages/{spec.file}")
        at.run()
        problems += rendered(at, spec.file)
        seen_hostile += sum("evil" in str(MessageToDict(n.proto)) for n in _nodes(at._tree)
                            if getattr(n, "proto", None) is not None)

    # Detail views and dialogs
    at.switch_page("pages/contacts.py")
    at.query_params["contact"] = str(hostile_org["contact"])
    at.run()
    problems += rendered(at, "contact detail")
    assert any("evil" in t.value for t in at.title), "the hostile contact's page did not render"
    at.query_params.pop("contact", None)

    for key in ("running", "paused"):
        at.switch_page("pages/executions.py")
        at.query_params["execution"] = str(hostile_org[key])
        at.run()
        problems += rendered(at, f"execution detail ({key})")
        at.query_params.pop("execution", None)

    at.switch_page("pages/tasks.py")
    at.run()
    at.segmented_control(key="tq_queue").set_value("manager").run()
    problems += rendered(at, "manager queue")
    at.button(key="tq_approve").click().run()
    problems += rendered(at, "approve refused (an admin decides only on behalf)")
    at.segmented_control(key="tq_queue").set_value("reviewer").run()
    problems += rendered(at, "reviewer queue (the paused execution's task)")

    at.switch_page("pages/users.py")
    at.run()
    at.selectbox(key="users_target").select(hostile_org["email"]).run()
    at.button(key="users_revoke").click().run()
    problems += rendered(at, "users confirm dialog")

    assert seen_hostile, "no page showed the hostile values at all: the test would prove nothing"
    assert not problems, "\n".join(problems)


def test_the_scanner_finds_unescaped_markup():
    """The check itself: raw hostile text in a Markdown element is reported, escaped text is not."""
    from byte_core.text import md_escape

    script = (f"import streamlit as st\nst.markdown({HOSTILE!r})\nst.caption({md_escape(HOSTILE)!r})\n"
              f"st.button({HOSTILE!r})\nst.dataframe({{'a': [{HOSTILE!r}]}})")
    at = AppTest.from_string(script).run()
    found = live_markup(at)
    assert len(found) == 2 and {f.split(":")[0] for f in found} == {"markdown", "button"}, found
