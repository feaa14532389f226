"""My account: who I am, my roles, change my password."""
from datetime import datetime, timedelta, timezone

import streamlit as st

from byte_core.access import ROLE_LABELS
from byte_core.auth.login import change_password
from byte_core.text import md_escape
from pages._ui import current_actor, db, guarded, show_flash

actor = current_actor()
database = db()
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
    new = st.text_input("New password (10+ characters)", type="password", autocomplete="new-password",
                        key=f"pw_{version}_new")
    again = st.text_input("New password again", type="password", autocomplete="new-password",
                          key=f"pw_{version}_again")
    if st.form_submit_button("Change password", type="primary"):
        if new != again:
            st.error("The two new passwords differ.")
        else:
            with guarded():
                change_password(database, actor, current, new)
                # This session lives on (as if issued just after the change, with a fresh cookie); others end.
                st.session_state["issued_at"] = datetime.now(timezone.utc) + timedelta(seconds=2)
                st.session_state["reissue_cookie"] = True
                st.session_state["account_flash"] = "Password changed. Your other sessions have been signed out."
                st.session_state["password_form_version"] = version + 1
                st.rerun()
