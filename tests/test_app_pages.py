"""Every page under AppTest, signed in as each role; navigation by role; login failures."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from byte_core.demo import DEMO_USERS, seed_demo

APP = str(Path(__file__).resolve().parents[1] / "app.py")
ROLE_PASSWORD = {roles[0]: (email, password) for email, roles, password, *_ in DEMO_USERS}


@pytest.fixture(scope="module")
def demo(database):
    return seed_demo(database, password_rounds=4)


def signed_in(role: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    at.run()
    email, password = ROLE_PASSWORD[role]
    at.text_input[0].input(email)
    at.text_input[1].input(password)
    at.button[0].click()
    at.run()
    assert not at.exception, at.exception
    return at


def test_login_form_and_wrong_password(demo):
    at = AppTest.from_file(APP, default_timeout=30)
    at.run()
    assert at.title[0].value == "BYTE Dashboard" and at.subheader[0].value == "Sign in"
    at.text_input[0].input("admin@demo.example.com")
    at.text_input[1].input("wrong-password-x")
    at.button[0].click()
    at.run()
    assert "Email or password is incorrect." in at.error[0].value


def test_home_for_each_role(demo):
    for role in ("admin", "manager", "reviewer", "hr"):
        at = signed_in(role)
        assert at.title[0].value.startswith("Welcome"), role
        assert [m.label for m in at.metric][:2] == ["Tasks I hold", "Waiting in my roles' queues"]


def shown(markdown: str) -> str:
    """The text a person reads: messages are escaped for Markdown (byte_core.text.md_escape)."""
    return re.sub(r"\\(.)", r"\1", markdown)


def open_page(at: AppTest, file: str) -> AppTest:
    at.switch_page(f"pages/{file}")
    at.run()
    assert not at.exception, (file, at.exception)
    return at


@pytest.mark.parametrize("role", ["admin", "manager", "reviewer", "hr"])
def test_every_page_of_each_role_renders(demo, role):
    from pages._registry import PAGES, pages_for

    at = signed_in(role)
    allowed = pages_for(frozenset({role}))
    assert {p.file for p in allowed} == {p.file for p in PAGES if role in p.roles}
    for spec in allowed:
        open_page(at, spec.file)
        assert at.title, spec.file
        errors = [e.value for e in at.error if not e.value.startswith("No scheduler has reported")]
        assert not errors, (spec.file, errors)


@pytest.mark.parametrize("file", ["workflows.py", "users.py", "intake.py", "analytics.py", "activity.py"])
def test_reviewer_cannot_open_restricted_pages(demo, file):
    """The page is not registered in a reviewer's navigation, so no URL reaches it (the browser test checks
    the URL itself); the services behind it refuse a reviewer too."""
    at = signed_in("reviewer")
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page(f"pages/{file}")


def test_services_behind_admin_pages_refuse_a_reviewer(demo, database):
    from byte_core.activity import ActivityFilter, search
    from byte_core.errors import PermissionDenied
    from byte_core.intake.service import list_submissions
    from byte_core.users import list_users
    from byte_core.workflow.definitions import save_definition

    reviewer = next(u for u in demo_actors(database) if u.roles == frozenset({"reviewer"}))
    for call in (lambda: list_users(database, reviewer), lambda: list_submissions(database, reviewer),
                 lambda: search(database, reviewer, ActivityFilter()),
                 lambda: save_definition(database, reviewer, {"name": "x"})):
        with pytest.raises(PermissionDenied):
            call()


def demo_actors(database):
    from byte_core.access import Actor
    from byte_core.auth.login import actor_of
    from byte_core.demo import DEMO_SLUG
    from byte_core.orgs import get_org
    from byte_core.users import list_users

    demo_emails = {email for email, *_ in DEMO_USERS}
    users = list_users(database, Actor.system(get_org(database, DEMO_SLUG).id))
    return [actor_of(u) for u in users if u.email in demo_emails]


def type_json(at: AppTest, text: str) -> AppTest:
    """What the JSON tab's code editor sends when someone types there (the component itself is not drawn by
    AppTest): a new event id with the editor's text."""
    choice = at.session_state["wf_choice"]
    name = "" if choice.startswith("➕") else choice
    key = f"wf_json_{name}_{at.session_state['wf_drafts'][name]['editor_rev']}"
    at.session_state[key] = {"id": f"edit-{text.__hash__()}", "type": "change", "text": text, "lang": "json",
                             "selected": "", "cursor": ""}
    return at.run()


def test_admin_sees_every_validation_error_then_saves_a_new_version(demo):
    import json

    at = open_page(signed_in("admin"), "workflows.py")
    at.selectbox(key="wf_choice").select("Volunteer Background Check").run()
    data = at.session_state["wf_drafts"]["Volunteer Background Check"]["draft"]
    data = json.loads(json.dumps(data))
    broken = json.loads(json.dumps(data))
    broken["steps"][1]["type"] = "teleport"
    broken["steps"].append(dict(broken["steps"][0], id=broken["steps"][0]["id"]))
    type_json(at, json.dumps(broken))
    at.button(key="wf_save").click().run()
    assert any(e.value.startswith("Not saved") for e in at.error)
    problems = next(d.value for d in at.dataframe if "problem" in d.value.columns)
    assert {"step", "field", "problem"} <= set(problems.columns)
    assert broken["steps"][1]["id"] in set(problems["step"]) and "type" in set(problems["field"])
    assert any("duplicate" in p for p in problems["problem"])

    data["description"] = "Checked before volunteers start (edited in a test)"
    type_json(at, json.dumps(data))
    at.button(key="wf_save").click().run()
    assert not at.exception
    assert any("as version" in s.value for s in at.success), [s.value for s in at.success]


