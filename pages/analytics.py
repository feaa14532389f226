"""Analytics (manager, admin): the pipeline in charts, each with its data downloadable."""
import uuid
from datetime import date, timedelta

import pandas as pd
import plotly.express as px
import streamlit as st

from byte_core import analytics
from byte_core.access import Actor
from byte_core.analytics import AnalyticsFilter
from byte_core.text import chart_rows, records_csv
from byte_core.workflow.definitions import definition_names
from pages._ui import current_actor, db, empty_state, guarded

actor = current_actor()
database = db()
st.title("Analytics")

definitions = definition_names(database, actor)
left, right = st.columns([2, 1])
span = left.date_input("Executions started between", (date.today() - timedelta(days=90), date.today()),
                       key="an_dates")
definition = right.selectbox("Workflow", [None, *definitions], key="an_def",
                             format_func=lambda i: "All workflows" if i is None else definitions[i])
if not (isinstance(span, tuple) and len(span) == 2):
    st.info("Pick an end date too.")
    st.stop()
filters = AnalyticsFilter(span[0], span[1], definition)


DRAW = {
    "phase_funnel": lambda df: px.funnel(df, x="reached", y="phase", color="workflow"),
    "started_completed_over_time": lambda df: px.line(df, x="day", y=["started", "completed", "failed"], markers=True),
    "cycle_time_per_phase": lambda df: px.bar(df, x="phase", y=["p50_hours", "p90_hours"], barmode="group",
                                              facet_col="workflow" if df.workflow.nunique() > 1 else None),
    "approval_rates": lambda df: px.bar(df, x="step", y=["approved", "rejected"], barmode="stack",
                                        hover_data=["workflow"]),
    "overdue_and_late": lambda df: px.bar(df, x="person", y=["overdue_open", "finished_late"], facet_col="role",
                                          barmode="group"),
    "timeouts": lambda df: px.bar(df, x="step", y="timeouts", color="policy"),
    "reviewer_workload": lambda df: px.bar(df, x="person", y=["open_held", "completed"], barmode="group",
                                           hover_data=["median_hours_to_done"]),
}


@st.cache_data(ttl=300, show_spinner="Aggregating…", max_entries=200)
def figures(org_id: str, user_id: str | None, roles: tuple[str, ...], email: str, start: date, end: date,
            definition_id: str | None):
    """Each chart's rows (aggregated in SQL) and figure, kept five minutes per organization and filter: on
    large organizations the aggregations take most of a second, and a manager flips between filters."""
    who = Actor(org_id, user_id, frozenset(roles), email)
    chosen = uuid.UUID(definition_id) if definition_id else None
    charts = analytics.all_charts(database, who, AnalyticsFilter(start, end, chosen))
    return {name: (rows, DRAW[name](pd.DataFrame(chart_rows(rows))) if rows else None) for name, rows in charts.items()}


def chart(title: str, key: str, name: str, empty: str) -> None:
    """One chart with its data as CSV; an explanation instead when there is nothing to show."""
    st.subheader(title)
    rows, drawn = drawn_charts[name]
    if not rows:
        empty_state(empty)
        return
    st.plotly_chart(drawn, width="stretch", key=f"chart_{key}")
    st.download_button("Download data (CSV)", records_csv(rows), file_name=f"{key}.csv", mime="text/csv",
                       key=f"csv_{key}", icon=":material/download:")


NO_EXECUTIONS = "No executions started in this range. Widen the dates or choose another workflow."
with guarded():
    drawn_charts = figures(actor.org_id, actor.user_id, tuple(sorted(actor.roles)), actor.email, filters.start,
                           filters.end, str(filters.definition_id) if filters.definition_id else None)
    a, b = st.columns(2)
    with a:
        chart("Executions per phase", "funnel", "phase_funnel", NO_EXECUTIONS)
    with b:
        chart("Started and finished per day", "over_time", "started_completed_over_time", NO_EXECUTIONS)
    a, b = st.columns(2)
    with a:
        chart("Cycle time per phase (hours)", "cycle_time", "cycle_time_per_phase",
              "No phase has been completed by executions in this range yet.")
    with b:
        chart("Approval and rejection", "approvals", "approval_rates", "No approvals decided for executions in this range.")
    a, b = st.columns(2)
    with a:
        chart("Overdue and late tasks by role and person", "overdue", "overdue_and_late",
              "Nothing overdue or finished late in this range.")
    with b:
        chart("Timed-out waits", "timeouts", "timeouts", "No wait step timed out in this range.")
    chart("Reviewer workload", "workload", "reviewer_workload", "Nobody holds or completed tasks in this range.")
    st.caption(f"Counts are exact. Cycle times come from the latest {analytics.CYCLE_SAMPLE:,} executions started "
               f"in the range, median hours to done from its latest {analytics.WORKLOAD_SAMPLE:,} completions.")
