"""Analytics (manager, admin): the pipeline board, this week against the last, and charts with their data."""
import uuid
from datetime import date, timedelta

import pandas as pd
import plotly.express as px
import streamlit as st

from byte_core import analytics
from byte_core.access import Actor
from byte_core.activity_text import role_label
from byte_core.analytics import AnalyticsFilter
from byte_core.text import chart_rows, md_escape, records_csv
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

# Axis and legend titles people read, for every column a chart shows.
LABELS = {"reached": "Executions that reached the phase", "phase": "Phase", "workflow": "Workflow",
          "day": "Day", "value": "Executions", "variable": "", "p50_hours": "Median", "p90_hours": "Slowest 10%",
          "step": "Step", "approved": "Approved", "rejected": "Rejected", "person": "Person", "role": "Queue",
          "overdue_open": "Open and overdue", "finished_late": "Finished late", "timeouts": "Timed-out waits",
          "what_followed": "What followed", "open_held": "Open, held now", "completed": "Completed in range",
          "median_hours_to_done": "Median hours to done", "started": "Started", "failed": "Failed"}


def _counts(figure, values) -> object:
    """Whole-number ticks on a count axis (no 0.5 steps when the largest count is small)."""
    top = max([v for v in values if v is not None] or [0])
    figure.update_yaxes(tickformat=",d", rangemode="tozero", **({"dtick": 1} if top <= 10 else {}))
    return figure


def _legend(figure, title: str) -> object:
    figure.update_layout(legend_title_text=title, margin={"t": 10})
    return figure.for_each_trace(lambda t: t.update(name=LABELS.get(t.name, t.name)))


def _draw_funnel(df):
    return px.funnel(df, x="reached", y="phase", color="workflow", labels=LABELS).update_layout(
        legend_title_text="Workflow", margin={"t": 10})


def _draw_over_time(df):
    figure = px.line(df, x="day", y=["started", "completed", "failed"], markers=True, labels=LABELS)
    figure.update_yaxes(title_text="Executions")
    return _counts(_legend(figure, ""), df[["started", "completed", "failed"]].to_numpy().ravel())


def _draw_cycle_time(df):
    figure = px.bar(df, x="phase", y=["p50_hours", "p90_hours"], barmode="group", labels=LABELS,
                    hover_data=["executions"])
    figure.update_yaxes(title_text="Hours in the phase", rangemode="tozero")
    figure.update_xaxes(title_text="Phase", tickangle=0, type="category")
    return _legend(figure, "")


def _draw_approvals(df):
    figure = px.bar(df, x="step", y=["approved", "rejected"], barmode="stack", hover_data=["workflow"], labels=LABELS)
    figure.update_yaxes(title_text="Decisions")
    return _counts(_legend(figure, "Decision"), (df.approved + df.rejected).tolist())


def _draw_overdue(df):
    frame = df.assign(who=df.person + " (" + df.role.map(lambda r: role_label(r) if r != "(person)" else r) + ")")
    figure = px.bar(frame, x="who", y=["overdue_open", "finished_late"], barmode="group", labels=LABELS)
    figure.update_xaxes(title_text="Person (queue)")
    figure.update_yaxes(title_text="Tasks")
    return _counts(_legend(figure, ""), frame[["overdue_open", "finished_late"]].to_numpy().ravel())


def _draw_timeouts(df):
    figure = px.bar(df, x="step", y="timeouts", color="what_followed", hover_data=["workflow"], labels=LABELS)
    figure.update_yaxes(title_text="Timed-out waits")
    return _counts(_legend(figure, "What followed"), df.groupby("step").timeouts.sum().tolist())


def _draw_workload(df):
    figure = px.bar(df, x="person", y=["open_held", "completed"], barmode="group",
                    hover_data=["median_hours_to_done"], labels=LABELS)
    figure.update_yaxes(title_text="Tasks")
    return _counts(_legend(figure, ""), df[["open_held", "completed"]].to_numpy().ravel())


DRAW = {"phase_funnel": _draw_funnel, "started_completed_over_time": _draw_over_time,
        "cycle_time_per_phase": _draw_cycle_time, "approval_rates": _draw_approvals,
        "overdue_and_late": _draw_overdue, "timeouts": _draw_timeouts, "reviewer_workload": _draw_workload}


def _who(org_id: str, user_id: str | None, roles: tuple[str, ...], email: str) -> Actor:
    return Actor(org_id, user_id, frozenset(roles), email)


@st.cache_data(ttl=300, show_spinner="Aggregating…", max_entries=200)
def rows_of_charts(org_id: str, user_id: str | None, roles: tuple[str, ...], email: str, start: date, end: date,
                   definition_id: str | None):
    """Each chart's rows (aggregated in SQL), kept five minutes per organization and filter: on large
    organizations the aggregations take most of a second, and a manager flips between filters."""
    chosen = uuid.UUID(definition_id) if definition_id else None
    return analytics.all_charts(database, _who(org_id, user_id, roles, email), AnalyticsFilter(start, end, chosen))


