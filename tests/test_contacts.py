"""Contacts service: validation, CSV preview with per-row errors, import in batches, export, timeline."""
from __future__ import annotations

import csv
import io

import pytest

from byte_core.contacts import (export_csv, import_contacts, preview_csv, save_contact, search_contacts, timeline)
from byte_core.errors import InvalidInput

CSV = """first_name,last_name,email,phone,tags,favourite_colour
Ada,Lovelace,ada@example.org,555-0100,vip;math,blue
Grace,Hopper,not-an-email,,navy,green
,NoFirst,nofirst@example.org,,,
Alan,Turing,ada@example.org,,,
Katherine,Johnson,kj@example.org,(555) 010-2000,nasa,
"""


def test_preview_reports_each_bad_row_and_writes_nothing(database, actor):
    preview = preview_csv(CSV.encode(), database, actor)
    assert [c["email"] for c in preview.valid] == ["ada@example.org", "kj@example.org"]
    assert preview.valid[0]["tags"] == ["math", "vip"]
    assert preview.unknown_columns == ["favourite_colour"]
    assert [line for line, _ in preview.errors] == [3, 4, 5]
    assert "email 'not-an-email' is not valid" in preview.errors[0][1]
    assert "first name is required" in preview.errors[1][1]
    assert "already in this file" in preview.errors[2][1]
    assert search_contacts(database, actor).total == 0


def test_import_then_export_round_trip_and_duplicates_against_stored(database, actor):
    done = []
    count = import_contacts(database, actor, preview_csv(CSV.encode(), database, actor).valid, batch_size=1,
                            progress=lambda n, total: done.append((n, total)))
    assert count == 2 and done == [(1, 2), (2, 2)]
    again = preview_csv(CSV.encode(), database, actor)
    assert not again.valid and any("already a contact" in message for _, message in again.errors)
    rows = list(csv.DictReader(io.StringIO(export_csv(database, actor))))
    assert sorted(r["email"] for r in rows) == ["ada@example.org", "kj@example.org"]
    assert search_contacts(database, actor, "555 0102").total == 1  # phone digits, whatever the formatting
    assert search_contacts(database, actor, tag="nasa").rows[0].last_name == "Johnson"


def test_header_without_names_is_refused_with_the_expected_columns(database, actor):
    with pytest.raises(InvalidInput, match="first_name and last_name"):
        preview_csv(b"name,email\nAda,ada@example.org\n")


def test_edit_is_audited_with_its_changes_and_shows_on_the_timeline(database, actor):
    contact = save_contact(database, actor, {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.org"})
    save_contact(database, actor, {"first_name": "Ada", "last_name": "King", "email": "ada@example.org"}, contact.id)
    with pytest.raises(InvalidInput, match="another contact already has email"):
        save_contact(database, actor, {"first_name": "X", "last_name": "Y", "email": "ADA@example.org"})
    events = timeline(database, actor, contact.id)
    assert [e.sentence for e in events] == ["System updated contact Ada King (last name)",
                                            "System added contact Ada King"]
    assert events[0].details["changes"]["last_name"] == {"from": "Lovelace", "to": "King"}


def test_email_and_name_keys_match_whatever_case_was_stored(database, actor):
    """Lookups compare PostgreSQL-kept keys (contacts.email_key, name_key; migration 0018), so a row stored
    before emails were lowercased is still found, and a duplicate is still refused."""
    from byte_core.models import Contact
    from byte_core.workflow.commands import find_contact

    with database.session(actor.org_id) as s:
        s.add(Contact(org_id=actor.org_id, first_name="Legacy", last_name="McCASE", email="Legacy.Case@Example.ORG"))
    with database.session(actor.org_id) as s:
        assert find_contact(s, "legacy.case@example.org").last_name == "McCASE"
    with pytest.raises(InvalidInput, match="email"):
        save_contact(database, actor, {"first_name": "New", "last_name": "Person", "email": "LEGACY.case@example.org"})
    assert [c.last_name for c in search_contacts(database, actor, "legacy mcc").rows] == ["McCASE"]
