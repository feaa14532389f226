"""The Workflows page's form editor, drafts and dry run under AppTest (issue [E])."""
from __future__ import annotations

import uuid

from tests.test_app_pages import demo, open_page, signed_in, type_json  # noqa: F401 - `demo` is a fixture

NEW = "➕ New definition"


def form_key(at, suffix: str) -> str:
    return f"wf_form__{at.session_state['wf_drafts']['']['rev']}_{suffix}"


def draft(at) -> dict:
    return at.session_state["wf_drafts"][""]["draft"]


def add_step(at, step_type: str):
    at.selectbox(key=form_key(at, "newtype")).select(step_type).run()
    return at.button(key=form_key(at, "addstep")).click().run()


def beside(at, text: str) -> list[str]:
    return [e.value for e in at.error if text in e.value]


def build_from_empty_form(at, name: str):
    at.selectbox(key="wf_choice").select(NEW).run()
    at.text_input(key=form_key(at, "name")).input(name).run()
    at.button(key=form_key(at, "addphase")).click().run()
    for step_type in ("trigger", "wait_for_approval", "end"):
        add_step(at, step_type)
    return at


def test_admin_builds_a_workflow_in_the_form_sees_the_error_beside_its_field_and_publishes(demo):
    at = build_from_empty_form(open_page(signed_in("admin"), "workflows.py"), f"Form built {uuid.uuid4().hex[:6]}")
    assert not at.exception
    steps = draft(at)["steps"]
    assert [s["type"] for s in steps] == ["trigger", "wait_for_approval", "end"]
    assert [s["order"] for s in steps] == [1, 2, 3]
    approval = steps[1]["id"]
    # The approval has no title yet: the error sits under the Title field of that step.
    title_key = form_key(at, "s1_c_title")
    assert at.text_input(key=title_key).value == ""
    assert beside(at, "must not be empty") or beside(at, "at least 1"), [e.value for e in at.error]
    at.text_input(key=title_key).input("Approve the request").run()
    at.selectbox(key=form_key(at, "s1_c_on_timeout_a")).select("escalate").run()
    at.number_input(key=form_key(at, "s1_c_timeout_days")).set_value(3.0).run()
    config = draft(at)["steps"][1]["config"]
    assert config["title"] == "Approve the request" and config["on_timeout"]["action"] == "escalate"
    assert config["timeout_days"] == 3 and config["assign_to"]["type"] == "role"
    assert not any(approval in e.value or "title" in e.value for e in at.error)
    # Move the end step up and back: the order follows the list.
    at.button(key=form_key(at, "s2_up")).click().run()
    assert [s["type"] for s in draft(at)["steps"]] == ["trigger", "end", "wait_for_approval"]
    at.button(key=form_key(at, "s1_down")).click().run()
    assert [s["type"] for s in draft(at)["steps"]] == ["trigger", "wait_for_approval", "end"]
    at.button(key="wf_save").click().run()
    assert not at.exception
    assert any(s.value.startswith("Created") for s in at.success) or any("Created" in t.value for t in at.toast), \
        [s.value for s in at.success]


def test_a_json_edit_shows_in_the_form_and_a_draft_survives_a_reload_until_discarded(demo):
    import json

    name = f"Draft kept {uuid.uuid4().hex[:6]}"
    at = build_from_empty_form(open_page(signed_in("admin"), "workflows.py"), name)
    edited = json.loads(json.dumps(draft(at)))
    edited["steps"][1]["name"] = "Typed in JSON"
    type_json(at, json.dumps(edited))
    assert at.text_input(key=form_key(at, "s1_name")).value == "Typed in JSON"

    again = open_page(signed_in("admin"), "workflows.py")  # a new session: as after a reload
    again.selectbox(key="wf_choice").select(NEW).run()
    assert draft(again)["name"] == name and draft(again)["steps"][1]["name"] == "Typed in JSON"
    assert again.button(key="wf_discard_").disabled
    again.checkbox(key="wf_discard_sure_").check().run()
    again.button(key="wf_discard_").click().run()
    assert not again.exception
    assert draft(again)["steps"] == []

    third = open_page(signed_in("admin"), "workflows.py")
    third.selectbox(key="wf_choice").select(NEW).run()
    assert draft(third)["steps"] == []


def test_dry_run_shows_the_path_with_the_decision_given(demo):
    at = open_page(signed_in("admin"), "workflows.py")
    at.selectbox(key="wf_choice").select("Volunteer Background Check").run()
    steps = at.session_state["wf_drafts"]["Volunteer Background Check"]["draft"]["steps"]
    waiting = [s["id"] for s in steps if s["type"] == "wait_for_approval"]
    assert waiting
    at.selectbox(key=f"wf_dry_decide_{waiting[0]}").select("rejected").run()
    at.button(key="wf_dry_go").click().run()
    assert not at.exception
    path = next(d.value for d in at.dataframe if "what happens" in d.value.columns)
    assert any(f"{waiting[0]}" in text and "rejected" in text for text in path["what happens"]), list(path["what happens"])
