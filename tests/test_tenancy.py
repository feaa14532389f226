"""Tenancy at the service layer (issue [C] 7): another organization's ids are "not found", exactly like ids
that exist nowhere, and adding a user never says that an email belongs to another organization."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text

from byte_core.access import Actor
from byte_core.errors import Conflict, NotFound
from byte_core.notes import add_note, list_notes
from byte_core.users import add_user
from tests.conftest import new_org
from tests.test_rls import populate


@pytest.fixture(scope="module")
def two_orgs(database):
    a, b = new_org(database, "ten-a"), new_org(database, "ten-b")
    return a.id, populate(database, a.id), b.id, populate(database, b.id)


PARENTS = [("contact", "contacts"), ("workflow_execution", "workflow_executions"), ("task", "tasks")]


@pytest.mark.parametrize("entity_type, table", PARENTS)
def test_a_note_on_another_orgs_row_is_not_found_like_a_random_id(database, two_orgs, entity_type, table):
    a, a_ids, _, b_ids = two_orgs
    writer = Actor(a, a_ids["users"], frozenset({"reviewer"}), "writer@example.com")
    messages = []
    for foreign in (b_ids[table], uuid.uuid4()):
        with pytest.raises(NotFound) as refused:
            add_note(database, writer, entity_type, foreign, "hello from org A")
        messages.append(str(refused.value))
    assert messages[0] == messages[1]  # no existence oracle
    assert add_note(database, writer, entity_type, a_ids[table], "on my own row").content == "on my own row"
    with database.session(a) as s:
        stray = s.execute(text("SELECT count(*) FROM notes WHERE content = 'hello from org A'")).scalar_one()
    assert stray == 0 and len(list_notes(database, writer, entity_type, a_ids[table])) >= 1


def test_adding_a_user_whose_email_another_org_holds_says_only_that_it_is_taken(database, two_orgs):
    a, _, b, _ = two_orgs
    admin_a, admin_b = Actor.system(a, "admin-a"), Actor.system(b, "admin-b")
    add_user(database, admin_b, f"taken-{b}@example.com", ["reviewer"], password=None)
    add_user(database, admin_a, f"mine-{a}@example.com", ["reviewer"], password=None)
    with pytest.raises(Conflict) as elsewhere:
        add_user(database, admin_a, f"taken-{b}@example.com", ["reviewer"], password=None)
    with pytest.raises(Conflict) as here:
        add_user(database, admin_a, f"mine-{a}@example.com", ["reviewer"], password=None)
    assert "organization" not in str(elsewhere.value)
    assert str(elsewhere.value).replace(f"taken-{b}", "X") == str(here.value).replace(f"mine-{a}", "X")



def test_every_org_policy_reads_the_organization_as_a_subquery(database):
    """`org_id = byte_current_org()` lets the planner fold the organization current when a plan is made into
    its estimate, and a pooled connection's cached plan then serves every organization (migration 0017):
    every policy must compare with `(SELECT byte_current_org())`, a parameter to the planner."""
    with database.owner_engine.connect() as conn:
        policies = conn.execute(text("SELECT tablename, policyname, coalesce(qual, '') || ' ' || coalesce(with_check, '')"
                                     " FROM pg_policies WHERE schemaname = 'public'")).all()
    org_policies = [p for p in policies if "byte_current_org()" in p[2]]
    assert len(org_policies) >= 25
    direct = [f"{table}.{name}" for table, name, expression in org_policies
              if expression.count("byte_current_org()") != expression.count("SELECT byte_current_org()")]
    assert not direct, f"policies calling byte_current_org() directly: {direct}"
