"""The activity formatter: sentences from rows and names, no database."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from byte_core.activity_text import (ACTION_LABELS, Names, action_labels, actions_for_labels, role_label, sentence)
from byte_core.workflow.inspect import readable_variables

EXECUTION, CONTACT, TASK = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()


@dataclass
class Row:
    action: str
    entity_type: str = "task"
    entity_id: uuid.UUID = TASK
    user_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    contact_id: uuid.UUID | None = CONTACT
    task_id: uuid.UUID | None = TASK
    workflow_execution_id: uuid.UUID | None = EXECUTION


NAMES = Names(users={"user_riley": "Riley Reviewer", "user_nora": "Nora Newhire"},
              contacts={CONTACT: "Ann Lee"}, tasks={TASK: "Approve application: Ann Lee"},
              executions={EXECUTION: "Application Review · Ann Lee"})


def test_an_approval_reads_as_who_decided_what_with_the_comment():
    row = Row("approval_decided", user_id="user_riley", details={"outcome": "approved", "comment": "Strong file"})
    assert sentence(row, NAMES) == "Riley Reviewer approved Approve application: Ann Lee — 'Strong file'"


def test_a_rejection_and_a_completed_task():
    assert sentence(Row("approval_decided", user_id="user_riley", details={"outcome": "rejected"}), NAMES) == \
        "Riley Reviewer rejected Approve application: Ann Lee"
    assert sentence(Row("task_completed", user_id="user_nora"), NAMES) == \
        "Nora Newhire completed Approve application: Ann Lee"


def test_no_sentence_shows_an_internal_id():
    rows = [
        Row("task_created", details={"assigned_role": "hr", "title": "Call"}),
        Row("task_reassigned", user_id="user_riley", details={"to_user": "user_nora"}),
        Row("task_released", user_id="user_riley", details={"previous_holder": "user_nora"}),
        Row("execution_started", entity_type="workflow_execution", entity_id=EXECUTION, task_id=None,
            details={"workflow": "Application Review", "source": "formstack"}),
        Row("execution_cancelled", entity_type="workflow_execution", entity_id=EXECUTION, user_id="user_riley",
            details={"reason": "withdrew"}),
        Row("execution_retryd", entity_type="workflow_execution", entity_id=EXECUTION, user_id="user_riley"),
        Row("step_completed", entity_type="workflow_execution", details={"step_id": "step_2", "step": "Review"}),
        Row("note_added", entity_type="workflow_execution", user_id="user_gone", details={"preview": "Called"}),
        Row("user_created", entity_type="user", user_id="user_riley", details={"user_id": "user_nora"}),
        Row("something_new", entity_type="contact", entity_id=CONTACT),
    ]
    texts = [sentence(r, NAMES) for r in rows]
    for text in texts:
        assert "user_" not in text and str(EXECUTION) not in text and str(TASK) not in text, text
        assert "_" not in text, text
    assert texts[0] == "Task Approve application: Ann Lee created for the HR queue in Application Review · Ann Lee"
    assert texts[1] == "Riley Reviewer reassigned Approve application: Ann Lee to Nora Newhire"
    assert texts[3] == "System started Application Review · Ann Lee (from formstack)"
    assert texts[4] == "Riley Reviewer cancelled Application Review · Ann Lee: 'withdrew'"
    assert texts[5].startswith("Riley Reviewer retried")
    assert texts[7].startswith("A former user added a note")
    assert texts[8] == "Riley Reviewer invited Nora Newhire"


def test_filter_labels_map_back_to_internal_actions():
    assert actions_for_labels(["Approval decided"]) == ("approval_decided",)
    assert set(actions_for_labels(["Workflow retried"])) == {"execution_retried", "execution_retryd"}
    assert actions_for_labels(["no such label"]) == ()
    labels = action_labels()
    assert labels == sorted(set(labels)) and set(labels) == set(ACTION_LABELS.values())


def test_role_labels_read_as_queues():
    assert role_label("hr") == "HR queue" and role_label("reviewer") == "Reviewer queue"


def test_variables_name_people_and_tasks():
    task_id = str(TASK)
    readable = readable_variables({"step_4": {"outcome": "approved", "decided_by": "user_riley", "task_id": task_id},
                                   "step_6": {"completed_by": "user_deleted"}, "trigger": {"source": "manual"}},
                                  {"user_riley": "Riley Reviewer"}, {task_id: "Approve application: Ann Lee"})
    assert readable["step_4"] == {"outcome": "approved", "decided_by": "Riley Reviewer",
                                  "task": "Approve application: Ann Lee"}
    assert readable["step_6"] == {"completed_by": "a former user"}
    assert readable["trigger"] == {"source": "manual"}


def test_signing_in_names_the_person_and_an_email_keeps_its_spelling():
    row = Row("signed_in", entity_type="user", user_id="user_nora", task_id=None, workflow_execution_id=None,
              contact_id=None)
    assert sentence(row, NAMES) == "Nora Newhire signed in"
    out = Row("signed_out", entity_type="user", user_id="user_unknown", details={"email": "nora@example.org"},
              task_id=None, workflow_execution_id=None, contact_id=None)
    assert sentence(out, NAMES) == "nora@example.org signed out"
