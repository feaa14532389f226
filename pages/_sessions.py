"""The signed-in devices table and its "sign out" controls, shared by My account and Users."""
from __future__ import annotations

import uuid

import pandas as pd
import streamlit as st

from byte_core.auth.sessions import SessionInfo, device_label
from pages._ui import ago, empty_state


def reference(info: SessionInfo) -> str:
    """A short tag that tells apart two sessions on the same kind of browser, shown in the table and picker."""
    return "#" + info.id.hex[:6]


def session_label(info: SessionInfo, current: uuid.UUID | None = None) -> str:
    here = " (this device)" if info.id == current else ""
    return (f"{reference(info)} {device_label(info.user_agent)}{here} · {info.ip or 'unknown address'}"
            f" · signed in {ago(info.created_at)}")


def sessions_table(sessions: list[SessionInfo], current: uuid.UUID | None = None) -> None:
    if not sessions:
        empty_state("No active sessions: nobody is signed in with this account right now.")
        return
    st.dataframe(pd.DataFrame([{
        "ref": reference(s), "device": device_label(s.user_agent) + (" (this device)" if s.id == current else ""),
        "address": s.ip or "unknown", "signed in": ago(s.created_at), "last active": ago(s.last_seen_at),
        "browser": s.user_agent or "",
    } for s in sessions]), hide_index=True, width="stretch")
