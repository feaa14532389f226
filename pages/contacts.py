"""Contacts: search and filter, create and edit, CSV import/export, a contact's timeline, start a workflow."""
import uuid

import pandas as pd
import streamlit as st

from byte_core.contacts import (active_runs_of, all_tags, executions_of, export_csv, get_contact, import_contacts,
                                metadata_text, parse_metadata, preview_csv, save_contact, search_contacts, timeline)
from byte_core.workflow.definitions import definition_names
from byte_core.workflow.commands import start_execution
from byte_core.text import md_escape
from pages._ui import current_actor, db, empty_state, guarded, history_table, local_time, paginate, show_flash

PAGE_SIZE = 25
actor = current_actor()
database = db()


@st.cache_data(ttl=120, show_spinner=False)
def tag_choices(org_id: str, user_id: str | None, roles: tuple[str, ...], email: str) -> list[str]:
    """Distinct tags of the organization: a scan of every contact, so kept two minutes per organization."""
    from byte_core.access import Actor

    return all_tags(database, Actor(org_id, user_id, frozenset(roles), email))


def contact_form(key: str, contact=None) -> None:
    """Create (no contact) or edit form. On a validation error every field keeps what was typed (the message
    comes back from byte_core); after a new contact is saved the form starts empty again (its widgets get new
    keys: a form cleared on submit would also clear on an error)."""
    version = st.session_state.setdefault(f"{key}_version", 0)

    def field(column, label: str, name: str, value: str = "") -> str:
        return column.text_input(label, value, key=f"{key}_{version}_{name}")

    with st.form(key):
        a, b = st.columns(2)
        values = {
            "first_name": field(a, "First name *", "first_name", contact.first_name if contact else ""),
            "last_name": field(b, "Last name *", "last_name", contact.last_name if contact else ""),
            "email": field(a, "Email", "email", contact.email or "" if contact else ""),
            "phone": field(b, "Phone", "phone", contact.phone or "" if contact else ""),
            "address_line_1": field(a, "Address", "address", contact.address_line_1 or "" if contact else ""),
            "city": field(b, "City", "city", contact.city or "" if contact else ""),
            "state": field(a, "State", "state", contact.state or "" if contact else ""),
            "zip": field(b, "ZIP", "zip", contact.zip or "" if contact else ""),
            "tags": field(st, "Tags (comma separated)", "tags", ", ".join(contact.tags or []) if contact else ""),
        }
        metadata = st.text_area("Metadata (one key=value per line)", metadata_text(contact.metadata_) if contact else "",
                                key=f"{key}_{version}_metadata")
        if st.form_submit_button("Save contact" if contact else "Create contact", type="primary"):
            with guarded():
                values["address_line_2"] = contact.address_line_2 if contact else None
                values["metadata"] = parse_metadata(metadata)
                saved = save_contact(database, actor, values, contact.id if contact else None)
                st.session_state["contacts_flash"] = f"Saved {saved.full_name}."
                if contact is None:
                    st.session_state[f"{key}_version"] = version + 1
                st.rerun()


@st.dialog("Start it again?")
def confirm_start(contact_id: uuid.UUID, contact_name: str, workflow: str, under_way: list[dict]) -> None:
    since = ", ".join(f"{r['status']} since {local_time(r['started_at'])}" for r in under_way)
    st.markdown(f"**{md_escape(contact_name)}** is already in **{md_escape(workflow)}** ({md_escape(since)}). "
                "Start a second one?")
    left, right = st.columns(2)
    if left.button("Start another", type="primary", key="start_again"):
        start(contact_id, contact_name, workflow)
    if right.button("Cancel", key="start_again_cancel"):
        st.rerun()


def start(contact_id: uuid.UUID, contact_name: str, workflow: str) -> None:
    with guarded():
        start_execution(database, actor, workflow, str(contact_id), source="manual")
        st.session_state["contacts_flash"] = f"Started {workflow} for {contact_name}."
        st.rerun()


