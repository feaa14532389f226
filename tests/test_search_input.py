"""Text typed into search and filter boxes (issue [C] 9-10): a NUL character never reaches PostgreSQL as a
DataError, and the contacts export neutralises cells a spreadsheet would run as formulas."""
from __future__ import annotations

import csv
import io

from byte_core.activity import ActivityFilter, count, search
from byte_core.contacts import export_csv, save_contact, search_contacts
from byte_core.task_queue import MINE, task_queue

NUL = "smi\x00th"


def test_contacts_search_and_tag_filter_accept_nul(database, actor):
    save_contact(database, actor, {"first_name": "Ann", "last_name": "Smith"})
    assert search_contacts(database, actor, NUL).total == 1  # the NUL is dropped: "smith" matches
    assert search_contacts(database, actor, "\x00", tag="\x00").total == 1
    assert export_csv(database, actor, NUL).count("Smith") == 1


def test_task_queue_search_accepts_nul(database, actor):
    assert task_queue(database, actor, "reviewer", search=NUL).total == 0
    assert task_queue(database, actor, MINE, search="\x00").total == 0


def test_activity_filters_accept_nul(database, actor):
    save_contact(database, actor, {"first_name": "Ann", "last_name": "Lee"})
    filters = ActivityFilter(entity_type="cont\x00act", user_id="\x00")  # the typed filters; actions come from a list
    assert count(database, actor, filters) == 1 and len(search(database, actor, filters)) == 1


def test_contacts_export_neutralises_formulas(database, actor):
    hostile = {"first_name": "=HYPERLINK(\"https://evil.example\",\"Click\")", "last_name": "+1+2",
               "city": "-2+3", "state": "@SUM(A1)", "tags": "=cmd|' /C calc'!A0"}
    save_contact(database, actor, hostile)
    rows = list(csv.reader(io.StringIO(export_csv(database, actor))))
    cells = [cell for row in rows[1:] for cell in row]
    assert len(rows) == 2 and "'=HYPERLINK(\"https://evil.example\",\"Click\")" in cells
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]


def test_nul_in_contact_fields_and_notes_is_refused_with_a_message(database, actor):
    import pytest

    from byte_core.access import Actor
    from byte_core.errors import InvalidInput
    from byte_core.notes import add_note
    from byte_core.users import add_user

    for values in ({"first_name": "A\x00", "last_name": "B"}, {"first_name": "A", "last_name": "B", "tags": "x\x00"},
                   {"first_name": "A", "last_name": "B", "metadata": {"k": "v\x00"}}):
        with pytest.raises(InvalidInput, match="NUL character"):
            save_contact(database, actor, values)
    contact = save_contact(database, actor, {"first_name": "A", "last_name": "B"})
    writer = add_user(database, actor, "nul-writer@example.com", ["reviewer"], password=None)
    with pytest.raises(InvalidInput, match="NUL character"):
        add_note(database, Actor(actor.org_id, writer.id, frozenset({"reviewer"})), "contact", contact.id, "a\x00b")
