"""Users (admin): invite, roles, deactivate and reactivate, reset passwords, revoke sessions."""
import secrets

import pandas as pd
import streamlit as st

from byte_core.access import ROLE_LABELS, ROLES
from byte_core.auth.login import reset_password, revoke_sessions
from byte_core.auth.sessions import list_sessions
from byte_core.text import md_escape
from byte_core.users import add_user, deactivate, list_users, reactivate, set_roles
from pages._sessions import sessions_table, sign_out_one_device
from pages._ui import ago, current_actor, db, guarded, show_flash

actor = current_actor()
database = db()
st.title("Users")
show_flash("users_flash")

users = list_users(database, actor)
st.dataframe(pd.DataFrame([{"email": u.email, "name": f"{u.first_name or ''} {u.last_name or ''}".strip(),
                            "roles": ", ".join(ROLE_LABELS.get(r, r) for r in u.roles or []),
                            "active": u.is_active, "last sign-in": ago(u.last_login_at) or "never"} for u in users]),
             hide_index=True, width="stretch")


@st.dialog("Confirm")
def confirm(text: str, action, done: str) -> None:
    st.markdown(text)
    if st.button("Yes, go ahead", type="primary", key="users_confirm"):
        with guarded():
            action()
            st.session_state["users_flash"] = done
            st.rerun()


if invited := st.session_state.pop("users_invited", None):
    email, temporary = invited
    st.toast(f"Invited {md_escape(email)}.", icon=":material/check_circle:")
    st.success(f"Invited {md_escape(email)}. Give them this one-time password and ask them to change it "
               f"under My account: `{temporary}`")

# The form keeps what was typed when the invitation is refused; after a success its widgets get new keys
# (empty), and the page reruns so the list above shows the new user at once.
version = st.session_state.setdefault("invite_version", 0)
with st.expander("Invite a user", icon=":material/person_add:", expanded=bool(st.session_state.get("invite_open"))):
    with st.form("invite"):
        email = st.text_input("Email", key=f"invite_{version}_email")
        a, b = st.columns(2)
        first = a.text_input("First name", key=f"invite_{version}_first")
        last = b.text_input("Last name", key=f"invite_{version}_last")
        roles = st.multiselect("Roles", ROLES, default=["reviewer"], format_func=ROLE_LABELS.get,
                               key=f"invite_{version}_roles")
        if st.form_submit_button("Invite", type="primary"):
            st.session_state["invite_open"] = True
            with guarded():
                temporary = secrets.token_urlsafe(12)
                user = add_user(database, actor, email, roles, password=temporary, first_name=first or None,
                                last_name=last or None)
                st.session_state.update(users_invited=(user.email, temporary), invite_version=version + 1,
                                        invite_open=False)
                st.rerun()

by_email = {u.email: u for u in users}
target = st.selectbox("Manage", list(by_email), key="users_target")
user = by_email[target]
st.caption(f"{'Active' if user.is_active else 'Deactivated'} · created {ago(user.created_at)}")
with st.form("roles"):
    chosen = st.multiselect("Roles", ROLES, default=[r for r in user.roles or [] if r in ROLES],
                            format_func=ROLE_LABELS.get)
    if st.form_submit_button("Save roles"):
        with guarded():
            set_roles(database, actor, user.email, chosen)
            st.session_state["users_flash"] = f"Roles of {user.email} saved."
            st.rerun()
buttons = st.columns(3)
if user.is_active and buttons[0].button("Deactivate", key="users_deactivate", icon=":material/block:"):
    confirm(f"Deactivate **{md_escape(user.email)}**? They are signed out at once and cannot sign in again until reactivated.",
            lambda: deactivate(database, actor, user.email), f"{user.email} deactivated.")
if not user.is_active and buttons[0].button("Reactivate", key="users_reactivate"):
    with guarded():
        reactivate(database, actor, user.email)
        st.session_state["users_flash"] = f"{user.email} reactivated."
        st.rerun()
if buttons[1].button("Revoke sessions", key="users_revoke", icon=":material/logout:"):
    confirm(f"Sign **{md_escape(user.email)}** out everywhere?", lambda: revoke_sessions(database, actor, user.email),
            f"Every session of {user.email} has ended.")
with buttons[2].popover("Reset password", icon=":material/key:"):
    with st.form("reset"):
        new = st.text_input("New password (10+ characters, at most 72 bytes)", type="password")
        if st.form_submit_button("Reset"):
            with guarded():
                reset_password(database, actor, user.email, new)
                st.session_state["users_flash"] = f"Password of {user.email} reset; their sessions have ended."
                st.rerun()

st.subheader("Signed-in devices")
sessions = []
with guarded():
    sessions = list_sessions(database, actor, user.email)
sessions_table(sessions, st.session_state.get("session_id"))
sign_out_one_device(database, actor, sessions, key="users_device", label="Device", flash_key="users_flash",
                    flash=f"{md_escape(user.email)} is signed out of")


# --- email delivery ([F]) ------------------------------------------------------------------------------------------
from byte_core.notifications.inbox import email_status  # noqa: E402
from byte_core.text import md_escape  # noqa: E402

st.subheader("Email notifications")
with guarded():
    status = email_status(database, actor)
    if status.problem:
        st.error(f"Email is misconfigured: {md_escape(status.problem)}")
    elif not status.configured:
        st.info("Email is off: no SMTP server is configured. Set BYTE_SMTP_URL (for example "
                "`smtp://user:password@mail.example.com:587?starttls=1`) and BYTE_SMTP_FROM, then restart the "
                "scheduler. People still get in-app notifications.", icon=":material/mail_off:")
    else:
        st.caption(f"Sending through {md_escape(status.server)} · {status.sent_24h:,} sent in 24 h · "
                   f"{status.pending:,} waiting · {status.failed:,} given up")
    if status.last_error:
        st.warning(f"Last delivery error: {md_escape(status.last_error)}", icon=":material/warning:")
