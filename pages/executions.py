"""Executions: filter the list; one execution's progress, history, variables, explain text, notes and controls."""
import uuid
from datetime import date, timedelta

import pandas as pd
import streamlit as st

from byte_core.notes import add_note
from byte_core.text import md_escape
from byte_core.workflow.definitions import definition_names
from byte_core.workflow.inspect import (COUNT_CAP, ExecutionFilter, count_executions, get_execution,
                                        list_executions, phases_of, readable_variables)
from byte_core.workflow.commands import change_status
from byte_core.activity import history
from byte_core.activity_text import role_label
from byte_core.text import md_escape
from pages._ui import current_actor, db, empty_state, guarded, history_table, local_time, paginate, show_flash

PAGE_SIZE = 25
STATUSES = ["running", "paused", "completed", "failed", "cancelled"]
ACTIONS = {"running": ["pause", "cancel"], "paused": ["resume", "cancel"], "failed": ["retry", "cancel"]}
DONE = {"pause": "Execution paused.", "resume": "Execution resumed.", "cancel": "Execution cancelled.",
        "retry": "Retry scheduled: the scheduler runs the failed step again."}
actor = current_actor()
database = db()


@st.dialog("Confirm")
def confirm_action(execution_id: uuid.UUID, action: str) -> None:
    st.markdown(f"**{action.title()}** this execution? This is recorded in the activity log.")
    reason = st.text_input("Reason (required)", key=f"reason_{execution_id}_{action}")
    if st.button(f"Yes, {action}", type="primary", key=f"do_{action}"):
        if not reason.strip():
            st.error("Give a reason: it is shown to everyone who opens this execution.")
            return
        with guarded():
            change_status(database, actor, execution_id, action, reason)
            st.session_state["exec_flash"] = DONE[action]
            st.rerun()


def detail(execution_id: str) -> None:
    view = get_execution(database, actor, execution_id)
    execution = view.execution
    if st.button("← All executions", key="exec_back"):
        st.query_params.pop("execution", None)
        st.rerun()
    contact = view.contact.full_name if view.contact else "unknown contact"
    st.title(f"{md_escape(view.workflow_name)} · {md_escape(contact)}")
    show_flash("exec_flash")
    done, count = view.phase_progress
    phase_names = {p.id: p.name for p in view.definition.phases}
    st.progress(done / count if count else 0.0,
                text=f"{execution.status} · phase {done} of {count}: "
                     f"{md_escape(phase_names.get(execution.current_phase_id, execution.current_phase_id or '-'))}")
    st.info(md_escape(view.explanation.text), icon=":material/schedule:")
    if execution.status_reason and execution.status in ("paused", "cancelled"):
        st.caption(f"Reason: {md_escape(execution.status_reason)}")
    actions = ACTIONS.get(execution.status, [])
    if actions and actor.has_any("admin", "manager"):
        buttons = st.columns(len(actions) + 3)
        for column, action in zip(buttons, actions):
            if column.button(action.title(), key=f"exec_{action}"):
                confirm_action(execution.id, action)
    history, events, tasks_tab, variables, notes = st.tabs(["Step history", "Activity", "Tasks", "Variables", "Notes"],
                                                          key="exec_tab", on_change="rerun")
    with history:
        names = {s.id: s.name for s in view.definition.steps}
        st.dataframe(pd.DataFrame([{
            "#": s.seq, "step": names.get(s.step_id, s.step_id), "type": s.step_type,
            "phase": phase_names.get(s.phase_id, s.phase_id), "status": s.status, "outcome": s.outcome or "",
            "entered": local_time(s.entered_at),
            "duration": _duration(s.duration_ms), "error": s.error or ""} for s in view.steps]),
            hide_index=True, width="stretch")
    with events:
        entries = history(database, actor, execution_ids=[execution.id])
        if entries:
            history_table(entries, key="exec_history")
        else:
            empty_state("Nothing recorded for this execution yet.")
    with tasks_tab:
        if view.tasks:
            st.dataframe(pd.DataFrame([{
                "title": t.title, "status": t.status, "queue": role_label(t.assigned_role) if t.assigned_role else "",
                "holder": view.users.get(t.assigned_to, "a former user") if t.assigned_to else "",
                "done by": view.users.get(t.completed_by, "a former user") if t.completed_by else "",
                "outcome": t.outcome or "", "comment": t.outcome_comment or "",
                "due": t.due_date} for t in view.tasks]), hide_index=True, width="stretch")
        else:
            empty_state("This execution has not created tasks.")
    with variables:
        st.json(readable_variables(execution.variables or {}, view.users, {str(t.id): t.title for t in view.tasks}),
                expanded=2)
    with notes:
        for note in view.notes:
            lines = "  \n".join(md_escape(line) for line in note.content.splitlines())  # kept, escaped line by line
            st.markdown(f"**{md_escape(view.users.get(note.user_id, 'a former user'))}** · "
                        f"{local_time(note.created_at)}\n\n{lines}")
        if not view.notes:
            st.caption("No notes yet.")
        with st.form("exec_note", clear_on_submit=True):
            text = st.text_area("Add a note")
            if st.form_submit_button("Add note"):
                with guarded():
                    add_note(database, actor, "workflow_execution", execution.id, text)
                    st.session_state["exec_flash"] = "Note added."
                    st.rerun()


