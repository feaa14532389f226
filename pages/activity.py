"""Activity log (admin, manager): who changed what, as sentences, filtered by kind, person, what happened and date."""
from datetime import date, timedelta

import streamlit as st

from byte_core.activity import COUNT_CAP, ActivityFilter, count, search
from byte_core.activity_text import action_labels, actions_for_labels
from byte_core.users import list_users
from pages._ui import current_actor, db, empty_state, guarded, history_table, paginate

PAGE_SIZE = 50
ENTITY_LABELS = {"contact": "Contacts", "workflow_execution": "Workflows", "task": "Tasks",
                 "workflow_definition": "Workflow definitions", "user": "Users", "formstack_submission": "Submissions",
                 "formstack_config": "Intake set-up", "organization": "Organization"}
actor = current_actor()
database = db()
st.title("Activity log")

people = {u.id: u.display_name for u in list_users(database, actor)}
cols = st.columns([1, 1, 2, 2])
entity = cols[0].selectbox("About", [None, *ENTITY_LABELS], format_func=lambda e: "Everything" if e is None
                           else ENTITY_LABELS[e], key="act_entity")
user = cols[1].selectbox("Who", [None, *people], format_func=lambda u: "Anyone" if u is None else people[u],
                         key="act_user")
labels = cols[2].multiselect("What happened", action_labels(), key="act_actions", placeholder="Anything")
span = cols[3].date_input("Between", (date.today() - timedelta(days=30), date.today()), key="act_dates")
start, end = (span[0], span[1]) if isinstance(span, tuple) and len(span) == 2 else (None, None)
filters = ActivityFilter(entity_type=entity, user_id=user, actions=actions_for_labels(labels), start=start, end=end)

with guarded():
    total = count(database, actor, filters)
    offset, limit = paginate(min(total, COUNT_CAP), PAGE_SIZE, key="act_page")
    entries = search(database, actor, filters, offset=offset, limit=limit)
    if not entries:
        empty_state("No activity matches these filters. Widen the dates or clear a filter.")
    else:
        if total > COUNT_CAP:
            st.caption(f"More than {COUNT_CAP:,} rows match: narrow the filters to reach the older ones.")
        history_table(entries, key="act_table")
