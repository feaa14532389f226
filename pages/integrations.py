"""Integrations (admin): outgoing webhooks. Endpoints with the events they want, signed deliveries,
the delivery log with status codes, redelivery."""
import pandas as pd
import streamlit as st

from byte_core.notifications.events import WEBHOOK_KINDS
from byte_core.notifications.webhooks import (add_endpoint, list_deliveries, list_endpoints, redeliver,
                                              remove_endpoint, send_test_delivery, set_active)
from byte_core.text import md_escape
from pages._ui import ago, current_actor, db, empty_state, guarded, paginate, show_flash

PAGE_SIZE = 25
actor = current_actor()
database = db()
st.title("Integrations")
st.caption("Outgoing webhooks: BYTE POSTs JSON to your endpoint when executions and tasks change. Each request "
           "carries `X-BYTE-Timestamp` and `X-BYTE-Signature: sha256=<hex>`, the HMAC-SHA256 of "
           "`timestamp + \".\" + raw body` with the endpoint's secret: recompute it, compare in constant time, and "
           "refuse old timestamps. `X-BYTE-Delivery` is the same on every retry of one delivery.")
show_flash("integrations_flash")
if secret := st.session_state.pop("integrations_secret", None):
    st.success("Endpoint added. Its signing secret is shown this once: copy it into the receiver.")
    st.code(secret, language=None)


@st.dialog("Confirm")
def confirm_remove(endpoint_id, url: str) -> None:
    st.markdown(f"Remove the endpoint **{md_escape(url)}** and its delivery log? Nothing more is sent to it.")
    if st.button("Yes, remove it", type="primary", key="integrations_confirm"):
        with guarded():
            remove_endpoint(database, actor, endpoint_id)
            st.session_state["integrations_flash"] = "Endpoint removed."
            st.rerun()


with st.expander("Add an endpoint", icon=":material/add_link:", expanded=False):
    with st.form("webhook_add", clear_on_submit=True):
        url = st.text_input("URL (http or https)", placeholder="https://hooks.example.com/byte")
        events = st.multiselect("Events", list(WEBHOOK_KINDS), format_func=WEBHOOK_KINDS.get,
                                default=["execution_failed", "task_created"])
        fmt = st.radio("Format", ["json", "slack"], horizontal=True,
                       format_func=lambda f: "BYTE JSON" if f == "json" else 'Slack ({"text": ...})')
        description = st.text_input("Description (optional)")
        if st.form_submit_button("Add endpoint", type="primary"):
            with guarded():
                endpoint, secret = add_endpoint(database, actor, url, events, format=fmt, description=description)
                st.session_state["integrations_secret"] = secret
                st.rerun()

endpoints = list_endpoints(database, actor)
if not endpoints:
    empty_state("No webhook endpoints yet. Add one above to tell another system (or Slack) what happens here.")
    st.stop()

st.dataframe(pd.DataFrame([{"url": e.url, "events": ", ".join(e.events), "format": e.format,
                            "active": e.is_active, "secret": e.secret_masked, "waiting": e.pending,
                            "last result": e.last_status or "", "last error": e.last_error or ""} for e in endpoints]),
             hide_index=True, width="stretch")
by_id = {e.id: e for e in endpoints}
chosen = st.selectbox("Endpoint", list(by_id), format_func=lambda i: by_id[i].url, key="integrations_endpoint")
endpoint = by_id[chosen]
buttons = st.columns(3)
if buttons[0].button("Send a test ping", key="integrations_ping", icon=":material/send:"):
    with guarded():
        send_test_delivery(database, actor, endpoint.id)
        st.session_state["integrations_flash"] = "Ping queued: the scheduler sends it within seconds."
        st.rerun()
label = "Disable" if endpoint.is_active else "Enable"
if buttons[1].button(label, key="integrations_toggle"):
    with guarded():
        set_active(database, actor, endpoint.id, not endpoint.is_active)
        st.session_state["integrations_flash"] = f"Endpoint {label.lower()}d."
        st.rerun()
if buttons[2].button("Remove", key="integrations_remove", icon=":material/delete:"):
    confirm_remove(endpoint.id, endpoint.url)

st.subheader("Deliveries")
_, total = list_deliveries(database, actor, endpoint_id=endpoint.id, limit=0)
offset, limit = paginate(total, PAGE_SIZE, key="integrations_page")
rows, _ = list_deliveries(database, actor, endpoint_id=endpoint.id, offset=offset, limit=limit)
if not rows:
    empty_state("Nothing sent to this endpoint yet. Send a test ping, or wait for one of its events.")
    st.stop()
st.dataframe(pd.DataFrame([{"when": ago(r.created_at), "event": r.event, "status": r.status,
                            "HTTP": r.response_status, "attempts": r.attempts,
                            "next try": ago(r.next_attempt_at) if r.status == "pending" else "",
                            "error": r.last_error or "", "id": str(r.id)} for r in rows]),
             hide_index=True, width="stretch")
delivery_ids = {str(r.id): r for r in rows}
picked = st.selectbox("Redeliver", list(delivery_ids), key="integrations_redeliver_pick",
                      format_func=lambda i: f"{delivery_ids[i].event} · {delivery_ids[i].status} · {i[:8]}")
if st.button("Redeliver", key="integrations_redeliver", icon=":material/replay:"):
    with guarded():
        redeliver(database, actor, picked)
        st.session_state["integrations_flash"] = "Queued again with the same payload."
        st.rerun()