def _duration(ms: int | None) -> str:
    if ms is None:
        return ""
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{seconds / 60:.0f}m"
    if seconds < 86400:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


EARLIEST = date(2000, 1, 1)


def filters_from_link(by_id: dict, phase_names: dict) -> None:
    """A link (the Analytics pipeline board) may carry filters as query parameters: they become the widgets'
    values once, then the parameters go, so the person's own changes are not overridden on the next run."""
    params = st.query_params
    if not any(k in params for k in ("workflow", "phase", "status", "overdue")):
        return
    workflow = next((i for i in by_id if str(i) == params.get("workflow")), None)
    phase = params.get("phase")
    st.session_state.update(exec_def=workflow, exec_phase=phase if phase in phase_names else None,
                            exec_status=params.get("status") if params.get("status") in STATUSES else None,
                            exec_overdue=params.get("overdue") == "1", exec_dates=(EARLIEST, date.today()),
                            exec_page=1)
    for key in ("workflow", "phase", "status", "overdue"):
        params.pop(key, None)


def listing() -> None:
    st.title("Executions")
    by_id = definition_names(database, actor)
    phase_names = phases_of(database, actor)
    filters_from_link(by_id, phase_names)
    cols = st.columns(4)
    definition = cols[0].selectbox("Workflow", [None, *by_id], format_func=lambda i: "All" if i is None else by_id[i],
                                   key="exec_def")
    status = cols[1].selectbox("Status", [None, *STATUSES], format_func=lambda s: "All" if s is None else s,
                               key="exec_status")
    phase = cols[2].selectbox("Phase", [None, *phase_names],
                              format_func=lambda p: "All" if p is None else phase_names[p], key="exec_phase")
    span = cols[3].date_input("Started between", (date.today() - timedelta(days=365), date.today()), key="exec_dates",
                              min_value=EARLIEST)
    start, end = (span[0], span[1]) if isinstance(span, tuple) and len(span) == 2 else (None, None)
    overdue = st.toggle("Only overdue (an open task is past its due date)", key="exec_overdue")
    filters = ExecutionFilter(definition, status, phase, start, end, overdue)
    total = count_executions(database, actor, filters)
    offset, limit = paginate(min(total, COUNT_CAP), PAGE_SIZE, key="exec_page")
    if total > COUNT_CAP:
        st.caption(f"More than {COUNT_CAP:,} match: narrow the filters to reach the older ones.")
    rows = list_executions(database, actor, filters, offset=offset, limit=limit)
    if not rows:
        empty_state("No executions match these filters. Widen the dates or start a workflow from a contact's page."
                    if total == 0 else "This page is empty.")
        return
    st.dataframe(pd.DataFrame([{"workflow": r.workflow, "contact": r.contact, "status": r.status,
                                "phase": r.phase or "", "step": r.step or "",
                                "started": local_time(r.started_at),
                                "error": r.last_error or ""} for r in rows]), hide_index=True, width="stretch")
    labels = {r.id: f"{r.workflow} · {r.contact} · {r.status}" for r in rows}
    choice = st.selectbox("Open an execution", [None, *labels], key="exec_open",
                          format_func=lambda i: "Choose…" if i is None else labels[i])
    if choice is not None:
        st.query_params["execution"] = str(choice)
        st.session_state.pop("exec_open", None)
        st.rerun()


selected = st.query_params.get("execution")
if selected:
    with guarded():
        detail(selected)
else:
    listing()
