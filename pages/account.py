"""My account: who I am, my roles, change my password, the devices I am signed in on."""
import streamlit as st

from byte_core.access import ROLE_LABELS
from byte_core.auth.login import change_password
from byte_core.auth.sessions import list_sessions, sign_out_everywhere
from byte_core.text import md_escape
from pages._sessions import sessions_table, sign_out_one_device
from pages._ui import current_actor, db, guarded, show_flash

actor = current_actor()
database = db()
this_session = st.session_state.get("session_id")
st.title("My account")
me = st.session_state.get("profile")
st.markdown(f"**{md_escape(me.display_name if me else actor.label)}** · {md_escape(actor.email)} · "
            + ", ".join(ROLE_LABELS.get(r, r) for r in sorted(actor.roles)))

show_flash("account_flash")
st.subheader("Change password")
# Typed values stay on an error (no clear_on_submit); after a change the widgets get new keys, so empty.
version = st.session_state.setdefault("password_form_version", 0)
with st.form("change_password"):
    current = st.text_input("Current password", type="password", autocomplete="current-password",
                            key=f"pw_{version}_current")
    new = st.text_input("New password (10+ characters, at most 72 bytes)", type="password", autocomplete="new-password",
                        key=f"pw_{version}_new")
    again = st.text_input("New password again", type="password", autocomplete="new-password",
                          key=f"pw_{version}_again")
    if st.form_submit_button("Change password", type="primary"):
        if new != again:
            st.error("The two new passwords differ.")
        else:
            with guarded():
                # This browser's session lives on; every other one ends.
                change_password(database, actor, current, new, keep_session=this_session)
                st.session_state["account_flash"] = "Password changed. Your other sessions have been signed out."
                st.session_state["password_form_version"] = version + 1
                st.rerun()


@st.dialog("Sign out everywhere?")
def confirm_everywhere() -> None:
    st.markdown("Every browser signed in with your account is signed out, this one included.")
    if st.button("Yes, sign out everywhere", type="primary", key="account_everywhere_confirm"):
        with guarded():
            sign_out_everywhere(database, actor)
            # The app's sign-out then clears this browser's cookie too.
            st.session_state["sign_out_requested"] = True
            st.rerun()


st.subheader("Where you are signed in")
sessions = []
with guarded():
    sessions = list_sessions(database, actor)
sessions_table(sessions, this_session)
sign_out_one_device(database, actor, [s for s in sessions if s.id != this_session], key="account_device",
                    label="Another device", flash_key="account_flash", flash="Signed out")
buttons = st.columns(2)
buttons[0].button("Sign out this device", key="account_sign_out", icon=":material/logout:",
                  on_click=lambda: st.session_state.update(sign_out_requested=True))
if buttons[1].button("Sign out everywhere", key="account_everywhere", icon=":material/devices:"):
    confirm_everywhere()


# --- notifications ([F]) ------------------------------------------------------------------------------------------
from byte_core.notifications.events import PERSON_KINDS  # noqa: E402
from byte_core.notifications.inbox import Preferences, get_preferences, set_preferences  # noqa: E402
from byte_core.notifications.settings import email_enabled  # noqa: E402

st.subheader("Notifications")
if actor.user_id is None:
    st.caption("Notifications belong to people; this session is not a user.")
else:
    prefs = get_preferences(database, actor)
    if not email_enabled():
        st.caption("Email is off on this server (no SMTP server configured): only in-app notifications are shown.")
    with st.form("notification_prefs"):
        header = st.columns([4, 1, 1])
        header[0].markdown("**Tell me when**")
        header[1].markdown("**In the app**")
        header[2].markdown("**By email**")
        chosen_app, chosen_email = [], []
        for kind, label in PERSON_KINDS.items():
            row = st.columns([4, 1, 1])
            row[0].write(label)
            if row[1].checkbox("in app", value=kind in prefs.in_app, key=f"pref_app_{kind}", label_visibility="collapsed"):
                chosen_app.append(kind)
            if row[2].checkbox("email", value=kind in prefs.email, key=f"pref_email_{kind}", label_visibility="collapsed"):
                chosen_email.append(kind)
        modes = {"immediate": "Each email at once", "digest": "One daily digest"}
        mode = st.radio("Email", list(modes), format_func=modes.get, horizontal=True,
                        index=list(modes).index(prefs.email_mode))
        hour = st.selectbox("Digest hour (UTC)", list(range(24)), index=prefs.digest_hour,
                            format_func=lambda h: f"{h:02d}:00")
        if st.form_submit_button("Save notification settings", type="primary"):
            with guarded():
                set_preferences(database, actor, Preferences(tuple(chosen_app), tuple(chosen_email), mode, hour))
                st.session_state["account_flash"] = "Notification settings saved."
                st.rerun()
