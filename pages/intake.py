"""Intake (admin): the Formstack endpoint, verification secrets, field mapping, submissions and reprocessing."""
import json

import pandas as pd
import streamlit as st

from byte_core.intake.service import (accepts_unsigned, configure, endpoint_path, get_config, list_submissions, mask,
                                      reprocess, sample_fields)
from byte_core.intake.webhook import CONTACT_TARGETS
from byte_core.text import md_escape
from byte_core.ops.running import configured_public_url
from byte_core.workflow.definitions import definition_names
from pages._ui import ago, current_actor, db, empty_state, guarded, local_time, paginate, show_flash

PAGE_SIZE = 25
actor = current_actor()
database = db()
st.title("Intake")
show_flash("intake_flash")

base = getattr(st.context, "url", None)
base = base.rsplit("/", 1)[0] if isinstance(base, str) and base.startswith("http") else "http://<this-server>:8501"
base = configured_public_url() or base  # behind a proxy, the address Formstack must use
st.markdown("**Webhook URL** (paste into Formstack → Settings → Emails & Actions → Webhook):")
st.code(base.rstrip("/") + endpoint_path(database, actor), language=None)

config = get_config(database, actor)
definitions = definition_names(database, actor)  # id -> name
# Keyed and tracked, so a save's rerun stays on the tab the person was using (untracked tabs reset to the first).
setup, mapping, submissions = st.tabs(["Set-up", "Field mapping", "Submissions"], key="intake_tab", on_change="rerun")

with setup:
    if config is None:
        empty_state("Not configured yet: the URL answers 404 until you save a set-up. Set a secret and a default "
                    "workflow, then map the fields.")
    elif not config.is_active:
        st.info("Intake is switched off: the URL answers 404 and nothing is stored.", icon=":material/pause:")
    elif accepts_unsigned(config):
        st.warning("Unsigned deliveries are accepted: anyone who learns the URL can create contacts and start "
                   "workflows. Set an HMAC or handshake key, then clear “Accept unsigned deliveries”.",
                   icon=":material/warning:")
    elif not (config.webhook_secret or config.handshake_key):
        st.warning("No secret is set, so every delivery is refused (401). Set an HMAC or handshake key "
                   "(or, knowingly, accept unsigned deliveries).", icon=":material/key_off:")
    current_workflow = definitions.get(config.default_workflow_definition_id) if config else None
    with st.form("intake_setup"):
        st.caption(f"HMAC key: {md_escape(mask(config.webhook_secret if config else None))} · "
                   f"Handshake key: {md_escape(mask(config.handshake_key if config else None))}. "
                   "Leave a field empty to keep it.")
        hmac_key = st.text_input("New HMAC key", type="password")
        handshake = st.text_input("New handshake key", type="password")
        header = st.text_input("Signature header", config.signature_header if config else "X-FS-Signature")
        names = list(definitions.values())
        workflow = st.selectbox("Default workflow", names,
                                index=names.index(current_workflow) if current_workflow in names else None,
                                placeholder="Choose the workflow new applicants start")
        active = st.toggle("Accept submissions", value=bool(config.is_active) if config else True)
        unsigned = st.checkbox("Accept unsigned deliveries when no key is set (not recommended)",
                               value=bool(config.allow_unsigned) if config else False, key="intake_allow_unsigned",
                               help="Without a key, anyone who learns the URL can post submissions.")
        if st.form_submit_button("Save set-up", type="primary"):
            with guarded():
                configure(database, actor, hmac_key=hmac_key or None, handshake_key=handshake or None,
                          signature_header=header.strip() or None, default_workflow=workflow, is_active=active,
                          allow_unsigned=unsigned)
                st.session_state["intake_flash"] = "Intake set-up saved."
                st.rerun()

