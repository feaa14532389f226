"""Home: my work, the pipeline at a glance, scheduler health."""
import pandas as pd
import plotly.express as px
import streamlit as st

from byte_core.dashboard import pipeline, recent_failures, scheduler_health, work_summary
from byte_core.text import chart_rows, md_escape
from pages._ui import current_actor, db, empty_state

actor = current_actor()
database = db()
me = st.session_state.get("profile")
st.title(f"Welcome, {md_escape(me.first_name if me else actor.label)}")



def _counts(figure):
    """Whole-number ticks on a count axis."""
    return figure.update_yaxes(tickformat=",d", rangemode="tozero")


summary = work_summary(database, actor)
cols = st.columns(4)
cols[0].metric("Tasks I hold", f"{summary.mine:,}")
cols[1].metric("Waiting in my roles' queues", f"{summary.my_roles:,}")
cols[2].metric("Overdue", f"{summary.overdue:,}")
cols[3].metric("Due today", f"{summary.due_today:,}")
if summary.mine or summary.my_roles:
    st.page_link("pages/tasks.py", label="Open the task queue", icon=":material/arrow_forward:")

st.subheader("Pipeline")
rows = pipeline(database, actor)
if not rows:
    empty_state("No executions yet. Start one from a contact's page, or configure Formstack intake.")
else:
    frame = pd.DataFrame(chart_rows(rows))  # names in labels: Plotly draws HTML in them
    running = frame[frame.status == "running"]
    left, right = st.columns(2)
    by_status = frame.groupby("status", as_index=False)["count"].sum()
    left.plotly_chart(_counts(px.bar(by_status, x="status", y="count", title="Executions by status",
                                     labels={"status": "Status", "count": "Executions"})), width="stretch")
    if running.empty:
        right.caption("Nothing running right now.")
    else:
        right.plotly_chart(_counts(px.bar(running, x="phase", y="count", color="workflow", title="Running, by phase",
                                          labels={"phase": "Phase", "count": "Executions", "workflow": "Workflow"})),
                           width="stretch")

st.subheader("Scheduler")
workers = scheduler_health(database)
if not workers:
    st.error("No scheduler has reported in the last hour: executions will not advance. Start one with "
             "`byte scheduler run` (or `byte up`).")
else:
    fresh = [w for w in workers if w.seconds_ago < 60]
    if not fresh:
        st.warning(f"No scheduler ticked in the last minute (latest {workers[0].seconds_ago:.0f}s ago).")
    st.dataframe(pd.DataFrame([{"worker": w.worker_id, "last tick": f"{w.seconds_ago:.0f}s ago",
                                "claimed": w.claimed, "advanced": w.advanced} for w in workers]),
                 hide_index=True, width="stretch")
failed_count, failures = recent_failures(database, actor)
if failed_count:
    st.warning(f"{failed_count:,} execution(s) of this organization failed in the last 24 hours; "
               "open Executions (status: failed) to retry or cancel them.", icon=":material/error:")
    st.dataframe(pd.DataFrame([{"when": f.at.strftime("%Y-%m-%d %H:%M") if f.at else "", "error": f.error or ""}
                               for f in failures]), hide_index=True, width="stretch")
