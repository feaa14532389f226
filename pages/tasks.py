"""Task queue: my tasks and each role's queue; claim, release, complete, approve/reject, reassign."""
import pandas as pd
import streamlit as st

from byte_core.task_queue import MINE, SORTS, QueueRow, queue_names, reassign_targets, task_context, task_queue
from byte_core.text import md_escape
from byte_core.workflow.service import claim_task, complete_task, reassign_tasks, release_task
from pages._ui import current_actor, db, due_label, empty_state, guarded, paginate, show_flash

PAGE_SIZE = 25
actor = current_actor()
database = db()
st.title("Task queue")
show_flash("tq_flash")

queues = queue_names(actor)
top = st.columns([3, 1])
queue = top[0].segmented_control("Queue", queues, default=MINE, key="tq_queue",
                                 format_func=lambda q: "My tasks" if q == MINE else f"{q.title()} queue")
queue = queue or MINE
sort = top[1].selectbox("Sort by", list(SORTS), key="tq_sort")
filters = st.columns([3, 1])
search = filters[0].text_input("Find", key="tq_search", placeholder="Title or contact name")
claimed_too = queue != MINE and filters[1].toggle("Show tasks already claimed", key="tq_claimed")

with guarded():
    total = task_queue(database, actor, queue, include_claimed=claimed_too, search=search, limit=0).total
    offset, limit = paginate(total, PAGE_SIZE, key=f"tq_page_{queue}")
    rows = task_queue(database, actor, queue, sort=sort, include_claimed=claimed_too, search=search, offset=offset, limit=limit).rows


def _frame(page_rows: list[QueueRow]) -> pd.DataFrame:
    return pd.DataFrame([{
        "due": due_label(r.due_date), "title": r.title, "contact": r.contact or "", "priority": r.priority,
        "type": r.task_type, "held by": r.holder or "unclaimed", "workflow": r.workflow or "",
        "created": r.created_at.strftime("%Y-%m-%d"),
    } for r in page_rows])


@st.fragment(run_every="30s")
def live_table() -> None:
    """Refreshes on its own every 30 s; the comment being typed elsewhere on the page is untouched."""
    fresh = task_queue(database, actor, queue, sort=sort, include_claimed=claimed_too, search=search, offset=offset, limit=limit)
    if not fresh.rows:
        empty_state("Nothing here. " + ("Claim a task from one of your role queues above."
                                        if queue == MINE else "This queue is clear."))
        return
    st.dataframe(_frame(fresh.rows), hide_index=True, width="stretch")
    if fresh.total != total:
        st.caption(f"The queue changed: {fresh.total} tasks now. Reload the page to act on the new ones.")


live_table()
if not rows:
    st.stop()


@st.dialog("Record a decision")
def decide(row: QueueRow, outcome: str) -> None:
    label = md_escape(row.approve_label if outcome == "approved" else row.reject_label)
    st.markdown(f"**{label}**: {md_escape(row.title)}")
    comment = st.text_area("Comment" + (" (required)" if row.require_comment else ""), key=f"comment_{row.id}")
    if st.button(f"Confirm: {label}", type="primary", key=f"confirm_{row.id}_{outcome}"):
        if row.require_comment and not comment.strip():
            st.error("A comment is required for this decision.")
            return
        with guarded():
            complete_task(database, actor, row.id, outcome=outcome, comment=comment)
            st.session_state.pop(f"comment_{row.id}", None)
            st.session_state["tq_flash"] = f"{label}: {row.title}. The workflow moves on."
            st.rerun()


@st.dialog("Complete task")
def complete(row: QueueRow) -> None:
    st.markdown(f"Mark **{md_escape(row.title)}** as done?")
    comment = st.text_area("Comment (optional)", key=f"comment_{row.id}")
    if st.button("Confirm: complete", type="primary", key=f"confirm_{row.id}_done"):
        with guarded():
            complete_task(database, actor, row.id, outcome="completed", comment=comment)
            st.session_state["tq_flash"] = f"Completed: {row.title}."
            st.rerun()


by_id = {r.id: r for r in rows}
left, right = st.columns([1, 1])
with left:
    st.subheader("Work on a task")
    task_id = st.selectbox("Task", list(by_id), key="tq_focus",
                           format_func=lambda i: f"{by_id[i].title} · {by_id[i].contact or 'no contact'}")
    row = by_id[task_id]
    st.caption(f"{row.priority} priority · {due_label(row.due_date) or 'no due date'} · " + md_escape(
        'held by ' + row.holder if row.holder else 'unclaimed, ' + (row.assigned_role or '') + ' queue'))
    buttons = st.columns(3)
    if row.holder is None and buttons[0].button("Claim", icon=":material/front_hand:", key="tq_claim"):
        with guarded():
            claim_task(database, actor, row.id)
            st.rerun()
    if row.held_by_me and buttons[0].button("Release", icon=":material/undo:", key="tq_release"):
        with guarded():
            release_task(database, actor, row.id)
            st.rerun()
    if row.task_type == "approval":
        if buttons[1].button(md_escape(row.approve_label), type="primary", icon=":material/thumb_up:", key="tq_approve"):
            decide(row, "approved")
        if buttons[2].button(md_escape(row.reject_label), icon=":material/thumb_down:", key="tq_reject"):
            decide(row, "rejected")
    elif buttons[1].button("Complete", type="primary", icon=":material/done:", key="tq_complete"):
        complete(row)

with right:
    st.subheader("Context")
    with guarded():
        context = task_context(database, actor, row.id)
        if context.description:
            st.markdown(md_escape(context.description))
        if context.contact:
            c = context.contact
            st.markdown(f"**{md_escape(c['name'])}** · {md_escape(c['email'] or 'no email')} · "
                        f"{md_escape(c['phone'] or 'no phone')}")
            st.caption(md_escape(f"{c['city'] or ''} · tags: {', '.join(c['tags']) or 'none'}"))
        if context.explanation:
            st.info(md_escape(context.explanation), icon=":material/account_tree:")

st.subheader("Bulk actions")
chosen = st.multiselect("Tasks", list(by_id), key="tq_bulk", format_func=lambda i: by_id[i].title,
                        placeholder="Choose tasks on this page")
bulk = st.columns([1, 2, 1])
if bulk[0].button("Claim selected", disabled=not chosen, key="tq_bulk_claim"):
    claimed, problems = 0, []
    for task in chosen:
        try:
            claim_task(database, actor, task)
            claimed += 1
        except Exception as exc:  # noqa: BLE001 - reported per task, the others go on
            problems.append(f"{by_id[task].title}: {exc}")
    st.session_state["tq_flash"] = f"Claimed {claimed} of {len(chosen)}." + (" " + "; ".join(problems) if problems else "")
    st.rerun()
if actor.has_any("manager", "admin"):
    target = bulk[1].selectbox("Reassign to", ["role: reviewer", "role: hr", "role: manager"]
                               + reassign_targets(database, actor), key="tq_target")
    if bulk[2].button("Reassign selected", disabled=not chosen, key="tq_bulk_reassign"):
        with guarded():
            kind, _, value = target.partition(": ")
            moved = (reassign_tasks(database, actor, chosen, to_role=value) if kind == "role"
                     else reassign_tasks(database, actor, chosen, to_user=target))
            st.session_state["tq_flash"] = f"Reassigned {moved} task(s) to {target}."
            st.rerun()
