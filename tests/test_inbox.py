"""The task inbox under AppTest: one decision per task with the next one opening by itself, snooze,
saved views, counts per queue, and the stable sort."""
from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from byte_core.access import Actor
from byte_core.demo import WORKFLOW_DIR
from byte_core.errors import InvalidInput, PermissionDenied
from byte_core.models import Contact, Task
from byte_core.task_queue import MINE, queue_counts, task_queue
from byte_core.task_views import list_views, save_view
from byte_core.users import add_user
from byte_core.workflow.commands import claim_task, snooze_task, start_execution
from byte_core.workflow.definitions import save_definition

PAGE = str(Path(__file__).resolve().parents[1] / "pages" / "tasks.py")
REVIEW = json.loads((WORKFLOW_DIR / "application_review.json").read_text())


@pytest.fixture
def reviewer(database, actor):
    user = add_user(database, actor, f"rev@{actor.org_id}.example.com", "reviewer", password=None)
    return Actor(actor.org_id, user.id, frozenset({"reviewer"}), user.email)


def _reviews(database, actor, count: int) -> None:
    save_definition(database, actor, REVIEW)
    with database.session(actor.org_id) as s:
        for i in range(count):
            s.add(Contact(org_id=actor.org_id, first_name=f"Person{i}", last_name="Test", email=f"p{i}@example.org"))
    for i in range(count):
        start_execution(database, actor, REVIEW["name"], f"p{i}@example.org")


def _inbox(person: Actor, queue: str = MINE) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=30)
    at.session_state["actor"] = person
    at.run()
    if queue != MINE:
        at.segmented_control(key="tq_queue").set_value(queue).run()
    assert not at.exception, at.exception
    return at


def test_clearing_five_tasks_is_one_click_each_and_the_next_opens_by_itself(database, actor, reviewer):
    _reviews(database, actor, 5)
    at = _inbox(reviewer, "reviewer")
    opened = []
    for _ in range(5):
        opened.append(at.session_state["tq_open"])
        at.button(key="tq_complete").click().run()
        assert not at.exception, at.exception
        assert not at.error, [e.value for e in at.error]
        assert "The next task is open" in at.success[0].value
    assert len(set(opened)) == 5
    with database.session(actor.org_id) as s:
        statuses = s.scalars(select(Task.status).where(Task.created_by_step_id == "step_2")).all()
    assert sorted(statuses) == ["done"] * 5
    assert any("This queue is clear" in i.value for i in at.info)


def test_a_required_comment_is_asked_for_and_nothing_is_decided_without_it(database, actor, reviewer):
    manager = add_user(database, actor, f"mgr@{actor.org_id}.example.com", "manager", password=None)
    boss = Actor(actor.org_id, manager.id, frozenset({"manager"}), manager.email)
    _reviews(database, actor, 1)
    review = task_queue(database, reviewer, "reviewer").rows[0]
    from byte_core.workflow.commands import complete_task
    from byte_core.workflow.runner import drain_org

    complete_task(database, reviewer, review.id)
    drain_org(database, actor.org_id)
    at = _inbox(boss, "manager")
    at.button(key="tq_approve").click().run()
    assert "A comment is required" in at.error[0].value
    opened = at.session_state["tq_open"]
    at.text_area(key=f"tq_comment_{opened}").input("Strong file")  # sent with the decision (one form)
    at.button(key="tq_approve").click().run()
    assert not at.error
    with database.session(actor.org_id) as s:
        decided = s.get(Task, opened)
    assert decided.outcome == "approved" and decided.outcome_comment == "Strong file"


def test_snooze_hides_a_task_from_my_tasks_until_its_day(database, actor, reviewer):
    _reviews(database, actor, 2)
    first, second = task_queue(database, reviewer, "reviewer").rows
    claim_task(database, reviewer, first.id)
    claim_task(database, reviewer, second.id)
    held = {r.id: r for r in task_queue(database, reviewer, MINE).rows}
    tomorrow = date.today() + timedelta(days=1)
    snooze_task(database, reviewer, first.id, tomorrow, expected_version=held[first.id].version)
    assert [r.id for r in task_queue(database, reviewer, MINE).rows] == [second.id]
    assert {r.id for r in task_queue(database, reviewer, MINE, today=tomorrow).rows} == {first.id, second.id}
    assert queue_counts(database, reviewer)[MINE] == 1
    with pytest.raises(InvalidInput, match="after today"):
        snooze_task(database, reviewer, second.id, date.today())
    other = add_user(database, actor, f"o@{actor.org_id}.example.com", "reviewer", password=None)
    with pytest.raises(PermissionDenied, match="Only the person holding"):
        snooze_task(database, Actor(actor.org_id, other.id, frozenset({"reviewer"}), other.email), second.id, tomorrow)


def test_snooze_from_the_inbox(database, actor, reviewer):
    _reviews(database, actor, 1)
    task = task_queue(database, reviewer, "reviewer").rows[0]
    claim_task(database, reviewer, task.id)
    at = _inbox(reviewer)
    assert at.session_state["tq_open"] == task.id
    # The day typed reaches the page with the click itself (as in a browser): the click snoozes to that day.
    later = date.today() + timedelta(days=3)
    at.date_input(key=f"tq_snooze_{task.id}").set_value(later)
    at.button(key="tq_snooze").click().run()
    assert f"until {later:%b %d}" in at.success[0].value
    assert task_queue(database, reviewer, MINE).rows == []
    assert task_queue(database, reviewer, MINE, include_snoozed=True).rows[0].snoozed_until == later


