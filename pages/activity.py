"""Activity log (admin, manager): who changed what, filtered by entity, user, action and date."""
import json
from datetime import date, timedelta

import pandas as pd
import streamlit as st

from byte_core.activity import COUNT_CAP, ENTITY_TYPES, ActivityFilter, count, search
from byte_core.users import list_users
from pages._ui import current_actor, db, empty_state, guarded, paginate

PAGE_SIZE = 50
actor = current_actor()
database = db()
st.title("Activity log")

people = {u.id: u.email for u in list_users(database, actor)}
cols = st.columns([1, 1, 1, 2])
entity = cols[0].selectbox("Entity", [None, *ENTITY_TYPES], format_func=lambda e: "All" if e is None else e,
                           key="act_entity")
user = cols[1].selectbox("User", [None, *people], format_func=lambda u: "Anyone" if u is None else people[u],
                         key="act_user")
action = cols[2].text_input("Action", key="act_action", placeholder="e.g. approval_decided").strip() or None
span = cols[3].date_input("Between", (date.today() - timedelta(days=30), date.today()), key="act_dates")
start, end = (span[0], span[1]) if isinstance(span, tuple) and len(span) == 2 else (None, None)
filters = ActivityFilter(entity_type=entity, user_id=user, action=action, start=start, end=end)

with guarded():
    total = count(database, actor, filters)
    offset, limit = paginate(min(total, COUNT_CAP), PAGE_SIZE, key="act_page")
    rows = search(database, actor, filters, offset=offset, limit=limit)
    if not rows:
        empty_state("No activity matches these filters. Widen the dates or clear a filter.")
    else:
        if total > COUNT_CAP:
            st.caption(f"More than {COUNT_CAP:,} rows match: narrow the filters to reach the older ones.")
        frame = pd.DataFrame([{"when": r.created_at.strftime("%Y-%m-%d %H:%M:%S"), "who": email or "system",
                               "entity": r.entity_type, "action": r.action,
                               "details": json.dumps(r.details or {}, ensure_ascii=False, default=str)[:200]}
                              for r, email in rows])
        st.dataframe(frame, hide_index=True, width="stretch")
        index = st.selectbox("Read one entry in full", range(len(rows)), key="act_detail",
                             format_func=lambda i: f"{frame.iloc[i]['when']} · {frame.iloc[i]['action']}")
        entry, email = rows[index]
        st.json({"who": email or "system", "entity": entry.entity_type, "entity_id": str(entry.entity_id),
                 "action": entry.action, "details": entry.details or {}})
