"""Task inbox: the queue on the left, the open task on the right with everything needed to decide it.

Clicking a row opens it; after a decision the next task in the current sort opens by itself. Every
action carries the task and version drawn on screen (button callbacks bind them at render), so a
refresh between looking and clicking can never make a click act on another task.
"""
import uuid
from datetime import date, timedelta

import pandas as pd
import streamlit as st

from byte_core.access import ROLE_LABELS
from byte_core.errors import ByteError
from byte_core.task_queue import (MINE, SORTS, QueueRow, TaskDetail, queue_counts, queue_names, reassign_targets,
                                  task_detail, task_queue)
from byte_core.task_views import delete_view, list_views, save_view
from byte_core.text import md_escape
from byte_core.workflow.commands import (claim_task, claim_tasks, complete_task, reassign_tasks, release_task,
                                         snooze_task)
from pages._ui import (current_actor, db, due_label, empty_state, execution_link, guarded, paginate, show_error,
                       show_flash)

PAGE_SIZE = 25
actor = current_actor()
database = db()
state = st.session_state
if linked := st.query_params.get("task"):  # a notification or an email links straight to one task
    try:
        state["tq_open"] = uuid.UUID(linked)
    except ValueError:
        pass
    del st.query_params["task"]
st.title("Task inbox")
show_flash("tq_flash")
if problem := state.pop("tq_problem", None):
    st.error(md_escape(problem), icon=":material/error:")


def _queue_label(queue: str, counts: dict[str, int]) -> str:
    name = "My tasks" if queue == MINE else f"{ROLE_LABELS.get(queue, queue)} queue"
    return f"{name} ({counts.get(queue, 0):,})"


# --- saved views put their filters into the widgets before those are drawn ---------------------------------
def _apply_view(view) -> None:
    state.update(tq_queue=view.queue, tq_search=view.search, tq_sort=view.sort, tq_claimed=view.include_claimed,
                 tq_open=None)


def _reset_open() -> None:
    """A new queue, search or sort opens its own first task."""
    state["tq_open"] = None


views = list_views(database, actor) if actor.user_id else []
counts = queue_counts(database, actor)
queues = queue_names(actor)
top = st.columns([4, 2, 2])
queue = top[0].segmented_control("Queue", queues, default=MINE, key="tq_queue",
                                 format_func=lambda q: _queue_label(q, counts), on_change=_reset_open) or MINE
sort = top[1].selectbox("Sort by", list(SORTS), key="tq_sort", on_change=_reset_open)
with top[2].popover("Saved views", icon=":material/bookmark:", width="stretch"):
    for view in views:
        row = st.columns([4, 1])
        row[0].button(view.name, key=f"tq_view_{view.id}", on_click=_apply_view, args=(view,), width="stretch")
        if row[1].button("", icon=":material/delete:", key=f"tq_view_del_{view.id}", help=f"Delete {view.name}"):
            with guarded():
                delete_view(database, actor, view.id)
                state["tq_flash"] = f"Deleted the view {view.name}."
                st.rerun()
    if not views:
        st.caption("No saved views yet: set a queue, search and sort, then save them here.")
    with st.form("tq_save_view", clear_on_submit=True, border=False):
        name = st.text_input("Save the current filter as", placeholder="e.g. Urgent reviews")
        if st.form_submit_button("Save view", icon=":material/bookmark_add:"):
            with guarded():
                save_view(database, actor, name, queue=queue, search=state.get("tq_search", ""), sort=sort,
                          include_claimed=bool(state.get("tq_claimed")))
                state["tq_flash"] = f"Saved the view {name.strip()}."
                st.rerun()

filters = st.columns([3, 1])
search = filters[0].text_input("Find", key="tq_search", placeholder="Title or contact name", on_change=_reset_open)
claimed_too = queue != MINE and filters[1].toggle("Show tasks already claimed", key="tq_claimed",
                                                  on_change=_reset_open)
snoozed_too = queue == MINE and filters[1].toggle("Show snoozed tasks", key="tq_snoozed", on_change=_reset_open)

rows, total = [], 0
with guarded():
    shown = task_queue(database, actor, queue, sort=sort, include_claimed=claimed_too, include_snoozed=snoozed_too,
                       search=search, limit=PAGE_SIZE, page=int(state.get(f"tq_page_{queue}", 1)))
    rows, total = shown.rows, shown.total
    paginate(total, PAGE_SIZE, key=f"tq_page_{queue}")  # the picker, for the next run


def _frame(page_rows: list[QueueRow]) -> pd.DataFrame:
    return pd.DataFrame([{
        "due": due_label(r.due_date), "title": r.title, "contact": r.contact or "", "priority": r.priority,
        "held by": r.holder or "unclaimed",
        "state": "paused" if r.frozen else (f"snoozed to {r.snoozed_until:%b %d}" if r.snoozed_until else ""),
    } for r in page_rows])


def _empty_message() -> str:
    if search.strip():
        return f"No task matches “{md_escape(search.strip())}” in this queue. Clear the search to see them all."
    if queue == MINE:
        return "You hold no tasks. Pick a role queue above and open a task to work on it."
    return "This queue is clear: nothing is waiting here right now."


