"""The one place that makes text a person or a webhook typed safe to show or to export.

- `md_escape`: for text placed inside Markdown (`st.markdown`, `st.caption`, titles, labels with
  Markdown): every ASCII punctuation character is backslash-escaped (CommonMark allows that for all of
  them), so no link, image, emphasis, HTML tag, Streamlit directive (`:red[...]`, `:material/x:`) or
  bare-URL autolink can come out of it. Line breaks become spaces: user text never starts a block.
- `csv_cell`: OWASP's rule against formula injection in CSV downloads.
"""
from __future__ import annotations

import string
from typing import Any

_MD_SPECIAL = {ord(ch): "\\" + ch for ch in string.punctuation}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def md_escape(value: Any) -> str:
    """`value` as literal text inside Markdown; None becomes ''."""
    if value is None:
        return ""
    text = str(value).replace("\r\n", " ").replace("\n", " ").replace("\r", " ")
    return text.translate(_MD_SPECIAL)


def csv_cell(value: Any) -> Any:
    """A cell for a CSV download: text that a spreadsheet would run as a formula gets a leading quote."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value
