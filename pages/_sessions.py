"""The signed-in devices table and its "sign out" controls, shared by My account and Users."""
from __future__ import annotations

import uuid

import pandas as pd
import streamlit as st

from byte_core.access import Actor
from byte_core.auth.sessions import SessionInfo, device_label, end_session
from byte_core.text import md_escape
from pages._ui import ago, empty_state, guarded


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


def sign_out_one_device(database, actor: Actor, sessions: list[SessionInfo], *, key: str, label: str,
                        flash_key: str, flash: str) -> None:
    """Pick one of `sessions` and sign it out. No confirmation: it only asks for a sign-in again on that device.
    `flash` is Markdown (the caller escapes its own user text) and gets the device's label appended."""
    if not sessions:
        return
    by_id = {s.id: s for s in sessions}
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    chosen = left.selectbox(label, list(by_id), format_func=lambda key: session_label(by_id[key]), key=key)
    if right.button("Sign out that device", key=f"{key}_out", icon=":material/logout:"):
        with guarded():
            end_session(database, actor, chosen, reason="revoked")
            st.session_state[flash_key] = f"{flash} {md_escape(session_label(by_id[chosen]))}."
            st.rerun()
