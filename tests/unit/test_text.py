"""Unit tier: the escaping helpers, no database."""
import csv
import io
import re
from pathlib import Path

from byte_core.text import csv_cell, md_escape


def test_markdown_escape_neutralises_links_images_html_and_directives():
    hostile = "[Verify](https://evil.example/login) ![x](https://evil.example/i.png) **b** <img src=x> :red[a]"
    escaped = md_escape(hostile)
    for fragment in ("[Verify]", "](", "![", "**", ":red[", "https://"):
        assert fragment not in escaped
    assert re.search(r"(?<!\\)<", escaped) is None  # "\<img" is a literal "<img" in Markdown, not a tag
    resolved = re.sub(r"\\(.)", r"\1", escaped)  # the text once Markdown has resolved the escapes
    assert "https://" not in resolved  # no GFM autolink
    assert "www.evil" not in re.sub(r"\\(.)", r"\1", md_escape("www.evil.example"))
    assert resolved.replace("\u200b", "") == hostile  # reads as typed
    assert md_escape(None) == ""
    assert md_escape("line one\nline two") == "line one line two"
    assert md_escape("Ann Lee") == "Ann Lee"


def test_csv_cells_that_start_a_formula_are_quoted():
    for value in ("=HYPERLINK(\"x\")", "+1+2", "-2+3", "@SUM(A1)", "\tx", "\rx"):
        assert csv_cell(value) == "'" + value
    assert csv_cell("Ann") == "Ann"
    assert csv_cell(12) == 12


def test_every_csv_document_is_built_with_neutralised_cells():
    from byte_core.text import csv_text, records_csv

    hostile = ["=HYPERLINK(\"https://evil.example\",\"x\")", "+1+2", "-2+3", "@SUM(A1)", "\tx", "\rx"]
    for document in (csv_text(["=name", "value"], [[value, value] for value in hostile]),
                     records_csv([{"=name": value, "value": value} for value in hostile])):
        cells = [cell for row in csv.reader(io.StringIO(document)) for cell in row]
        assert cells and not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert records_csv([]) == "\r\n"


def test_search_text_drops_nul_and_trims():
    from byte_core.text import search_text

    assert search_text(" smi\x00th ") == "smith"
    assert search_text(None) == ""
    assert search_text("\x00") == ""


def test_pages_build_no_csv_of_their_own():
    """Downloads go through byte_core.text (csv_text/records_csv); a page calling DataFrame.to_csv or the csv
    module would skip the formula neutralisation."""
    pages = Path(__file__).resolve().parents[2] / "pages"
    offenders = [p.name for p in [*pages.glob("*.py"), pages.parent / "app.py"]
                 if ".to_csv(" in p.read_text() or "import csv" in p.read_text()]
    assert not offenders


def test_chart_rows_escape_html_in_text_values_only():
    from byte_core.text import chart_rows

    rows = chart_rows([{"workflow": '<a href="https://evil.example">x</a> & <b>y</b>', "count": 3}])
    assert rows == [{"workflow": '&lt;a href="https://evil.example"&gt;x&lt;/a&gt; &amp; &lt;b&gt;y&lt;/b&gt;',
                     "count": 3}]