def test_reviewer_claims_a_task_from_the_role_queue(demo, database):
    from byte_core.task_queue import task_queue

    at = open_page(signed_in("reviewer"), "tasks.py")
    at.segmented_control(key="tq_queue").set_value("reviewer").run()
    assert not at.exception
    task_id = at.session_state["tq_open"]  # the first task of the queue opens by itself
    at.button(key="tq_claim").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    reviewer = next(a for a in demo_actors(database) if a.roles == frozenset({"reviewer"}))
    mine = task_queue(database, reviewer, "mine", limit=500).rows
    assert task_id in {r.id for r in mine}
    title = next(r.title for r in mine if r.id == task_id)
    at.segmented_control(key="tq_queue").set_value("mine").run()
    assert title in set(at.dataframe[0].value["title"])


def test_contact_is_created_with_validation_and_found_by_search(demo):
    at = open_page(signed_in("hr"), "contacts.py")
    form_inputs = {t.label: t for t in at.text_input}
    form_inputs["First name *"].input("Ada")
    form_inputs["Last name *"].input("Lovelace")
    form_inputs["Email"].input("not-an-email")
    submit = next(b for b in at.button if b.label == "Create contact")
    submit.click().run()
    assert any("email 'not-an-email' is not valid" in shown(e.value) for e in at.error), [e.value for e in at.error]
    form_inputs = {t.label: t for t in at.text_input}
    # Nothing typed is lost on a validation error.
    assert (form_inputs["First name *"].value, form_inputs["Last name *"].value, form_inputs["Email"].value) == \
        ("Ada", "Lovelace", "not-an-email")
    form_inputs["First name *"].input("Ada")
    form_inputs["Last name *"].input("Lovelace")
    form_inputs["Email"].input("ada.lovelace@example.org")
    form_inputs["Tags (comma separated)"].input("vip, math")
    next(b for b in at.button if b.label == "Create contact").click().run()
    assert any("Saved Ada Lovelace" in s.value for s in at.success)
    assert any("Saved Ada Lovelace" in t.value for t in at.toast)
    assert {t.label: t.value for t in at.text_input}["First name *"] == ""  # a fresh form for the next one
    at.text_input(key="contacts_q").input("lovelace").run()
    assert list(at.dataframe[0].value["email"]) == ["ada.lovelace@example.org"]


def test_admin_invites_a_user_who_can_then_sign_in_with_the_one_time_password(demo):
    import re
    import uuid

    at = open_page(signed_in("admin"), "users.py")
    email = f"new-{uuid.uuid4().hex[:6]}@demo.example.com"
    next(t for t in at.text_input if t.label == "Email").input(email)
    next(b for b in at.button if b.label == "Invite").click().run()
    assert not at.exception
    message = next(s.value for s in at.success if shown(s.value).startswith("Invited"))
    assert email in at.dataframe[0].value["email"].tolist()  # the list shows the new user at once
    assert any(email in shown(t.value) for t in at.toast)  # as rendered (the source is escaped)
    temporary = re.search(r"`([^`]+)`", message).group(1)
    fresh = AppTest.from_file(APP, default_timeout=30)
    fresh.run()
    fresh.text_input[0].input(email)
    fresh.text_input[1].input(temporary)
    fresh.button[0].click()
    fresh.run()
    assert fresh.title[0].value.startswith("Welcome"), [e.value for e in fresh.error]


def test_home_greets_by_first_name_and_the_sidebar_names_the_organization(demo):
    at = signed_in("hr")
    assert at.title[0].value == "Welcome, Harper"
    sidebar = [m.value for m in at.sidebar.markdown] + [c.value for c in at.sidebar.caption]
    assert any("Harper Hughes" in text for text in sidebar), sidebar
    assert any("BYTE Demo Org" in text for text in sidebar) and not any("org_demo" in t for t in sidebar), sidebar


def test_activity_log_reads_as_sentences_with_a_label_filter(demo):
    at = open_page(signed_in("manager"), "activity.py")
    sentences = at.dataframe[0].value["what happened"].tolist()
    assert sentences and not any("user_" in s or "_" in s.split(" ")[0] for s in sentences), sentences[:5]
    at.multiselect(key="act_actions").select("Approval decided").run()
    decided = at.dataframe[0].value["what happened"].tolist()
    assert decided and all(" approved " in s or " rejected " in s for s in decided), decided[:5]
    assert any("Morgan Manager" in s for s in decided), decided[:5]


def test_the_pipeline_board_links_to_the_filtered_executions(demo, database):
    from byte_core.access import Actor
    from byte_core.analytics import pipeline_board

    at = open_page(signed_in("manager"), "analytics.py")
    assert [m.label for m in at.metric][:3] == ["Started", "Completed", "Median cycle time"]
    cell = next(r for r in pipeline_board(database, Actor.system(demo.org_id)) if r["running"])
    at.query_params.update(workflow=str(cell["definition_id"]), phase=cell["phase_id"], status="running")
    at = open_page(at, "executions.py")
    listed = at.dataframe[0].value
    assert set(listed["status"]) == {"running"} and set(listed["workflow"]) == {cell["workflow"]}
    assert set(listed["phase"]) == {cell["phase"]}
    assert len(listed) == min(cell["running"], 25)
