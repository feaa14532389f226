"""One draft, two views: the form (pages/_definition_form.py) and the JSON code editor edit the same dict in
session state, which is also kept in the database as the admin's unpublished draft (byte_core.workflow.drafts).

`rev` renews the form's widget keys (after a JSON edit or a move), `editor_rev` the code editor's (after a form
edit), so each view starts again from the draft when the other one changed it, and not while someone types.
"""
from __future__ import annotations

import copy
import json

import streamlit as st
from code_editor import code_editor

from byte_core.text import md_escape
from byte_core.workflow.drafts import discard_draft, load_draft, save_draft
from byte_core.workflow.inspect import ExecutionFilter, get_execution, list_executions
from byte_core.workflow.problems import DefinitionError
from byte_core.workflow.source import parse_text
from pages._definition_form import render_form, shape
from pages._ui import guarded


def open_draft(database, actor, name: str, published: dict) -> dict:
    """This admin's draft of a definition: from this session, else the one kept in the database, else a copy of
    the published version."""
    drafts = st.session_state.setdefault("wf_drafts", {})
    if name not in drafts:
        kept = load_draft(database, actor, name)
        draft = kept if kept is not None else copy.deepcopy(published)
        if kept is None:
            draft["steps"] = sorted(draft.get("steps") or [], key=lambda s: s.get("order", 0))
        drafts[name] = {"name": name, "draft": draft, "stored": copy.deepcopy(kept), "rev": 0, "editor_rev": 0,
                        "last_event": None}
    return drafts[name]


def _editor_key(entry: dict) -> str:
    return f"wf_json_{entry['name']}_{entry['editor_rev']}"


def take_json_edit(entry: dict) -> list[DefinitionError]:
    """Apply the code editor's newest text to the draft (before the form is drawn); JSON syntax problems."""
    event = st.session_state.get(_editor_key(entry))
    if not isinstance(event, dict) or not event.get("id") or event["id"] == entry["last_event"]:
        return entry.get("json_problems", [])
    entry["last_event"] = event["id"]
    data, problems = parse_text(event.get("text") or "")
    entry["json_problems"] = problems
    if not problems and not isinstance(data, dict):
        entry["json_problems"] = [DefinitionError(None, "definition", "must be a JSON object")]
    elif not problems and data != entry["draft"]:
        entry["draft"] = data
        entry["rev"] += 1
    return entry["json_problems"]


def form_area(entry: dict, errors: list[DefinitionError]) -> None:
    before, layout = json.dumps(entry["draft"], sort_keys=True), shape(entry["draft"])
    reshaped = render_form(entry["draft"], errors, f"{entry['name']}_{entry['rev']}")
    if json.dumps(entry["draft"], sort_keys=True) != before:
        entry["editor_rev"] += 1
        entry["rev"] += 1 if reshaped or shape(entry["draft"]) != layout else 0
        st.rerun()  # so the errors beside the fields, the JSON and the diagram reflect this edit


def json_area(entry: dict, problems: list[DefinitionError]) -> None:
    st.caption("The same draft as the form: a change here shows there, and the other way round. Changes apply as "
               "you type once the text is valid JSON.")
    for problem in problems:
        st.error(md_escape(f"{problem.field}: {problem.message}"), icon="⚠️")
    code_editor(json.dumps(entry["draft"], indent=2, ensure_ascii=False), lang="json", key=_editor_key(entry),
                response_mode="debounce", height=[12, 40], options={"showLineNumbers": True, "wrap": False})


def keep_draft(database, actor, entry: dict, published: dict) -> None:
    """Store the draft for this admin when it differs from both the published version and what is stored."""
    draft = entry["draft"]
    if draft != published and draft != entry["stored"]:
        with guarded():
            save_draft(database, actor, entry["name"], draft)
            entry["stored"] = copy.deepcopy(draft)


def draft_controls(database, actor, entry: dict, published: dict) -> None:
    keep_draft(database, actor, entry, published)
    if entry["draft"] == published:
        return
    st.info("Unpublished draft: kept for you across reloads until you save (publish) it or discard it.")
    sure = st.checkbox("Yes, throw this draft away", key=f"wf_discard_sure_{entry['name']}")
    if st.button("Discard draft", disabled=not sure, key=f"wf_discard_{entry['name']}"):
        with guarded():
            discard_draft(database, actor, entry["name"])
            st.session_state["wf_drafts"].pop(entry["name"], None)
            st.session_state.pop(f"wf_discard_sure_{entry['name']}", None)
            st.session_state["wf_flash"] = "Draft discarded: back to the published version."
            st.rerun()


def published_draft(database, actor, entry: dict) -> None:
    """The draft became a version: it is no longer a draft."""
    discard_draft(database, actor, entry["name"], published=True)
    st.session_state["wf_drafts"].pop(entry["name"], None)


def execution_path_picker(database, actor, row) -> list[str]:
    """Step ids an execution chosen by the admin visited, in order, to highlight on the diagram."""
    if row is None:
        return []
    recent = list_executions(database, actor, ExecutionFilter(definition_id=row.id), limit=50)
    labels = {"(none)": None} | {f"{r.contact} · {r.status} · at {r.step or '?'} · {str(r.id)[:8]}": r.id
                                 for r in recent}
    chosen = labels[st.selectbox("Highlight the path of an execution", list(labels), key="wf_path_exec")]
    if chosen is None:
        return []
    with guarded():
        return [visit.step_id for visit in get_execution(database, actor, chosen).steps]
    return []
