"""Unit tier: reading definition files and text as JSON without crashing or stalling, no database."""
import codecs
import json

from byte_core.workflow.source import MAX_BYTES, MAX_DEPTH, parse_bytes, parse_text, read_file

DOC = {"name": "x", "steps": [{"id": "a", "note": "brackets in text: [[[{{{ and an escaped quote \\\" ]"}]}


def test_utf8_with_or_without_a_byte_order_mark_is_read():
    raw = json.dumps(DOC).encode()
    assert parse_bytes(raw) == (DOC, [])
    assert parse_bytes(codecs.BOM_UTF8 + raw) == (DOC, [])


def test_wide_encodings_and_broken_utf8_say_what_to_do():
    for raw, words in ((json.dumps(DOC).encode("utf-16"), "UTF-16"), (json.dumps(DOC).encode("utf-32"), "UTF-32"),
                       (json.dumps(DOC).encode("utf-16-le"), "UTF-16 or UTF-32"),
                       (b'{"name": "caf\xe9"}', "not valid UTF-8 (byte 14, line 1)")):
        data, errors = parse_bytes(raw)
        assert data is None and len(errors) == 1 and words in errors[0].message and errors[0].field == "file"


def test_size_is_capped_before_parsing(tmp_path):
    path = tmp_path / "big.json"
    path.write_bytes(b" " * (MAX_BYTES + 10))
    data, errors = read_file(path)
    assert data is None and "larger than 1024 KiB" in errors[0].message
    assert "no such file" in read_file(tmp_path / "missing.json")[1][0].message
    assert "is a folder" in read_file(tmp_path)[1][0].message


def test_depth_is_bounded_without_recursion_and_strings_do_not_count():
    deep = "[" * 100_000 + "]" * 100_000
    data, errors = parse_text(deep)
    assert data is None and f"more than {MAX_DEPTH} levels" in errors[0].message
    fine = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    assert parse_text(fine)[1] == []
    assert parse_text(json.dumps({"text": "[" * 5000 + '\\"' + "{" * 5000}))[1] == []


def test_syntax_errors_duplicates_and_huge_numbers_are_reported():
    assert "not valid JSON (line 2, column 1" in parse_text('{"a":\n')[1][0].message
    assert "'name'" in parse_text('{"name": "a", "name": "b"}')[1][0].message
    assert "4,300 digits" in parse_text("9" * 5000)[1][0].message