def test_a_saved_view_restores_queue_search_and_sort(database, actor, reviewer):
    _reviews(database, actor, 3)
    at = _inbox(reviewer, "reviewer")
    at.text_input(key="tq_search").input("Person1").run()
    at.selectbox(key="tq_sort").set_value("age").run()
    save_view(database, reviewer, "Person one", queue="reviewer", search="Person1", sort="age")
    (view,) = list_views(database, reviewer)
    fresh = _inbox(reviewer)
    fresh.button(key=f"tq_view_{view.id}").click().run()
    assert fresh.session_state["tq_queue"] == "reviewer" and fresh.session_state["tq_search"] == "Person1"
    assert fresh.session_state["tq_sort"] == "age"
    assert [r.contact for r in task_queue(database, reviewer, "reviewer", search="Person1").rows] == ["Person1 Test"]


def test_sorts_are_stable_with_tie_breakers(database, actor, reviewer):
    _reviews(database, actor, 4)
    for sort in ("due date", "priority", "age"):
        once = [r.id for r in task_queue(database, reviewer, "reviewer", sort=sort).rows]
        again = [r.id for r in task_queue(database, reviewer, "reviewer", sort=sort).rows]
        assert once == again and len(once) == 4


def test_queue_counts_and_empty_search_message(database, actor, reviewer):
    _reviews(database, actor, 2)
    assert queue_counts(database, reviewer) == {MINE: 0, "reviewer": 2}
    at = _inbox(reviewer, "reviewer")
    assert "Reviewer queue (2)" in str(at.segmented_control(key="tq_queue").options)
    at.text_input(key="tq_search").input("nobody-like-this").run()
    assert any("No task matches" in i.value for i in at.info)


def test_counting_a_queue_reads_no_rows_and_a_page_is_read_with_its_count(database, actor, reviewer):
    _reviews(database, actor, 3)
    counted = task_queue(database, reviewer, "reviewer", limit=0)
    assert counted.rows == [] and counted.total == 3
    paged = task_queue(database, reviewer, "reviewer", limit=2, page=2)
    assert len(paged.rows) == 1 and paged.total == 3
    assert len(task_queue(database, reviewer, "reviewer", limit=2, page=9).rows) == 1  # clamped to the last page


def test_task_detail_reads_the_task_its_contact_and_execution_together(database, actor, reviewer):
    from byte_core.task_queue import task_detail
    from byte_core.workflow.inspect import get_execution

    _reviews(database, actor, 1)
    row = task_queue(database, reviewer, "reviewer").rows[0]
    detail = task_detail(database, reviewer, row.id)
    expected = get_execution(database, reviewer, row.execution_id)
    assert detail.row.id == row.id and detail.row.version == row.version
    assert detail.contact["name"] == expected.contact.full_name == row.contact
    assert detail.execution.execution.id == row.execution_id
    assert [s.step_id for s in detail.execution.steps] == [s.step_id for s in expected.steps]
    assert row.id in [t.id for t in detail.execution.tasks]


def test_a_search_pages_its_matches_in_the_queues_own_order(database, actor, reviewer):
    """A search takes another path (matches first, then a page by id): its pages must be the unsearched
    queue's order, filtered, whichever half (title or contact name) matched."""
    _reviews(database, actor, 7)
    for sort in ("due date", "priority", "age"):
        everything = task_queue(database, reviewer, "reviewer", sort=sort, limit=100).rows
        wanted = [r.id for r in everything if "test" in (r.contact or "").lower() or "test" in r.title.lower()]
        assert len(wanted) >= 7
        pages = [task_queue(database, reviewer, "reviewer", sort=sort, search="TEST", limit=3, page=n) for n in (1, 2, 3)]
        assert all(p.total == len(wanted) for p in pages)
        assert [r.id for p in pages for r in p.rows] == wanted[:9]
    named = task_queue(database, reviewer, "reviewer", search="person3 t").rows  # contact name only
    assert [r.contact for r in named] == ["Person3 Test"]
    assert task_queue(database, reviewer, "reviewer", search="Person3", page=99).rows == named  # clamped


def test_bulk_claim_takes_what_it_can_and_names_what_someone_else_took(database, actor, reviewer):
    from byte_core.workflow.commands import claim_tasks

    _reviews(database, actor, 2)
    first, second = task_queue(database, reviewer, "reviewer").rows[:2]
    rival = add_user(database, actor, f"rival@{actor.org_id}.example.com", "reviewer", password=None)
    claim_task(database, Actor(actor.org_id, rival.id, frozenset({"reviewer"}), rival.email), second.id,
               expected_version=second.version)
    result = claim_tasks(database, reviewer, [(first.id, first.version), (second.id, second.version)],
                         {first.id: first.title, second.id: second.title})
    assert result.claimed == 1 and len(result.refused) == 1 and result.refused[0].startswith(second.title + ": ")
    assert [r.id for r in task_queue(database, reviewer, MINE).rows] == [first.id]
