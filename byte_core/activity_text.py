"""Activity rows as sentences people read: "Riley Reviewer approved Approve application: Ann Lee — 'Strong file'".

One formatter for every place that shows history (Activity log, contact timeline, execution history). The
names it needs (users, contacts, tasks, executions) are looked up in bulk for a page of rows by
`lookup_names`, never one query per row. `sentence` itself is pure, so unit tests drive it without a database.

The sentences are plain text: a page puts them in dataframe cells as they are, or through
`byte_core.text.md_escape` when it places them inside Markdown (they quote user-typed comments).
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Iterable, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from .access import ROLE_LABELS, queue_label
from .models import Contact, Task, User, WorkflowDefinition, WorkflowExecution

# Internal action -> the label the Activity log's filter shows. Several internal names may share a label.
ACTION_LABELS: dict[str, str] = {
    "approval_decided": "Approval decided",
    "task_completed": "Task completed",
    "task_created": "Task created",
    "task_claimed": "Task claimed",
    "task_released": "Task released",
    "task_reassigned": "Task reassigned",
    "task_escalated": "Task escalated",
    "execution_started": "Workflow started",
    "execution_completed": "Workflow completed",
    "execution_failed": "Workflow failed",
    "execution_paused": "Workflow paused",
    "execution_resumed": "Workflow resumed",
    "execution_cancelled": "Workflow cancelled",
    "execution_retried": "Workflow retried",
    "execution_retryd": "Workflow retried",  # the name service.change_status writes for a retry
    "step_completed": "Step completed",
    "step_timed_out": "Wait timed out",
    "note_added": "Note added",
    "created": "Record created",
    "updated": "Record updated",
    "user_created": "User invited",
    "roles_changed": "Roles changed",
    "user_deactivated": "User deactivated",
    "user_reactivated": "User reactivated",
    "signed_in": "Signed in",
    "signed_out": "Signed out",
    "sessions_revoked": "Sessions revoked",
    "password_changed": "Password changed",
    "password_reset": "Password reset",
    "definition_created": "Workflow definition created",
    "definition_versioned": "Workflow definition changed",
    "definition_activated": "Workflow definition activated",
    "definition_deactivated": "Workflow definition deactivated",
    "draft_discarded": "Workflow draft discarded",
    "intake_configured": "Intake set-up changed",
    "submission_processed": "Submission processed",
    "submission_failed": "Submission failed",
    "submission_reprocess_requested": "Submission reprocessing requested",
}


def action_labels() -> list[str]:
    """Every filter label once, alphabetically."""
    return sorted(set(ACTION_LABELS.values()))


def actions_for_labels(labels: Iterable[str]) -> tuple[str, ...]:
    """The internal actions behind the chosen labels (an unknown label matches nothing)."""
    chosen = set(labels)
    return tuple(sorted(action for action, label in ACTION_LABELS.items() if label in chosen))


def action_label(action: str) -> str:
    return ACTION_LABELS.get(action) or action.replace("_", " ").capitalize()


role_label = queue_label  # one spelling of queue names everywhere (access.queue_label)


class ActivityLike(Protocol):
    action: str
    entity_type: str
    entity_id: uuid.UUID
    user_id: str | None
    details: dict[str, Any] | None
    contact_id: uuid.UUID | None
    task_id: uuid.UUID | None
    workflow_execution_id: uuid.UUID | None


@dataclass
class Names:
    """Display names for the ids a page of activity rows mentions."""
    users: dict[str, str] = field(default_factory=dict)
    contacts: dict[uuid.UUID, str] = field(default_factory=dict)
    tasks: dict[uuid.UUID, str] = field(default_factory=dict)
    executions: dict[uuid.UUID, str] = field(default_factory=dict)  # "Workflow · Contact"

    def user(self, user_id: str | None, fallback: str | None = None) -> str:
        if not user_id:
            return fallback or "System"
        return self.users.get(user_id) or fallback or "a former user"


def lookup_names(session: Session, rows: Iterable[ActivityLike]) -> Names:
    """Every name the rows mention, in at most four queries whatever the number of rows."""
    rows = list(rows)
    user_ids: set[str] = set()
    contact_ids, task_ids, execution_ids = set(), set(), set()
    for row in rows:
        details = row.details or {}
        user_ids.update(x for x in (row.user_id, details.get("to_user"), details.get("previous_holder"),
                                    details.get("assigned_to"), details.get("user_id")) if isinstance(x, str))
        if row.contact_id:
            contact_ids.add(row.contact_id)
        if row.entity_type == "contact":
            contact_ids.add(row.entity_id)
        if row.task_id:
            task_ids.add(row.task_id)
        if row.workflow_execution_id:
            execution_ids.add(row.workflow_execution_id)
    names = Names()
    if user_ids:
        names.users = {u.id: u.display_name for u in session.scalars(select(User).where(User.id.in_(user_ids)))}
    if contact_ids:
        names.contacts = {i: f"{first} {last}" for i, first, last in session.execute(
            select(Contact.id, Contact.first_name, Contact.last_name).where(Contact.id.in_(contact_ids)))}
    if task_ids:
        names.tasks = dict(session.execute(select(Task.id, Task.title).where(Task.id.in_(task_ids))).all())
    if execution_ids:
        names.executions = {i: f"{workflow} · {first} {last}" for i, workflow, first, last in session.execute(
            select(WorkflowExecution.id, WorkflowDefinition.name, Contact.first_name, Contact.last_name)
            .join(WorkflowDefinition, WorkflowDefinition.id == WorkflowExecution.workflow_definition_id)
            .join(Contact, Contact.id == WorkflowExecution.contact_id)
            .where(WorkflowExecution.id.in_(execution_ids)))}
    return names


def _quote(text: Any, limit: int = 140) -> str:
    text = " ".join(str(text).split())
    return f"'{text[:limit - 1]}…'" if len(text) > limit else f"'{text}'"


def _comment(details: dict[str, Any]) -> str:
    comment = details.get("comment")
    return f" — {_quote(comment)}" if comment else ""


def _reason(details: dict[str, Any]) -> str:
    reason = details.get("reason")
    return f": {_quote(reason)}" if reason else ""


def sentence(row: ActivityLike, names: Names) -> str:
    """One readable sentence for an activity row."""
    text = _sentence(row, names)
    # "a former user ..." starts a sentence with a capital; a name or an email is left as it is spelled.
    return text[:1].upper() + text[1:] if text.startswith(("a ", "an ")) else text


def _sentence(row: ActivityLike, names: Names) -> str:
    d = row.details or {}
    who = names.user(row.user_id, d.get("by") if isinstance(d.get("by"), str) and "@" in d.get("by") else None)
    execution = names.executions.get(row.workflow_execution_id) if row.workflow_execution_id else None
    in_execution = f" in {execution}" if execution else ""
    task = names.tasks.get(row.task_id) if row.task_id else None
    task = task or d.get("title") or "a task"
    contact = names.contacts.get(row.contact_id or (row.entity_id if row.entity_type == "contact" else None))
    action = row.action
    if action == "approval_decided":
        verb = {"approved": "approved", "rejected": "rejected"}.get(d.get("outcome"), f"decided ({d.get('outcome')})")
        return f"{who} {verb} {task}{_comment(d)}"
    if action == "task_completed":
        return f"{who} completed {task}{_comment(d)}"
    if action == "task_created":
        holder = d.get("assigned_to")
        target = names.user(holder) if holder else f"the {role_label(d.get('assigned_role') or d.get('role'))}"
        return f"Task {task} created for {target}{in_execution}"
    if action == "task_claimed":
        return f"{who} claimed {task}"
    if action == "task_released":
        return f"{who} released {task} back to its queue"
    if action == "task_reassigned":
        target = names.user(d["to_user"]) if d.get("to_user") else f"the {role_label(d.get('to_role'))}"
        return f"{who} reassigned {task} to {target}"
    if action == "task_escalated":
        return f"{task} escalated to the {role_label(d.get('to_role'))}{in_execution}"
    if action == "execution_started":
        subject = execution or f"{d.get('workflow', 'a workflow')} for {contact or 'a contact'}"
        source = d.get("source")
        via = f" (from {source})" if source and source not in ("manual",) else ""
        return f"{who} started {subject}{via}"
    if action == "execution_completed":
        outcome = d.get("outcome")
        return f"{execution or 'A workflow'} completed" + (f" ({outcome})" if outcome and outcome != "completed" else "")
    if action == "execution_failed":
        error = d.get("error") or (f"ended with outcome {d['outcome']}" if d.get("outcome") else None)
        return f"{execution or 'A workflow'} failed" + (f": {_quote(error)}" if error else "")
    if action.startswith("execution_") and action[10:] in ("paused", "resumed", "cancelled", "retried", "retryd"):
        verb = {"retryd": "retried"}.get(action[10:], action[10:])
        return f"{who} {verb} {execution or 'a workflow'}{_reason(d)}"
    if action == "step_completed":
        outcome = d.get("outcome")
        extra = f" ({outcome})" if outcome and outcome != "completed" else ""
        return f"Step {_quote(d.get('step') or d.get('step_id') or '?')} completed{extra}{in_execution}"
    if action == "step_timed_out":
        policy = {"fail": "the workflow fails", "escalate": "escalated", "goto": "moved on"}.get(d.get("policy"), "")
        return (f"Wait {_quote(d.get('step') or d.get('step_id') or '?')} timed out{in_execution}"
                + (f"; {policy}" if policy else ""))
    if action == "note_added":
        about = execution or contact or task if row.entity_type != "contact" else contact
        return f"{who} added a note" + (f" on {about}" if about else "") + (
            f": {_quote(d['preview'])}" if d.get("preview") else "")
    if row.entity_type == "contact" and action in ("created", "updated"):
        name = contact or "a contact"
        if action == "created":
            source = d.get("source")
            return f"{who} added contact {name}" + (f" (from {source.replace('_', ' ')})" if source else "")
        changes = d.get("changes") or {}
        fields = ", ".join(k.replace("_", " ") for k in changes)
        return f"{who} updated contact {name}" + (f" ({fields})" if fields else "")
    if row.entity_type == "user":
        # The person the row is about: named in its details, or (signing in and out) the one acting.
        self_action = action in ("signed_in", "signed_out", "password_changed")
        target = (names.users.get(d.get("user_id")) or (names.users.get(row.user_id) if self_action else None)
                  or d.get("email") or "a user")
        texts = {"user_created": f"{who} invited {target}", "user_deactivated": f"{who} deactivated {target}",
                 "user_reactivated": f"{who} reactivated {target}", "signed_in": f"{target} signed in",
                 "signed_out": f"{target} signed out", "sessions_revoked": f"{who} signed {target} out everywhere",
                 "password_changed": f"{target} changed their password",
                 "password_reset": f"{who} reset the password of {target}"}
        if action == "roles_changed":
            after = ", ".join(ROLE_LABELS.get(r, r) for r in d.get("after") or [])
            return f"{who} changed the roles of {target} to {after or 'none'}"
        if action in texts:
            return texts[action]
    if row.entity_type == "workflow_definition":
        name = _quote(d.get("name") or "a workflow")
        texts = {"definition_created": f"{who} created workflow {name}",
                 "definition_versioned": f"{who} saved workflow {name} as version {d.get('version')}",
                 "definition_activated": f"{who} activated workflow {name}",
                 "definition_deactivated": f"{who} deactivated workflow {name}"}
        if action in texts:
            return texts[action]
    if action == "draft_discarded":
        return f"{who} discarded a draft of workflow {_quote(d.get('name') or 'a workflow')}"
    if action == "intake_configured":
        return f"{who} changed the intake set-up"
    if action == "submission_processed":
        return f"Formstack submission processed: {execution or contact or 'a contact'}"
    if action == "submission_failed":
        return "A Formstack submission failed" + (f": {_quote(d['error'])}" if d.get("error") else "")
    if action == "submission_reprocess_requested":
        return f"{who} asked to reprocess a Formstack submission"
    subject = execution or contact or (task if row.task_id else None)
    return f"{who}: {action_label(action).lower()}" + (f" ({subject})" if subject else "")


def sentences(session: Session, rows: list[ActivityLike]) -> list[str]:
    """Sentences for a page of rows, names looked up once for all of them."""
    names = lookup_names(session, rows)
    return [sentence(row, names) for row in rows]