# --- the open task is remembered by id; the list only says which one to open -----------------------------
order = [r.id for r in rows]
# A task that left the list stays open (claimed by me, or taken by someone else: the panel says so).
if state.get("tq_open") is None and order:
    position = min(state.pop("tq_next_position", 0), len(order) - 1)
    state["tq_open"] = order[position]

left, right = st.columns([5, 6], gap="medium")
with left:
    if not rows:
        empty_state(_empty_message())
    else:
        event = st.dataframe(_frame(rows), hide_index=True, width="stretch", on_select="rerun",
                             selection_mode="single-row", height=min(38 + 35 * len(rows), 600))
        picked = event.selection.rows if event is not None else []
        # Same data, same table: a selection index maps to the rows drawn from this very data.
        if picked and state.get("tq_picked") != order[picked[0]]:
            state["tq_picked"] = state["tq_open"] = order[picked[0]]
        st.caption(f"{total:,} task(s) · click a row to open it")


def act(command, task: QueueRow, done: str, **kwargs) -> None:
    """A button's callback: it acts on the task and version drawn on screen when the person clicked."""
    try:
        command(database, actor, task.id, expected_version=task.version, **kwargs)
        state["tq_flash"] = done
    except ByteError as exc:
        state["tq_problem"] = str(exc)
    except Exception as exc:  # noqa: BLE001 - logged, shown as a message
        show_error(exc)


def snooze(task: QueueRow, day_key: str) -> None:
    """The day is read when the button is clicked: a date typed and not yet sent (the field sends it when it
    loses focus, i.e. with this very click) would otherwise snooze to the day drawn before it was typed."""
    until = state[day_key]
    act(snooze_task, task, f"Snoozed: {task.title} until {until:%b %d}.", until=until)


def decide(task: QueueRow, outcome: str | None, position: int) -> None:
    """Record the decision with the comment typed beside it, then open the next task in this sort."""
    comment = (state.get(f"tq_comment_{task.id}") or "").strip()
    if task.require_comment and not comment:
        state["tq_problem"] = "A comment is required for this decision: say why in the box above the buttons."
        return
    try:
        complete_task(database, actor, task.id, outcome=outcome, comment=comment, expected_version=task.version)
    except ByteError as exc:
        state["tq_problem"] = str(exc)
        return
    label = {"approved": task.approve_label, "rejected": task.reject_label}.get(outcome, "Completed")
    state["tq_flash"] = f"{label}: {task.title}. The next task is open."
    state.pop(f"tq_comment_{task.id}", None)
    state["tq_open"], state["tq_next_position"] = None, position


def _open_next(position: int) -> None:
    state["tq_open"], state["tq_next_position"] = None, position + 1


def panel(detail: TaskDetail, position: int) -> None:
    task = detail.row
    st.subheader(md_escape(task.title))
    holder = f"held by {md_escape(task.holder)}" if task.holder else f"unclaimed, {task.assigned_role or ''} queue"
    st.caption(f"{md_escape(task.priority)} priority · {due_label(task.due_date) or 'no due date'} · {holder}"
               + (f" · {md_escape(task.workflow)}" if task.workflow else ""))
    if task.status not in ("todo", "in_progress"):
        st.info(f"This task is {task.status}" + (f" ({md_escape(task.outcome)})" if task.outcome else "")
                + ": nothing left to do.",
                icon=":material/task_alt:")
        buttons = st.columns(4)
        buttons[3].button("Next task", icon=":material/skip_next:", key="tq_next", on_click=_open_next, args=(position,))
        _context(detail)
        return
    if task.frozen:
        st.warning("This task's execution is paused: nobody can claim or decide it until a manager resumes it.",
                   icon=":material/pause_circle:")
    if detail.description:
        st.text(detail.description)
    # The comment and the decision travel together (a form): typing and leaving the box costs no run of
    # its own, so a decision is one run of this page (measured: one run less per decision).
    with st.form(f"tq_decide_{task.id}", border=False, enter_to_submit=False):
        if task.task_type == "approval" or task.held_by_me or task.holder is None:
            st.text_area("Comment" + (" (required)" if task.require_comment else " (optional)"),
                         key=f"tq_comment_{task.id}", height=80, disabled=task.frozen)
        choices = st.columns(4)
        if task.task_type == "approval":
            choices[0].form_submit_button(md_escape(task.approve_label), type="primary", icon=":material/thumb_up:",
                                          key="tq_approve", disabled=task.frozen, on_click=decide,
                                          args=(task, "approved", position))
            choices[1].form_submit_button(md_escape(task.reject_label), icon=":material/thumb_down:", key="tq_reject",
                                          disabled=task.frozen, on_click=decide, args=(task, "rejected", position))
        else:
            choices[0].form_submit_button("Complete", type="primary", icon=":material/done:", key="tq_complete",
                                          disabled=task.frozen, on_click=decide, args=(task, None, position))
    buttons = st.columns(4)
    if task.holder is None:
        buttons[2].button("Claim", icon=":material/front_hand:", key="tq_claim", disabled=task.frozen,
                          on_click=act, args=(claim_task, task, f"Claimed: {task.title}. It is in My tasks now."))
    elif task.held_by_me:
        buttons[2].button("Release", icon=":material/undo:", key="tq_release", disabled=task.frozen,
                          on_click=act, args=(release_task, task, f"Released: {task.title}."))
    buttons[3].button("Next task", icon=":material/skip_next:", key="tq_next", on_click=_open_next, args=(position,))
    if task.held_by_me and not task.frozen:
        with st.expander("Snooze until…"):
            st.date_input("Hide from My tasks until", value=date.today() + timedelta(days=1),
                          min_value=date.today() + timedelta(days=1), key=f"tq_snooze_{task.id}")
            st.button("Snooze", key="tq_snooze", on_click=snooze, args=(task, f"tq_snooze_{task.id}"))
    _context(detail)


