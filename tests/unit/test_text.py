"""Unit tier: the escaping helpers, no database."""
import re

from byte_core.text import csv_cell, md_escape


def test_markdown_escape_neutralises_links_images_html_and_directives():
    hostile = "[Verify](https://evil.example/login) ![x](https://evil.example/i.png) **b** <img src=x> :red[a]"
    escaped = md_escape(hostile)
    # every Markdown/HTML/directive character arrives backslash-escaped, so none of them can act
    assert re.search(r"(?<!\\)[\[\]()*<>!:_`#|~]", escaped) is None
    assert escaped.replace("\\", "").replace("\u2060", "") == hostile
    assert md_escape(None) == ""
    assert md_escape("line one\nline two") == "line one line two"
    assert md_escape("Ann Lee") == "Ann Lee"


def test_csv_cells_that_start_a_formula_are_quoted():
    for value in ("=HYPERLINK(\"x\")", "+1+2", "-2+3", "@SUM(A1)", "\tx", "\rx"):
        assert csv_cell(value) == "'" + value
    assert csv_cell("Ann") == "Ann"
    assert csv_cell(12) == 12
