"""One hostile string through md_escape into every kind of Markdown the pages use (for
tests/test_browser_markdown.py): what the browser draws is the truth AppTest cannot see."""
import streamlit as st

from byte_core.text import md_escape

HOSTILE = ("[Verify](https://evil.example/login) ![x](https://evil.example/i.png) **b** <img src=x> :red[a] "
           ":material/home: _i_ `c` $x^2$ www.evil.example https://evil.example/bare")

st.title(md_escape(HOSTILE))
st.markdown(md_escape(HOSTILE))
st.caption(md_escape(HOSTILE))
st.button(md_escape(HOSTILE))
st.error(md_escape(HOSTILE))
st.page_link("https://example.org", label=md_escape(HOSTILE))