def contact_detail(contact_id: uuid.UUID) -> None:
    contact = get_contact(database, actor, contact_id)
    if st.button("← All contacts", key="back_to_list"):
        st.query_params.pop("contact", None)
        st.rerun()
    st.title(md_escape(contact.full_name))
    show_flash("contacts_flash")
    st.caption(" · ".join(md_escape(x) for x in (contact.email, contact.phone, contact.city, contact.state) if x))
    if contact.tags:  # escaped text, not code spans: a backtick in a tag would end the span
        st.markdown("Tags: " + " · ".join(md_escape(t) for t in contact.tags))
    timeline_tab, runs_tab, edit_tab = st.tabs(["Timeline", "Workflows", "Edit"], key="contact_tab", on_change="rerun")
    with timeline_tab:
        events = timeline(database, actor, contact.id)
        if not events:
            empty_state("Nothing has happened to this contact yet. Start a workflow from the Workflows tab.")
        else:
            history_table(events, key="contact_timeline")
    with runs_tab:
        runs = executions_of(database, actor, contact.id)
        if runs:
            st.dataframe(pd.DataFrame([{"workflow": r["workflow"], "status": r["status"], "phase": r["phase"],
                                        "started": local_time(r["started_at"])} for r in runs]),
                         hide_index=True, width="stretch")
            for run in runs[:10]:
                st.page_link("pages/executions.py", label=f"Open {md_escape(run['workflow'])} ({run['status']})",
                             query_params={"execution": str(run["id"])})
        else:
            empty_state("No workflows yet for this contact.")
        active = definition_names(database, actor, active_only=True)
        if active:
            with st.form("start_workflow"):
                name = st.selectbox("Workflow", list(active.values()))
                if st.form_submit_button("Start workflow", type="primary"):
                    under_way = active_runs_of(runs, name)
                    if under_way:
                        confirm_start(contact.id, contact.full_name, name, under_way)
                    else:
                        start(contact.id, contact.full_name, name)
        else:
            empty_state("No active workflow definitions: an admin can add one on the Workflows page.")
    with edit_tab:
        contact_form("edit_contact", contact)


def contact_list() -> None:
    st.title("Contacts")
    show_flash("contacts_flash")
    search, tag_col = st.columns([3, 1])
    text = search.text_input("Search name, email or phone", key="contacts_q", placeholder="e.g. smith, @gmail, 555")
    tag = tag_col.selectbox("Tag", ["(any)"] + tag_choices(actor.org_id, actor.user_id, tuple(sorted(actor.roles)),
                                                               actor.email), key="contacts_tag")
    tag = None if tag == "(any)" else tag
    total = search_contacts(database, actor, text, tag=tag, limit=0).total
    offset, limit = paginate(total, PAGE_SIZE, key="contacts_page")
    page = search_contacts(database, actor, text, tag=tag, offset=offset, limit=limit)
    if not page.rows:
        empty_state("No contacts match. Clear the search, add one below, or import a CSV." if text or tag
                    else "No contacts yet. Add one below, import a CSV, or configure Formstack intake.")
    else:
        frame = pd.DataFrame([{"name": c.full_name, "email": c.email or "", "phone": c.phone or "",
                               "city": c.city or "", "tags": ", ".join(c.tags or [])} for c in page.rows])
        st.dataframe(frame, hide_index=True, width="stretch")
        choice = st.selectbox("Open a contact", [None] + [c.id for c in page.rows], key="contacts_open",
                              format_func=lambda i: "Choose…" if i is None else
                              next(c.full_name for c in page.rows if c.id == i))
        if choice is not None:
            st.query_params["contact"] = str(choice)
            st.session_state.pop("contacts_open", None)
            st.rerun()
    st.download_button("Export these contacts as CSV", data=lambda: export_csv(database, actor, text, tag),
                       file_name="contacts.csv", mime="text/csv", icon=":material/download:", disabled=not total)
    with st.expander("Add a contact"):
        contact_form("new_contact")
    with st.expander("Import contacts from CSV"):
        csv_import()


def csv_import() -> None:
    st.caption("Columns: first_name, last_name (required), email, phone, address_line_1, address_line_2, city, "
               "state, zip, tags (separated by ; or ,). Nothing is written until you confirm.")
    upload = st.file_uploader("CSV file", type=["csv"], key="contacts_csv")
    if upload is None:
        return
    with guarded():
        preview = preview_csv(upload.getvalue(), database, actor)
        st.write(f"**{len(preview.valid)}** rows ready, **{len(preview.errors)}** with errors.")
        if preview.unknown_columns:
            st.warning(f"Ignored columns: {md_escape(', '.join(preview.unknown_columns))}")
        if preview.errors:
            st.dataframe(pd.DataFrame(preview.errors, columns=["line", "problem"]), hide_index=True, width="stretch")
        if preview.valid:
            st.dataframe(pd.DataFrame(preview.valid[:20]).drop(columns=["metadata"]), hide_index=True, width="stretch")
            if st.button(f"Import {len(preview.valid)} contacts", type="primary", key="contacts_import"):
                bar = st.progress(0.0, text="Importing…")
                count = import_contacts(database, actor, preview.valid,
                                        progress=lambda done, all_: bar.progress(done / all_, text=f"{done}/{all_}"))
                st.session_state["contacts_flash"] = f"Imported {count} contacts."
                st.session_state.pop("contacts_csv", None)
                st.rerun()


selected = st.query_params.get("contact")
if selected:
    try:
        selected_id = uuid.UUID(selected)
    except ValueError:
        st.error("That link does not point to a contact.")
        st.stop()
    with guarded():
        contact_detail(selected_id)
else:
    contact_list()
