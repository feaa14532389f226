"""The Workflows page's dry run: the draft run in memory by the pure engine (byte_core.workflow.simulate) for a
sample contact, with a decision and an optional waiting time per waiting step. Nothing is written."""
from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from byte_core.contacts import search_contacts
from byte_core.errors import InvalidInput
from byte_core.text import md_escape
from byte_core.workflow.definition import Definition
from byte_core.workflow.simulate import contact_for_dry_run, parse_span, simulate
from byte_core.workflow.steps.registry import spec_of
from pages._ui import empty_state, guarded

SAMPLE = {"first_name": "Sample", "last_name": "Contact", "email": "sample@example.com"}
OUTCOMES = {"approval": ["approved", "rejected", "(no decision)"], "standard": ["completed", "(no decision)"]}


def render_dry_run(database, actor, definition: Definition | None) -> None:
    if definition is None:
        empty_state("The dry run is available once the draft is valid (errors are shown beside their fields).")
        return
    st.caption("Runs the draft in memory, as the scheduler would: no execution, task or activity is written.")
    found = search_contacts(database, actor, st.text_input("Sample contact (search by name or email)",
                                                           key="wf_dry_search"), limit=20).rows
    labels = {"A made-up contact (Sample Contact)": None} | {
        f"{c.first_name} {c.last_name} <{c.email or 'no email'}>": c for c in found}
    picked = labels[st.selectbox("Contact", list(labels), key="wf_dry_contact")]
    contact = contact_for_dry_run(picked) if picked is not None else dict(SAMPLE)
    decisions, waits = {}, {}
    for step in definition.steps:
        spec = spec_of(step.type)
        if spec is None or not spec.waits or spec.name == "delay":
            continue
        source = definition.step(spec.task_source(step.id, step.config) or step.id)
        kind = spec_of(source.type).task_type if source else None
        left, right = st.columns([2, 1])
        outcome = left.selectbox(md_escape(f"{step.id} ({step.name}): decision"), OUTCOMES.get(kind or "standard"),
                                 key=f"wf_dry_decide_{step.id}")
        if outcome != "(no decision)":
            decisions[step.id] = outcome
        wait = right.text_input("after (e.g. 4d, 36h)", key=f"wf_dry_wait_{step.id}")
        if wait.strip():
            waits[step.id] = wait
    variables_text = st.text_input("Variables (JSON object, optional)", key="wf_dry_vars")
    if st.button("Run dry run", key="wf_dry_go"):
        with guarded():
            try:
                variables = json.loads(variables_text) if variables_text.strip() else {}
            except ValueError:
                raise InvalidInput("the variables are not a JSON object, e.g. {\"amount\": 120}") from None
            if not isinstance(variables, dict):
                raise InvalidInput("the variables must be a JSON object, e.g. {\"amount\": 120}")
            result = simulate(definition, contact, decisions=decisions,
                              waits={k: parse_span(v) for k, v in waits.items()}, variables=variables)
            st.dataframe(pd.DataFrame([{"after": line.split("  ", 1)[0].strip(), "step": e.step_id or "",
                                        "what happens": e.text} for e, line in zip(result.events, result.lines())]),
                         hide_index=True, width="stretch")
            if result.ended == "completed":
                st.success(f"Ends: completed with outcome {md_escape(str(result.outcome))}.")
            elif result.ended == "failed":
                st.error(f"Fails: {md_escape(str(result.error or result.outcome))}")
            else:
                st.warning(md_escape(result.error or "Does not end: it waits on a step with no decision given."))
