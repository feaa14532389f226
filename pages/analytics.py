"""Analytics (manager, admin): the pipeline in charts, each with its data downloadable."""
from datetime import date, timedelta

import pandas as pd
import plotly.express as px
import streamlit as st

from byte_core.analytics import (AnalyticsFilter, approval_rates, cycle_time_per_phase, overdue_and_late,
                                 phase_funnel, reviewer_workload, started_completed_over_time, timeouts)
from byte_core.workflow.definitions import list_definitions
from pages._ui import current_actor, db, empty_state, guarded

actor = current_actor()
database = db()
st.title("Analytics")

definitions = {d.id: d.name for d in list_definitions(database, actor)}
left, right = st.columns([2, 1])
span = left.date_input("Executions started between", (date.today() - timedelta(days=90), date.today()),
                       key="an_dates")
definition = right.selectbox("Workflow", [None, *definitions], key="an_def",
                             format_func=lambda i: "All workflows" if i is None else definitions[i])
if not (isinstance(span, tuple) and len(span) == 2):
    st.info("Pick an end date too.")
    st.stop()
filters = AnalyticsFilter(span[0], span[1], definition)


def chart(title: str, key: str, rows: list[dict], draw, empty: str) -> None:
    """One chart with its data as CSV; an explanation instead when there is nothing to show."""
    st.subheader(title)
    if not rows:
        empty_state(empty)
        return
    frame = pd.DataFrame(rows)
    st.plotly_chart(draw(frame), width="stretch", key=f"chart_{key}")
    st.download_button("Download data (CSV)", frame.to_csv(index=False), file_name=f"{key}.csv", mime="text/csv",
                       key=f"csv_{key}", icon=":material/download:")


NO_EXECUTIONS = "No executions started in this range. Widen the dates or choose another workflow."
with guarded():
    a, b = st.columns(2)
    with a:
        chart("Executions per phase", "funnel", phase_funnel(database, actor, filters),
              lambda df: px.funnel(df, x="reached", y="phase", color="workflow"), NO_EXECUTIONS)
    with b:
        chart("Started and finished per day", "over_time", started_completed_over_time(database, actor, filters),
              lambda df: px.line(df, x="day", y=["started", "completed", "failed"], markers=True), NO_EXECUTIONS)
    a, b = st.columns(2)
    with a:
        chart("Cycle time per phase (hours)", "cycle_time", cycle_time_per_phase(database, actor, filters),
              lambda df: px.bar(df, x="phase", y=["p50_hours", "p90_hours"], barmode="group",
                                facet_col="workflow" if df.workflow.nunique() > 1 else None),
              "No phase has been completed by executions in this range yet.")
    with b:
        chart("Approval and rejection", "approvals", approval_rates(database, actor, filters),
              lambda df: px.bar(df, x="step", y=["approved", "rejected"], barmode="stack", hover_data=["workflow"]),
              "No approvals decided for executions in this range.")
    a, b = st.columns(2)
    with a:
        chart("Overdue and late tasks by role and person", "overdue", overdue_and_late(database, actor, filters),
              lambda df: px.bar(df, x="person", y=["overdue_open", "finished_late"], facet_col="role",
                                barmode="group"),
              "Nothing overdue or finished late in this range.")
    with b:
        chart("Timed-out waits", "timeouts", timeouts(database, actor, filters),
              lambda df: px.bar(df, x="step", y="timeouts", color="policy"),
              "No wait step timed out in this range.")
    chart("Reviewer workload", "workload", reviewer_workload(database, actor, filters),
          lambda df: px.bar(df, x="person", y=["open_held", "completed"], barmode="group",
                            hover_data=["median_hours_to_done"]),
          "Nobody holds or completed tasks in this range.")
