"""Notifications: what happened to my work, newest first; mark read, open the task."""
import streamlit as st

from byte_core.notifications.inbox import list_notifications, mark_read
from byte_core.task_queue import task_detail
from byte_core.text import md_escape
from pages._ui import ago, current_actor, db, empty_state, guarded, paginate, show_flash

PAGE_SIZE = 20
actor = current_actor()
database = db()
st.title("Notifications")
show_flash("notifications_flash")

top = st.columns([3, 1])
unread_only = top[0].toggle("Unread only", key="notifications_unread")
if top[1].button("Mark all read", key="notifications_all_read", icon=":material/done_all:"):
    with guarded():
        changed = mark_read(database, actor, everything=True)
        st.session_state["notifications_flash"] = f"{changed} notification(s) marked read."
        st.rerun()

@st.dialog("Task", width="large")
def show_task(row) -> None:
    """The task in context (who, what the workflow waits on); acting on it happens in the Task queue."""
    st.markdown(f"**{md_escape(row.title)}**")
    with guarded():
        context = task_detail(database, actor, row.task_id)
        if context.description:
            st.caption(md_escape(context.description))
        if context.contact:
            c = context.contact
            st.markdown(f"{md_escape(c['name'])} · {md_escape(c['email'] or 'no email')} · "
                        f"{md_escape(c['phone'] or 'no phone')}")
        if context.execution is not None:
            st.info(md_escape(context.execution.explanation.text), icon=":material/account_tree:")
    if st.button("Work on it in the Task queue", type="primary", key="notif_to_queue"):
        st.switch_page("pages/tasks.py", query_params={"task": str(row.task_id)})


with guarded():
    _, total = list_notifications(database, actor, unread_only=unread_only, limit=0)
    offset, limit = paginate(total, PAGE_SIZE, key="notifications_page")
    rows, _ = list_notifications(database, actor, unread_only=unread_only, offset=offset, limit=limit)
    if not rows:
        empty_state("Nothing unread." if unread_only else
                    "No notifications yet. You will hear here when a task is assigned to you or your role, when "
                    "one is due or overdue, and when someone mentions you in a note. Choose what you receive "
                    "under My account.")
    for row in rows:
        with st.container(border=True):
            left, right = st.columns([5, 2])
            marker = "" if row.read else "🔵 "
            left.markdown(f"{marker}**{md_escape(row.headline)}**: {md_escape(row.title)}")
            caption = ago(row.created_at)
            if row.body:
                caption += " · " + md_escape(row.body[:200])
            left.caption(caption)
            if row.task_id is not None and right.button("Open the task", key=f"notif_open_{row.id}",
                                                        icon=":material/open_in_new:"):
                mark_read(database, actor, [row.id])
                show_task(row)
            if not row.read and right.button("Mark read", key=f"notif_read_{row.id}"):
                mark_read(database, actor, [row.id])
                st.rerun()
