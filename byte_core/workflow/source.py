"""Definition files and edited text into JSON data, safely: a size cap, a clear word on the encoding, nesting
bounded before the parser sees it (the json module recurses), duplicate keys and huge numbers reported.

Every problem is a `DefinitionError` for the field "file" or "json", never an exception.
"""
from __future__ import annotations

import codecs
import json
from itertools import accumulate
from pathlib import Path
from typing import Any

from .problems import DefinitionError

MAX_BYTES = 1024 * 1024
MAX_DEPTH = 40  # a definition needs about 6 levels; variables and metadata get the rest
_BRACKETS = b"[]{}"
_NOT_A_BRACKET = bytes(b for b in range(256) if b not in _BRACKETS)  # UTF-8 never hides these in other bytes
_BRACKET_STEP = tuple(1 if b in b"[{" else -1 if b in b"]}" else 0 for b in range(256))
_WIDE_BOMS = ((codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"), (codecs.BOM_UTF16_LE, "UTF-16"),
              (codecs.BOM_UTF16_BE, "UTF-16"))


def _problem(field: str, message: str) -> tuple[None, list[DefinitionError]]:
    return None, [DefinitionError(None, field, message)]


def read_file(path: str | Path) -> tuple[Any, list[DefinitionError]]:
    """A definition file's JSON data, or why it cannot be read."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        return _problem("file", f"{path}: no such file")
    except IsADirectoryError:
        return _problem("file", f"{path}: is a folder, not a file")
    except OSError as exc:
        return _problem("file", f"{path}: cannot be read ({exc.strerror or exc})")
    return parse_bytes(raw)


def parse_bytes(raw: bytes) -> tuple[Any, list[DefinitionError]]:
    if len(raw) > MAX_BYTES:
        return _problem("file", f"is larger than {MAX_BYTES // 1024} KiB; a workflow definition is far smaller")
    for bom, encoding in _WIDE_BOMS:
        if raw.startswith(bom):
            return _problem("file", f"is saved as {encoding}; save it as UTF-8 and try again")
    if len(raw) >= 2 and (raw[0] == 0 or raw[1] == 0):
        return _problem("file", "looks like UTF-16 or UTF-32 text (it has NUL bytes); save it as UTF-8 and try again")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        return _problem("file", f"is not valid UTF-8 (byte {exc.start + 1}, line {line}); save it as UTF-8 "
                                "and try again")
    return parse_text(text)


def parse_text(text: str) -> tuple[Any, list[DefinitionError]]:
    """Edited JSON text as data; a syntax error names its line and column."""
    if len(text) > MAX_BYTES:
        return _problem("json", f"is longer than {MAX_BYTES // 1024} KiB; a workflow definition is far smaller")
    too_deep = _depth_problem(text)
    if too_deep:
        return _problem("json", too_deep)
    duplicates: list[str] = []

    def no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result = dict(pairs)
        if len(result) != len(pairs):  # rare: only then look for which key came twice
            seen: set[str] = set()
            duplicates.extend(key for key, _ in pairs if (key in seen or seen.add(key)) and key not in duplicates)
        return result

    try:
        data = json.loads(text, object_pairs_hook=no_duplicate_keys)
    except json.JSONDecodeError as exc:
        return _problem("json", f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})")
    except ValueError:  # the only other ValueError json raises: an integer of more than 4,300 digits
        return _problem("json", "holds a number with more than 4,300 digits")
    except RecursionError:  # unreachable after the depth check; kept so no input can raise
        return _problem("json", f"is nested more than {MAX_DEPTH} levels deep")
    if duplicates:
        shown = ", ".join(repr(k) for k in duplicates[:5])
        return _problem("json", f"a key is given twice in one object ({shown}); keep one of each")
    return data, []


def _depth_problem(text: str) -> str | None:
    """How deep the brackets go outside strings, with no Python step per character (and no regular
    expression): escaped backslashes and quotes go first, so the quotes left alternate opening and closing and
    every other piece between them lies outside strings; of those only the bracket bytes are kept and summed
    (+1 opening, -1 closing)."""
    bare = text.replace("\\\\", "").replace('\\"', "")
    outside = "".join(bare.split('"')[0::2]).encode("utf-8", "surrogatepass")
    levels = accumulate(map(_BRACKET_STEP.__getitem__, outside.translate(None, _NOT_A_BRACKET)), initial=0)
    if max(levels) > MAX_DEPTH:
        return f"is nested more than {MAX_DEPTH} levels deep"
    return None