def _context(detail: TaskDetail) -> None:
    if detail.contact:
        c = detail.contact
        with st.container(border=True):
            st.markdown(f"**{md_escape(c['name'])}** · {md_escape(c['email'] or 'no email')} · "
                        f"{md_escape(c['phone'] or 'no phone')}")
            st.caption(f"{md_escape(c['city'] or 'no city')} · tags: {md_escape(', '.join(c['tags']) or 'none')}")
    view = detail.execution
    if view is None:
        return
    done, count = view.phase_progress
    phase_names = {p.id: p.name for p in view.definition.phases}
    st.progress(done / count if count else 0.0, text=f"{md_escape(view.workflow_name)} · phase {done} of {count}: "
                f"{md_escape(phase_names.get(view.execution.current_phase_id, '-'))}")
    execution_link(view.execution.id)
    st.info(md_escape(view.explanation.text), icon=":material/account_tree:")
    earlier = [t for t in view.tasks if t.status == "done" and t.id != detail.row.id]
    tabs = st.tabs([f"Earlier decisions ({len(earlier)})", "History", f"Notes ({len(view.notes)})"])
    with tabs[0]:
        if earlier:
            st.dataframe(pd.DataFrame([{"task": t.title, "outcome": t.outcome or "", "comment": t.outcome_comment or "",
                                        "by": view.users.get(t.completed_by, "") if t.completed_by else "",
                                        "when": t.completed_at.strftime("%Y-%m-%d %H:%M") if t.completed_at else ""}
                                       for t in earlier]), hide_index=True, width="stretch")
        else:
            st.caption("Nothing decided yet in this execution.")
    with tabs[1]:
        names = {s.id: s.name for s in view.definition.steps}
        st.dataframe(pd.DataFrame([{"step": names.get(s.step_id, s.step_id), "status": s.status,
                                    "outcome": s.outcome or "", "entered": s.entered_at.strftime("%Y-%m-%d %H:%M")}
                                   for s in view.steps]), hide_index=True, width="stretch")
    with tabs[2]:
        for note in view.notes:
            st.caption(f"{md_escape(view.users.get(note.user_id, 'someone'))} · {note.created_at:%Y-%m-%d %H:%M}")
            st.text(note.content)
        if not view.notes:
            st.caption("No notes on this execution.")


with right:
    open_id = state.get("tq_open")
    if open_id is None:
        st.caption("Open a task from the list to see it here.")
    else:
        try:
            detail = task_detail(database, actor, open_id)
        except ByteError as exc:
            state["tq_open"] = None
            st.warning(str(exc))
        else:
            with guarded():
                panel(detail, order.index(open_id) if open_id in order else -1)

if rows and actor.has_any("manager", "admin"):
    with st.expander("Bulk actions"):
        by_id = {r.id: r for r in rows}
        chosen = st.multiselect("Tasks", list(by_id), key="tq_bulk", format_func=lambda i: by_id[i].title,
                                placeholder="Choose tasks on this page")
        bulk = st.columns([1, 2, 1])
        if bulk[0].button("Claim selected", disabled=not chosen, key="tq_bulk_claim"):
            with guarded():
                result = claim_tasks(database, actor, [(t, by_id[t].version) for t in chosen],
                                     {t: by_id[t].title for t in chosen})
                state["tq_flash"] = (f"Claimed {result.claimed} of {len(chosen)}."
                                     + (" " + "; ".join(result.refused) if result.refused else ""))
                st.rerun()
        target = bulk[1].selectbox("Reassign to", ["role: reviewer", "role: hr", "role: manager"]
                                   + reassign_targets(database, actor), key="tq_target")
        if bulk[2].button("Reassign selected", disabled=not chosen, key="tq_bulk_reassign"):
            with guarded():
                kind, _, value = target.partition(": ")
                seen = [(task_id, by_id[task_id].version) for task_id in chosen]
                moved = (reassign_tasks(database, actor, seen, to_role=value) if kind == "role"
                         else reassign_tasks(database, actor, seen, to_user=target))
                state["tq_flash"] = f"Reassigned {moved} task(s) to {target}."
                st.rerun()
