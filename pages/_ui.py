"""Shared page plumbing: the database, the signed-in actor, errors as messages, pagination."""
from __future__ import annotations

import logging
import math
from contextlib import contextmanager
from datetime import date, datetime, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import streamlit as st

from byte_core.access import Actor
from byte_core.errors import ByteError
from byte_core.ids import as_uuid
from byte_core.text import md_escape

log = logging.getLogger("byte.ui")


@st.cache_resource(show_spinner=False)
def db():
    """One Database (engines and pools) per server process."""
    from byte_core.db import get_database, migrate

    database = get_database()
    migrate(database)  # a no-op when `byte up` already migrated; lets `streamlit run app.py` work alone
    return database


def current_actor() -> Actor:
    actor = st.session_state.get("actor")
    if actor is None:
        st.stop()
    return actor


def show_error(exc: Exception) -> None:
    if isinstance(exc, ByteError):  # messages quote what people typed: shown as text, never as Markdown
        st.error(md_escape(str(exc)), icon=":material/error:")
    else:
        log.exception("page error", exc_info=exc)
        st.error("Something went wrong; the error was logged. Try again, or tell an admin.", icon=":material/error:")


@contextmanager
def guarded():
    """Run a user action: domain errors become messages, never tracebacks."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - shown to the user, logged when unexpected
        show_error(exc)


def empty_state(text: str) -> None:
    st.info(text, icon=":material/info:")


def paginate(total: int, page_size: int, key: str) -> tuple[int, int]:
    """(offset, limit) for the current page; draws the page picker when there is more than one page."""
    pages = max(1, math.ceil(total / page_size))
    if pages == 1:
        return 0, page_size
    left, right = st.columns([1, 3])
    page = left.number_input("Page", min_value=1, max_value=pages, value=min(st.session_state.get(key, 1), pages),
                             step=1, key=key)
    right.caption(f"page {page} of {pages} · {total:,} in all")
    return (int(page) - 1) * page_size, page_size


def viewer_zone() -> tzinfo:
    """The browser's time zone (Streamlit reads it from the browser); UTC under AppTest or if unknown."""
    name = getattr(st.context, "timezone", None)
    if isinstance(name, str) and name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return timezone.utc


def local_time(moment: datetime | None, *, seconds: bool = False) -> str:
    """A moment in the viewer's zone and a plain format ("Nov 27, 2026 14:05"), never an offset."""
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(viewer_zone()).strftime("%b %d, %Y %H:%M" + (":%S" if seconds else ""))


def ago(moment: datetime | None) -> str:
    if moment is None:
        return ""
    from byte_core.workflow.inspect import humanize

    return humanize((datetime.now(timezone.utc) - moment).total_seconds()) + " ago"


def due_label(due: date | None, today: date | None = None) -> str:
    if due is None:
        return ""
    today = today or datetime.now(timezone.utc).date()
    days = (due - today).days
    if days < 0:
        return f"🔴 overdue {-days}d"
    if days == 0:
        return "🟠 due today"
    if days <= 2:
        return f"🟡 due in {days}d"
    return f"due {due:%b %d}"


def show_flash(key: str) -> None:
    """The success message an action left for the run after its `st.rerun()`, shown once: as a toast (seen
    wherever the person has scrolled) and inline. Flash messages name what was changed (a contact, a task
    title): always escaped."""
    if message := st.session_state.pop(key, None):
        st.toast(md_escape(message), icon=":material/check_circle:")
        st.success(md_escape(message), icon=":material/check_circle:")


def execution_link(execution_id, label: str = "Open the execution") -> None:
    """A link to one execution's page. Run as a page of the app it navigates in place; run alone (a page
    under test) it falls back to a plain link to the same address."""
    from streamlit.errors import StreamlitPageNotFoundError

    try:
        st.page_link("pages/executions.py", label=label, icon=":material/open_in_new:",
                     query_params={"execution": str(execution_id)})
    except StreamlitPageNotFoundError:
        st.markdown(f"[{md_escape(label)}](executions?execution={as_uuid(execution_id, 'execution')})")


def history_table(entries, key: str) -> None:
    """Activity entries as sentences, newest first; the selected row's raw details in an expander below."""
    import pandas as pd

    frame = pd.DataFrame([{"when": local_time(e.at), "what happened": e.sentence} for e in entries])
    picked = st.dataframe(frame, hide_index=True, width="stretch", key=key, on_select="rerun",
                          selection_mode="single-row",
                          column_config={"what happened": st.column_config.TextColumn(width="large")})
    rows = picked.selection.rows if picked else []
    with st.expander("Raw details" + (" of the selected entry" if rows else " (select a row to choose one)"),
                     expanded=bool(rows)):
        entry = entries[rows[0] if rows else 0]
        st.json({"when": entry.at.isoformat(), "who": entry.who, "action": entry.action, "entity": entry.entity_type,
                 "entity_id": str(entry.entity_id),
                 "execution_id": str(entry.workflow_execution_id) if entry.workflow_execution_id else None,
                 "details": entry.details})
