"""Moving running executions to a new version (issue [E] item 4) on the real database: refusals before
anything changes, kept and recreated tasks, revert, and 1,000 executions moved while the scheduler runs."""
from __future__ import annotations

import json
import threading

import pytest
from sqlalchemy import select, text

from byte_core.access import Actor
from byte_core.demo import WORKFLOW_DIR
from byte_core.errors import InvalidInput
from byte_core.models import Contact, Task, WorkflowExecution
from byte_core.users import add_user
from byte_core.workflow.commands import complete_task, start_execution_in
from byte_core.workflow.definitions import get_definition_row, save_definition
from byte_core.workflow.authoring import running_by_step
from byte_core.workflow.migrate import migrate, plan_migration, revert_migration
from byte_core.workflow.runner import drain_org

REVIEW = json.loads((WORKFLOW_DIR / "application_review.json").read_text())


def _renamed_approval() -> dict:
    """Version 2: the manager approval is step 'approve' (ids and the templates that read it)."""
    return json.loads(json.dumps(REVIEW).replace('"step_4"', '"approve"').replace("{{step_4.", "{{approve."))


def _review_as_approval() -> dict:
    """Version 2: the reviewer's work is an approval instead of a task to wait for."""
    v2 = json.loads(json.dumps(REVIEW))
    for step in v2["steps"]:
        if step["id"] == "step_3":
            step.update(type="wait_for_approval", name="Review decision",
                        config={"title": "Decide on {{contact.first_name}}", "assign_to": {"type": "role",
                                                                                          "role": "reviewer"}})
    return v2


@pytest.fixture
def people(database, actor):
    made = {}
    for name, role in (("rev", "reviewer"), ("boss", "manager")):
        user = add_user(database, actor, f"{name}@{actor.org_id}.example.com", role, password=None)
        made[name] = Actor(actor.org_id, user.id, frozenset([role]), user.email)
    return made


def _start_many(database, actor, count: int) -> list:
    save_definition(database, actor, REVIEW)
    ids = []
    with database.session(actor.org_id) as s:
        definition = get_definition_row(s, REVIEW["name"])
        for i in range(count):
            contact = Contact(org_id=actor.org_id, first_name=f"P{i}", last_name="Move", email=f"m{i}@example.org")
            s.add(contact)
            s.flush()
            ids.append(start_execution_in(s, actor, definition, contact.id).id)
    drain_org(database, actor.org_id)
    return ids


def _open_tasks(database, org_id):
    with database.session(org_id) as s:
        return list(s.scalars(select(Task).where(Task.status.in_(("todo", "in_progress")))))


def _to_manager_approval(database, actor, people, ids):
    for task in _open_tasks(database, actor.org_id):
        complete_task(database, people["rev"], task.id)
    drain_org(database, actor.org_id)


def test_a_removed_step_or_a_waiting_step_mapped_onto_a_non_waiting_one_is_refused_first(database, actor, people):
    ids = _start_many(database, actor, 3)
    _to_manager_approval(database, actor, people, ids)
    save_definition(database, actor, _renamed_approval())
    plan = plan_migration(database, actor, REVIEW["name"], 1, 2)
    assert any("3 execution(s) sit on step_4, which version 2 does not have" in p for p in plan.problems)
    plan = plan_migration(database, actor, REVIEW["name"], 1, 2, {"step_4": "step_5"})
    assert any("would stop waiting" in p for p in plan.problems)
    with pytest.raises(InvalidInput, match="refused, nothing was changed"):
        migrate(database, actor, plan)
    with database.session(actor.org_id) as s:
        assert set(s.scalars(select(WorkflowExecution.definition_version))) == {1}


def test_an_approval_moved_onto_an_approval_keeps_its_task_and_goes_on_in_the_new_version(database, actor, people):
    ids = _start_many(database, actor, 20)
    _to_manager_approval(database, actor, people, ids)
    before = {t.id for t in _open_tasks(database, actor.org_id)}
    save_definition(database, actor, _renamed_approval())
    with database.session(actor.org_id) as s:
        definition_id = get_definition_row(s, REVIEW["name"]).id
    assert running_by_step(database, actor, definition_id, 1) == {"step_4": 20}
    plan = plan_migration(database, actor, REVIEW["name"], 1, 2, {"step_4": "approve"})
    assert plan.problems == [] and plan.by_step() == {("step_4", "approve", "kept"): 20}
    report = migrate(database, actor, plan)
    assert report.migrated == 20 and report.failed == []
    assert {t.id for t in _open_tasks(database, actor.org_id)} == before  # no task duplicated or lost
    task = _open_tasks(database, actor.org_id)[0]
    complete_task(database, people["boss"], task.id, outcome="approved", comment="after the move")
    drain_org(database, actor.org_id)
    with database.session(actor.org_id) as s:
        moved = s.get(WorkflowExecution, task.workflow_execution_id)
    assert moved.definition_version == 2 and moved.current_step_id == "step_7"


