"""Workflows (admin): definitions with versions and running counts; edit, validate, save; diagram; history."""
import pandas as pd
import streamlit as st

from byte_core.workflow.authoring import running_by_step, side_by_side, to_dot, version_diff
from byte_core.workflow.definition import parse_definition, validate_definition
from byte_core.workflow.drafts import NEW_DEFINITION
from byte_core.users import list_users
from byte_core.workflow.definitions import (definition_payload, find_definition, list_definitions, list_versions,
                                            save_definition, set_active)
from byte_core.workflow.migrate import impact, list_migrations, migrate, plan_migration, revert_migration
from pages._draft_state import (draft_controls, execution_path_picker, form_area, json_area, open_draft,
                                published_draft, take_json_edit)
from pages._dry_run import render_dry_run
from pages._ui import current_actor, db, empty_state, guarded, local_time, show_flash

NEW = "➕ New definition"
EMPTY = {"name": "", "description": "", "phases": [], "steps": [], "variables": {}}
actor = current_actor()
database = db()
st.title("Workflows")
show_flash("wf_flash")

definitions = list_definitions(database, actor)
if definitions:
    st.dataframe(pd.DataFrame([{"name": d.name, "version": d.version, "active": d.is_active, "running": d.running,
                                "all executions": d.total, "description": d.description or ""} for d in definitions]),
                 hide_index=True, width="stretch")
else:
    empty_state("No workflow definitions yet. Choose “New definition” below and build one in the form, or import "
                "one with `byte workflow import FILE`.")

names = [d.name for d in definitions]
if pending := st.session_state.pop("wf_pending_choice", None):
    st.session_state["wf_choice"] = pending  # before the widget exists: Streamlit forbids changing it after
choice = st.selectbox("Edit", names + [NEW], key="wf_choice")
row = None if choice == NEW else find_definition(database, actor, choice)
summary = next((d for d in definitions if d.name == choice), None)
published = definition_payload(row) if row is not None else EMPTY
entry = open_draft(database, actor, row.name if row is not None else NEW_DEFINITION, published)
draft = entry["draft"]
json_problems = take_json_edit(entry)
errors = validate_definition(draft)
data = draft if not errors else None

# Running and paused executions per step of the current version: shown before a save, and on the diagram.
pinned = running_by_step(database, actor, row.id, row.version) if row is not None else {}
edit_tab, json_tab, dry_tab, diagram_tab, history_tab, move_tab = st.tabs(
    ["Definition", "JSON", "Dry run", "Diagram", "Version history", "Move running executions"])
with edit_tab:
    if row is not None:
        status = "active" if row.is_active else "inactive"
        st.caption(f"Version {row.version} · {status} · {summary.running if summary else 0} running")
        toggle = "Deactivate" if row.is_active else "Activate"
        if st.button(toggle, key="wf_toggle"):
            with guarded():
                set_active(database, actor, row.name, not row.is_active)
                st.session_state["wf_flash"] = f"{row.name} {toggle.lower()}d."
                st.rerun()
    draft_controls(database, actor, entry, published)
    if errors:
        st.warning(f"{len(errors)} problem{'s' if len(errors) != 1 else ''} to fix before publishing: each is shown "
                   "beside its field.")
    form_area(entry, errors)
    if pinned and data is not None:
        rows = impact(parse_definition(published), parse_definition(data), pinned)
        if published != data:
            st.markdown(f"**Impact of saving**: running executions stay on version {row.version} until you move them "
                        "(tab *Move running executions*). Where they are now, and what a move would do:")
            st.dataframe(pd.DataFrame([{"step": r.step_id, "running or paused": r.running, "in this draft": r.change,
                                        "if moved to the new version": r.migration} for r in rows]),
                         hide_index=True, width="stretch")
    if st.button("Save", type="primary", key="wf_save", help="Publish the draft as a new version."):
        if errors:
            st.error("Not saved. Fix these first:")
            st.dataframe(pd.DataFrame([{"step": e.step_id or "(definition)", "field": e.field, "problem": e.message}
                                       for e in errors]), hide_index=True, width="stretch")
        else:
            with guarded():
                result = save_definition(database, actor, data)
                if not result.changed:
                    st.info("No changes to save.")
                else:
                    published_draft(database, actor, entry)
                    st.session_state["wf_flash"] = (f"Saved {result.name} as version {result.version}."
                                                    if not result.created else f"Created {result.name}.")
                    st.session_state["wf_pending_choice"] = result.name
                    st.rerun()

with json_tab:
    json_area(entry, json_problems)

with dry_tab:
    render_dry_run(database, actor, parse_definition(data) if data is not None else None)

