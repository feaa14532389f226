"""The one place that makes text a person or a webhook typed safe to show or to export.

- `md_escape`: for text placed inside Markdown (`st.markdown`, `st.caption`, titles, labels with
  Markdown): every ASCII punctuation character is backslash-escaped (CommonMark allows that for all of
  them), so no link, image, emphasis, HTML tag or Streamlit directive (`:red[...]`, `:material/x:`) can
  come out of it, and bare URLs are broken with an invisible word joiner so they are not auto-linked.
  Line breaks become spaces: user text never starts a block.
- `csv_cell`: OWASP's rule against formula injection in CSV downloads.
"""
from __future__ import annotations

import re
import string
from typing import Any

_MD_SPECIAL = {ord(ch): "\\" + ch for ch in string.punctuation}
# Streamlit's Markdown turns bare URLs into links after escapes are resolved, so a backslash cannot stop
# "https://..." or "www.x" from becoming a live link: an invisible word joiner (U+2060) breaks the pattern.
_WORD_JOINER = "\u2060"
_AUTOLINKS = ((re.compile(r"(?i)(\\:)(\\/\\/)"), "\\1" + _WORD_JOINER + "\\2"),
              (re.compile(r"(?i)\b(www)(\\\.)"), "\\1" + _WORD_JOINER + "\\2"))
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def md_escape(value: Any) -> str:
    """`value` as literal text inside Markdown; None becomes ''."""
    if value is None:
        return ""
    text = str(value).replace("\r\n", " ").replace("\n", " ").replace("\r", " ")
    escaped = text.translate(_MD_SPECIAL)
    for pattern, replacement in _AUTOLINKS:
        escaped = pattern.sub(replacement, escaped)
    return escaped


def csv_cell(value: Any) -> Any:
    """A cell for a CSV download: text that a spreadsheet would run as a formula gets a leading quote."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value
