"""BYTE Dashboard entry point (issue [3/4] builds login and the role-based pages)."""
import streamlit as st

from byte_core.intake.http import routes

# `streamlit run app.py` serves this ASGI app: the dashboard script plus our /api/ routes.
app = st.App(__file__, routes=routes)

if st.runtime.exists():
    st.set_page_config(page_title="BYTE Dashboard", page_icon="🧭", layout="wide")
    st.title("BYTE Dashboard")
    st.info("The dashboard pages arrive with the next change; the database and scheduler are running.")
