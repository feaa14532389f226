"""BYTE Dashboard entry point (issue [3/4] builds login and the role-based pages)."""
import streamlit as st

st.set_page_config(page_title="BYTE Dashboard", page_icon="🧭", layout="wide")
st.title("BYTE Dashboard")
st.info("The dashboard pages arrive with the next change; the database and scheduler are running.")
