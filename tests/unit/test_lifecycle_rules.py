"""Unit tier: the lifecycle's rules (who may do what to a task, which execution transitions exist)."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from byte_core.access import Actor
from byte_core.errors import Conflict, PermissionDenied
from byte_core.workflow.lifecycle import (EXECUTION_TRANSITIONS, TaskView, check_execution_action,
                                          check_task_action)

AT = datetime(2026, 11, 27, 10, 42, tzinfo=timezone.utc)
RILEY = Actor("org", "u_riley", frozenset({"reviewer"}), "riley@x")
SAM = Actor("org", "u_sam", frozenset({"reviewer"}), "sam@x")
ADMIN = Actor("org", "u_admin", frozenset({"admin"}), "admin@x")
NAMES = {"u_riley": "Riley", "u_sam": "Sam"}.get


def task(**changes) -> TaskView:
    base = dict(id=1, title="Review", task_type="standard", status="todo", version=3, assigned_to=None,
                assigned_role="reviewer", updated_at=AT, execution_status="running")
    return TaskView(**{**base, **changes})


def test_claim_by_someone_of_the_role_passes_and_a_held_task_names_its_holder():
    check_task_action("claim", RILEY, task(), expected_version=3)
    with pytest.raises(Conflict, match="already claimed by Sam at 2026-11-27 10:42 UTC"):
        check_task_action("claim", RILEY, task(assigned_to="u_sam", status="in_progress"), expected_version=None,
                          name_of=NAMES)


def test_a_stale_version_is_refused_with_what_changed():
    with pytest.raises(Conflict, match="already claimed by Sam at 2026-11-27 10:42 UTC"):
        check_task_action("complete", RILEY, task(assigned_to="u_sam", version=4), expected_version=3, name_of=NAMES)


def test_paused_and_ended_executions_freeze_or_close_their_tasks():
    with pytest.raises(Conflict, match="paused since 2026-11-27 10:42 UTC \\(policy\\); resume it first"):
        check_task_action("decide", RILEY, task(execution_status="paused", execution_reason="policy",
                                                execution_since=AT), expected_version=None)
    with pytest.raises(Conflict, match="closed: the execution failed"):
        check_task_action("claim", RILEY, task(status="cancelled", closed_reason="the execution failed: x"),
                          expected_version=None)


def test_only_the_role_or_the_holder_decides_and_admins_do_it_explicitly():
    with pytest.raises(PermissionDenied):
        check_task_action("complete", ADMIN, task(), expected_version=None)
    check_task_action("decide_on_behalf", ADMIN, task(), expected_version=None)
    with pytest.raises(PermissionDenied):
        check_task_action("decide_on_behalf", RILEY, task(), expected_version=None)
    with pytest.raises(PermissionDenied, match="held by Sam"):
        check_task_action("complete", RILEY, task(assigned_to="u_sam"), expected_version=None, name_of=NAMES)


def test_execution_transitions_follow_the_table():
    manager = Actor("org", "m", frozenset({"manager"}))
    for action, (sources, target, roles) in EXECUTION_TRANSITIONS.items():
        if not roles:
            continue
        for status in ("running", "paused", "completed", "failed", "cancelled"):
            if status in sources:
                assert check_execution_action(action, manager, status) == target
            else:
                with pytest.raises(Conflict):
                    check_execution_action(action, manager, status)
    with pytest.raises(PermissionDenied):
        check_execution_action("pause", RILEY, "running")