def test_a_task_wait_moved_onto_an_approval_is_recreated_and_the_revert_puts_it_back(database, actor, people):
    ids = _start_many(database, actor, 4)
    old_tasks = {t.id for t in _open_tasks(database, actor.org_id)}
    save_definition(database, actor, _review_as_approval())
    report = migrate(database, actor, plan_migration(database, actor, REVIEW["name"], 1, 2))
    assert report.migrated == 4
    drain_org(database, actor.org_id)
    now_open = _open_tasks(database, actor.org_id)
    assert len(now_open) == 4 and {t.task_type for t in now_open} == {"approval"}
    assert not old_tasks & {t.id for t in now_open}
    # one execution moves on after the migration: the revert leaves it where it is and says why
    complete_task(database, people["rev"], now_open[0].id, outcome="approved")
    drain_org(database, actor.org_id)
    undo = revert_migration(database, actor, report.migration_id)
    assert undo.reverted == 3 and len(undo.kept) == 1 and "moved on since the migration" in undo.kept[0][1]
    reopened = {t.id for t in _open_tasks(database, actor.org_id) if t.task_type == "standard"}
    assert len(reopened) == 3 and reopened <= old_tasks
    with database.session(actor.org_id) as s:
        versions = dict(s.execute(select(WorkflowExecution.id, WorkflowExecution.definition_version)).all())
    assert sorted(versions.values()) == [1, 1, 1, 2]


SHORT = {"name": "Quick approval", "phases": [{"id": "p", "name": "Only", "order": 1}], "variables": {},
         "steps": [{"id": "go", "order": 1, "phase_id": "p", "type": "trigger", "name": "Start", "config": {}},
                   {"id": "ok", "order": 2, "phase_id": "p", "type": "wait_for_approval", "name": "Approve",
                    "config": {"title": "Approve {{contact.first_name}}",
                               "assign_to": {"type": "role", "role": "manager"}}},
                   {"id": "end", "order": 3, "phase_id": "p", "type": "end", "name": "End", "config": {}}]}


def test_a_thousand_executions_move_while_the_scheduler_runs(database, actor, people):
    save_definition(database, actor, SHORT)
    with database.session(actor.org_id) as s:
        definition = get_definition_row(s, SHORT["name"])
        for i in range(1000):
            contact = Contact(org_id=actor.org_id, first_name=f"Q{i}", last_name="Move", email=f"q{i}@example.org")
            s.add(contact)
            s.flush()
            start_execution_in(s, actor, definition, contact.id)
    drain_org(database, actor.org_id)
    tasks_before = {t.id for t in _open_tasks(database, actor.org_id)}
    assert len(tasks_before) == 1000
    save_definition(database, actor, json.loads(json.dumps(SHORT).replace('"ok"', '"approve"')))
    stop = threading.Event()

    def scheduler():
        while not stop.is_set():
            drain_org(database, actor.org_id)
            stop.wait(0.05)

    worker = threading.Thread(target=scheduler)
    worker.start()
    try:
        report = migrate(database, actor, plan_migration(database, actor, SHORT["name"], 1, 2, {"ok": "approve"}))
    finally:
        stop.set()
        worker.join()
    assert report.migrated == 1000 and report.failed == []
    drain_org(database, actor.org_id)
    assert {t.id for t in _open_tasks(database, actor.org_id)} == tasks_before  # none duplicated, none orphaned
    with database.session(actor.org_id) as s:
        assert s.execute(text("""SELECT workflow_execution_id FROM tasks WHERE status IN ('todo', 'in_progress')
                                 GROUP BY 1 HAVING count(*) > 1""")).all() == []
        assert s.execute(text("""SELECT e.id FROM workflow_executions e WHERE e.status = 'running' AND (
                                   SELECT count(*) FROM workflow_execution_steps v WHERE v.workflow_execution_id = e.id
                                      AND v.status IN ('running', 'waiting')) <> 1""")).all() == []
        assert set(s.execute(select(WorkflowExecution.definition_version, WorkflowExecution.current_step_id))) == \
            {(2, "approve")}


def test_an_admin_moves_executions_and_reverts_from_the_workflows_page(database, actor, people):
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    ids = _start_many(database, actor, 3)
    _to_manager_approval(database, actor, people, ids)
    save_definition(database, actor, _renamed_approval())
    admin_user = add_user(database, actor, f"admin@{actor.org_id}.example.com", "admin", password=None)
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "pages" / "workflows.py"), default_timeout=30)
    at.session_state["actor"] = Actor(actor.org_id, admin_user.id, frozenset({"admin"}), admin_user.email)
    at.run()
    at.selectbox(key="wf_choice").set_value(REVIEW["name"]).run()
    assert not at.exception, at.exception
    assert any("refused" in e.value for e in at.error)  # step_4 is gone in version 2 and not mapped yet
    at.selectbox(key="wf_map_1_2_step_4").set_value("approve").run()
    at.checkbox(key="wf_mig_sure").check().run()
    at.button(key="wf_mig_go").click().run()
    assert "Moved 3 execution(s) to version 2" in at.success[0].value.replace("\\", "")
    with database.session(actor.org_id) as s:
        assert set(s.scalars(select(WorkflowExecution.definition_version))) == {2}
    revert = next(b for b in at.button if b.key and b.key.startswith("wf_revert_"))
    revert.click().run()
    assert "Put back 3 execution(s)" in at.success[0].value.replace("\\", "")
    with database.session(actor.org_id) as s:
        assert set(s.scalars(select(WorkflowExecution.definition_version))) == {1}