with mapping:
    sample = sample_fields(database, actor)
    current = dict(config.field_mappings or {}) if config else {}
    keys = list(dict.fromkeys([*current, *sample]))
    st.caption("Map each Formstack field (label, API name or numeric field id) to a contact field: "
               f"{', '.join(CONTACT_TARGETS)}, or metadata.<name>. Empty targets are ignored.")
    if not keys:
        empty_state("No sample yet: paste one below, or send a test submission from Formstack and come back.")
    frame = pd.DataFrame([{"formstack field": k, "maps to": current.get(k, ""),
                           "sample value": json.dumps(sample.get(k), ensure_ascii=False)[:80] if k in sample else ""}
                          for k in keys], columns=["formstack field", "maps to", "sample value"])
    edited = st.data_editor(frame, num_rows="dynamic", hide_index=True, width="stretch", key="intake_map",
                            disabled=["sample value"])
    if st.button("Save mapping", type="primary", key="intake_save_map"):
        with guarded():
            rows = edited.fillna("").to_dict("records")
            mappings = {str(r["formstack field"]).strip(): str(r["maps to"]).strip() for r in rows
                        if str(r["formstack field"]).strip() and str(r["maps to"]).strip()}
            configure(database, actor, mappings=mappings, replace_mappings=True)
            st.session_state["intake_flash"] = f"Mapping saved ({len(mappings)} fields)."
            st.rerun()
    with st.expander("Paste a sample payload (JSON)"):
        text = st.text_area("Sample", key="intake_sample", height=160)
        if st.button("Use this sample", key="intake_sample_save"):
            with guarded():
                try:
                    payload = json.loads(text)
                except json.JSONDecodeError as exc:
                    st.error(f"Not valid JSON: {md_escape(exc.msg)} at line {exc.lineno}, column {exc.colno}")
                    st.stop()
                payload = {k: v for k, v in payload.items() if k not in ("HandshakeKey", "FormID", "UniqueID")}
                configure(database, actor, sample_payload=payload)
                st.session_state["intake_flash"] = "Sample saved: its fields are listed in the mapping."
                st.rerun()

with submissions:
    failed_only = st.toggle("Failed only", key="intake_failed")
    _, total = list_submissions(database, actor, failed_only=failed_only, limit=0)
    offset, limit = paginate(total, PAGE_SIZE, key="intake_page")
    rows, _ = list_submissions(database, actor, failed_only=failed_only, offset=offset, limit=limit)
    if not rows:
        empty_state("No failed submissions." if failed_only else
                    "No submissions yet. Point a Formstack webhook at the URL above.")
    else:
        def status(r) -> str:
            return "processed" if r.processed else ("failed" if r.error else "pending")

        st.dataframe(pd.DataFrame([{"received": local_time(r.created_at), "form": r.form_id,
                                    "submission": r.submission_id, "status": status(r),
                                    "duplicates": r.duplicate_count, "error": r.error or ""} for r in rows]),
                     hide_index=True, width="stretch")
        failed = [r for r in rows if status(r) == "failed"]
        if failed:
            a, b = st.columns(2)
            if a.button(f"Reprocess {len(failed)} failed on this page", key="intake_reprocess_page"):
                with guarded():
                    count = reprocess(database, actor, [r.id for r in failed])
                    st.session_state["intake_flash"] = f"{count} submission(s) queued for reprocessing."
                    st.rerun()
            if b.button("Reprocess every failed submission", key="intake_reprocess_all"):
                with guarded():
                    count = reprocess(database, actor, all_failed=True)
                    st.session_state["intake_flash"] = f"{count} submission(s) queued for reprocessing."
                    st.rerun()
        by_id = {r.id: r for r in rows}
        chosen = st.selectbox("Inspect", list(by_id), key="intake_inspect",
                              format_func=lambda i: f"{by_id[i].submission_id} · {status(by_id[i])}")
        row = by_id[chosen]
        st.caption(f"received {ago(row.created_at)}" + (f" · last duplicate {ago(row.last_received_at)}"
                                                         if row.duplicate_count else ""))
        if row.error:  # it quotes the delivery's values
            st.error(md_escape(row.error))
        raw, mapped = st.columns(2)
        raw.markdown("**Raw payload**")
        raw.json(row.raw_payload, expanded=True)
        mapped.markdown("**Mapped**")
        mapped.json(row.mapped or {"note": "not mapped yet"}, expanded=True)
        if status(row) == "failed" and st.button("Reprocess this one", key="intake_reprocess_one"):
            with guarded():
                reprocess(database, actor, [row.id])
                st.session_state["intake_flash"] = "Queued for reprocessing."
                st.rerun()
