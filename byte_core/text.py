"""The one place that makes text a person or a webhook typed safe to show or to export.

- `md_escape`: for text placed inside Markdown (`st.markdown`, `st.caption`, titles, labels with
  Markdown): every ASCII punctuation character is backslash-escaped (CommonMark allows that for all of
  them), so no link, image, emphasis, HTML tag or Streamlit directive (`:red[...]`, `:material/x:`) can
  come out of it. Escapes do not stop GFM's bare-URL autolinks (remark-gfm finds `https://…` and `www.…`
  in the text after escapes are resolved: checked in Chromium), so a zero-width space goes after `:` in
  `://` and after `www`. Line breaks become spaces: user text never starts a block.
- `csv_cell`: OWASP's rule against formula injection in CSV downloads; `csv_text` and `records_csv` build
  every CSV the product offers for download through it (contacts export, analytics data).
- `search_text`: what a person typed into a search or filter box, made safe to send to PostgreSQL.
- `chart_rows`: rows for a Plotly chart. Plotly draws a subset of HTML in every text it shows, data-driven
  tick labels and legend entries included (`<a href>` becomes a live link, `<b>` bold: checked in
  Chromium), so text values are HTML-escaped; Plotly shows `&lt;` as `<`.
"""
from __future__ import annotations

import csv
import io
import re
import string
from typing import Any, Iterable, Mapping, Sequence

_MD_SPECIAL = {ord(ch): "\\" + ch for ch in string.punctuation}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_ZERO_WIDTH_SPACE = "\u200b"
_AUTOLINK_START = re.compile(r"(:|www)(//|\.)", re.IGNORECASE)  # what GFM autolink literals start from


def md_escape(value: Any) -> str:
    """`value` as literal text inside Markdown; None becomes ''."""
    if value is None:
        return ""
    text = str(value).replace("\r\n", " ").replace("\n", " ").replace("\r", " ")
    text = _AUTOLINK_START.sub(lambda m: m.group(1) + _ZERO_WIDTH_SPACE + m.group(2), text)
    return text.translate(_MD_SPECIAL)


def csv_cell(value: Any) -> Any:
    """A cell for a CSV download: text that a spreadsheet would run as a formula gets a leading quote."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def csv_text(header: Sequence[str], rows: Iterable[Iterable[Any]]) -> str:
    """A CSV document whose every cell went through `csv_cell`: the one way downloads are built."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([csv_cell(name) for name in header])
    writer.writerows([csv_cell(cell) for cell in row] for row in rows)
    return out.getvalue()


def records_csv(records: Sequence[Mapping[str, Any]]) -> str:
    """`csv_text` for a list of dicts (chart data): the columns are the first record's keys."""
    header = list(records[0]) if records else []
    return csv_text(header, ([record.get(name) for name in header] for record in records))


def search_text(value: str | None) -> str:
    """Search or filter text without NUL characters (PostgreSQL text cannot hold them: a query would fail),
    and trimmed. Every search box and text filter passes through here."""
    return (value or "").replace("\x00", "").strip()


def contains_nul(value: Any) -> bool:
    """Whether a NUL character hides anywhere in a string, or in the keys and values of a dict or list."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(contains_nul(k) or contains_nul(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(contains_nul(v) for v in value)
    return False


def chart_text(value: Any) -> Any:
    """A value for a Plotly label: text HTML-escaped (& < >), anything else unchanged."""
    if isinstance(value, str):
        return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return value


def chart_rows(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Chart data with every text value through `chart_text` (downloads keep the raw rows)."""
    return [{key: chart_text(value) for key, value in row.items()} for row in rows]