with diagram_tab:
    if data is not None:
        path = execution_path_picker(database, actor, row)
        st.graphviz_chart(to_dot(parse_definition(data), pinned, visited=path))
    else:
        empty_state("The diagram appears once the definition is valid.")

with history_tab:
    if row is None:
        empty_state("A new definition has no history yet.")
    else:
        versions = list_versions(database, actor, row.id)
        people = {u.id: u.display_name for u in list_users(database, actor)}
        st.dataframe(pd.DataFrame([{"version": v.version, "saved": local_time(v.created_at),
                                    "by": people.get(v.created_by, "a former user") if v.created_by else "System"}
                                   for v in versions]),
                     hide_index=True, width="stretch")
        if len(versions) > 1:
            numbers = [v.version for v in versions]
            a, b = st.columns(2)
            newer = a.selectbox("Compare version", numbers, index=0, key="wf_newer")
            older = b.selectbox("with version", numbers, index=1, key="wf_older")
            by_number = {v.version: v for v in versions}
            rows = side_by_side(by_number[older], by_number[newer], name=row.name)
            if any(change for _, _, change in rows):
                st.dataframe(pd.DataFrame([{f"version {older}": a, f"version {newer}": b, "change": c}
                                           for a, b, c in rows]), hide_index=True, width="stretch")
            with st.expander("As a unified diff"):
                st.code(version_diff(by_number[older], by_number[newer], f"v{older}", f"v{newer}", name=row.name),
                        language="diff")


with move_tab:
    if row is None or row.version < 2:
        empty_state("Once a definition has two versions, executions running on an older one can be moved here.")
    else:
        by_number = {v.version: v for v in list_versions(database, actor, row.id)}
        versions = list(by_number)
        a, b = st.columns(2)
        source_version = a.selectbox("Move executions on version", versions[1:], key="wf_mig_from")
        target_version = b.selectbox("to version", [v for v in versions if v != source_version], key="wf_mig_to")
        sitting = running_by_step(database, actor, row.id, source_version)
        if not sitting:
            empty_state(f"No execution is running or paused on version {source_version}.")
        else:
            target_steps = [s.id for s in parse_definition(
                definition_payload(by_number[target_version], name=row.name)).steps]
            mapping = {}
            st.caption("Where executions on each step go (pre-filled where the step id exists in the target):")
            for step_id, count in sorted(sitting.items()):
                options = target_steps
                mapping[step_id] = st.selectbox(f"{step_id} ({count} running or paused) →", options,
                                                index=options.index(step_id) if step_id in options else 0,
                                                key=f"wf_map_{source_version}_{target_version}_{step_id}")
            with guarded():
                plan = plan_migration(database, actor, row.name, source_version, target_version, mapping)
                if plan.problems:
                    st.error("This move is refused; nothing would change:\n" +
                             "\n".join(f"- {p}" for p in plan.problems))
                else:
                    st.dataframe(pd.DataFrame([{"from step": f, "to step": t, "what happens": m, "executions": n}
                                               for (f, t, m), n in plan.by_step().items()]),
                                 hide_index=True, width="stretch")
                    sure = st.checkbox(f"Move these {len(plan.moves)} executions to version {target_version}",
                                       key="wf_mig_sure")
                    if st.button("Migrate", type="primary", disabled=not sure, key="wf_mig_go"):
                        bar = st.progress(0.0, text="Moving executions…")
                        report = migrate(database, actor, plan, progress=lambda done, total: bar.progress(
                            done / total, text=f"Moved {done} of {total}"))
                        st.session_state["wf_flash"] = (
                            f"Moved {report.migrated} execution(s) to version {target_version}"
                            + (f"; {len(report.failed)} could not move: " + "; ".join(r for _, r in report.failed[:5])
                               if report.failed else "") + ". You can revert it below.")
                        st.session_state.pop("wf_mig_sure", None)
                        st.rerun()
        past = list_migrations(database, actor, row.id)
        if past:
            st.subheader("Past moves")
            for item in past:
                line = st.columns([5, 1])
                line[0].caption(f"{item.created_at:%Y-%m-%d %H:%M} · v{item.from_version} → v{item.to_version} · "
                                f"{item.migrated} moved, {item.failed} failed · {item.status}"
                                + (f" · by {item.by}" if item.by else ""))
                if item.status == "done" and line[1].button("Revert", key=f"wf_revert_{item.id}"):
                    with guarded():
                        undo = revert_migration(database, actor, item.id)
                        st.session_state["wf_flash"] = (f"Put back {undo.reverted} execution(s)"
                                                        + (f"; {len(undo.kept)} had moved on and stay"
                                                           if undo.kept else "") + ".")
                        st.rerun()