@st.cache_data(ttl=60, show_spinner=False, max_entries=50)
def board_and_weeks(org_id: str, user_id: str | None, roles: tuple[str, ...], email: str, today: date,
                    definition_id: str | None):
    who = _who(org_id, user_id, roles, email)
    chosen = uuid.UUID(definition_id) if definition_id else None
    return analytics.pipeline_board(database, who, today), analytics.week_over_week(database, who, today, chosen)


@st.cache_data(ttl=300, show_spinner=False, max_entries=500)
def figure(name: str, rows: list[dict]):
    """A chart's figure, kept with its rows: building seven plotly figures costs more than reading the rows."""
    return DRAW[name](pd.DataFrame(chart_rows(rows)))  # plotly draws HTML in labels: text escaped


def pipeline_board(rows: list[dict]) -> None:
    """Per workflow, its phases as columns: running and overdue, each a link to the filtered Executions list."""
    st.subheader("Pipeline board")
    if not any(r["running"] for r in rows):
        empty_state("Nothing is running right now. Start a workflow from a contact's page.")
        return
    for workflow in dict.fromkeys(r["workflow"] for r in rows):
        phases = [r for r in rows if r["workflow"] == workflow]
        st.markdown(f"**{md_escape(workflow)}**")
        for column, phase in zip(st.columns(len(phases), border=True), phases):
            params = {"workflow": str(phase["definition_id"]), "phase": phase["phase_id"], "status": "running"}
            column.caption(md_escape(phase["phase"]))
            column.page_link("pages/executions.py", label=f"{phase['running']:,} running", query_params=params,
                             icon=":material/play_circle:")
            if phase["overdue"]:
                column.page_link("pages/executions.py", label=f"{phase['overdue']:,} overdue",
                                 query_params={**params, "overdue": "1"}, icon=":material/warning:")
            else:
                column.caption("none overdue")


def weeks(this, last) -> None:
    st.subheader("This week against the last")
    st.caption("The last 7 days including today, against the 7 days before.")
    a, b, c = st.columns(3)
    a.metric("Started", f"{this.started:,}", delta=this.started - last.started, border=True)
    b.metric("Completed", f"{this.finished:,}", delta=this.finished - last.finished, border=True)
    if this.median_cycle_hours is None:
        c.metric("Median cycle time", "–", border=True, help="No execution completed this week.")
    else:
        change = (None if last.median_cycle_hours is None
                  else f"{this.median_cycle_hours - last.median_cycle_hours:+.1f} h")
        c.metric("Median cycle time", f"{this.median_cycle_hours:.1f} h", delta=change, delta_color="inverse",
                 border=True, help="Hours from start to completion of the executions completed in the week.")


def chart(title: str, key: str, name: str, empty: str, rows: list[dict] | None = None) -> None:
    """One chart with its data as CSV; an explanation instead when there is nothing to show."""
    st.subheader(title)
    rows = charts[name] if rows is None else rows
    if not rows:
        empty_state(empty)
        return
    st.plotly_chart(figure(name, rows), width="stretch", key=f"chart_{key}")
    st.download_button("Download data (CSV)", records_csv(rows), file_name=f"{key}.csv", mime="text/csv",
                       key=f"csv_{key}", icon=":material/download:")


def cycle_time() -> None:
    """One workflow at a time: phases of different workflows side by side were unreadable."""
    rows = charts["cycle_time_per_phase"]
    names = list(dict.fromkeys(r["workflow"] for r in rows))
    if len(names) > 1:
        picked = st.selectbox("Cycle time of", names, key="an_cycle_workflow")
        rows = [r for r in rows if r["workflow"] == picked]
    chart("Cycle time per phase (hours)", "cycle_time", "cycle_time_per_phase",
          "No phase has been completed by executions in this range yet.", rows)


NO_EXECUTIONS = "No executions started in this range. Widen the dates or choose another workflow."
with guarded():
    who = (actor.org_id, actor.user_id, tuple(sorted(actor.roles)), actor.email)
    chosen = str(filters.definition_id) if filters.definition_id else None
    board, (this_week, last_week) = board_and_weeks(*who, date.today(), chosen)
    pipeline_board([r for r in board if not chosen or str(r["definition_id"]) == chosen])
    weeks(this_week, last_week)
    charts = rows_of_charts(*who, filters.start, filters.end, chosen)
    a, b = st.columns(2)
    with a:
        chart("Executions per phase", "funnel", "phase_funnel", NO_EXECUTIONS)
    with b:
        chart("Started and finished per day", "over_time", "started_completed_over_time", NO_EXECUTIONS)
    a, b = st.columns(2)
    with a:
        cycle_time()
    with b:
        chart("Approval and rejection", "approvals", "approval_rates", "No approvals decided for executions in this range.")
    a, b = st.columns(2)
    with a:
        chart("Overdue and late tasks by person", "overdue", "overdue_and_late",
              "Nothing overdue or finished late in this range.")
    with b:
        chart("Timed-out waits", "timeouts", "timeouts", "No wait step timed out for executions started in this range.")
    chart("Reviewer workload", "workload", "reviewer_workload", "Nobody holds or completed tasks in this range.")
    st.caption(f"Counts are exact. Cycle times come from the latest {analytics.CYCLE_SAMPLE:,} executions started "
               f"in the range, median hours to done from its latest {analytics.WORKLOAD_SAMPLE:,} completions.")
