"""The benchmark data set: counts as reported, consistent with the definitions, refused twice, one org only."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text

from byte_core.access import Actor
from byte_core.bulk_seed import seed_large
from byte_core.errors import Conflict
from byte_core.orgs import get_org
from tests.conftest import new_org


@pytest.mark.parametrize("fast_path", [True, False], ids=["embedded-superuser", "app-role-under-rls"])
def test_large_seed_is_consistent_and_refused_twice(database, fast_path):
    slug = f"bulk-{uuid.uuid4().hex[:8]}"
    result = seed_large(database, slug, contacts=300, executions=900, show_progress=False, fast_path=fast_path)
    org = get_org(database, slug)
    with database.session(org.id) as s:
        counts = {table: s.scalar(text(f"SELECT count(*) FROM {table}")) for table in
                  ("contacts", "workflow_executions", "workflow_execution_steps", "tasks", "activity_log")}
        # Creating the users and the three definitions writes its own activity rows beside the loaded ones.
        assert counts == {**{k: result[k] for k in counts}, "activity_log": result["activity_log"] + result["users"] + 3}
        assert counts["contacts"] == 300 and counts["workflow_executions"] == 900
        assert 2.5 <= counts["tasks"] / 900 <= 4.5 and counts["activity_log"] / 900 >= 8
        statuses = {r for (r,) in s.execute(text("SELECT DISTINCT status FROM workflow_executions"))}
        assert statuses == {"running", "paused", "completed", "failed", "cancelled"}
        # The current step is a step of the execution's definition, and the history ends there.
        assert s.scalar(text("""SELECT count(*) FROM workflow_executions e JOIN workflow_definitions d
            ON d.id = e.workflow_definition_id WHERE NOT EXISTS (SELECT 1 FROM jsonb_array_elements(d.steps->'steps')
            st WHERE st->>'id' = e.current_step_id)""")) == 0
        assert s.scalar(text("""SELECT count(*) FROM workflow_executions e WHERE e.current_step_id <>
            (SELECT v.step_id FROM workflow_execution_steps v WHERE v.workflow_execution_id = e.id
             ORDER BY v.seq DESC LIMIT 1) OR e.step_seq <> (SELECT count(*) FROM workflow_execution_steps v
             WHERE v.workflow_execution_id = e.id)""")) == 0
        # Running executions waiting on a person have exactly one open task for that step.
        assert s.scalar(text("""SELECT count(*) FROM workflow_executions e
            JOIN workflow_execution_steps v ON v.workflow_execution_id = e.id AND v.seq = e.step_seq
            WHERE e.status = 'running' AND v.step_type IN ('wait_for_task', 'wait_for_approval')
              AND (SELECT count(*) FROM tasks t WHERE t.workflow_execution_id = e.id AND t.step_visit_id IS NOT NULL
                   AND t.status IN ('todo', 'in_progress')) <> 1""")) == 0
        assert s.scalar(text("""SELECT count(*) FROM workflow_executions WHERE status = 'completed'
            AND EXISTS (SELECT 1 FROM tasks t WHERE t.workflow_execution_id = workflow_executions.id
                        AND t.step_visit_id IS NOT NULL AND t.status <> 'done')""")) == 0
        # A quarter of history, nothing after now, each history in time order (shared with the demo's test).
        from datetime import datetime, timedelta, timezone

        from tests.test_demo_seed import assert_history_in_time_order, assert_nothing_dated_after

        assert_nothing_dated_after(s, datetime.now(timezone.utc))
        assert_history_in_time_order(s)
        oldest = s.scalar(text("SELECT min(started_at) FROM workflow_executions"))
        assert oldest >= datetime.now(timezone.utc) - timedelta(days=120)
    with pytest.raises(Conflict, match="already holds contacts"):
        seed_large(database, slug, contacts=10, executions=10, show_progress=False)
    stranger = Actor.system(new_org(database).id)
    with database.session(stranger.org_id) as s:
        assert s.scalar(text("SELECT count(*) FROM tasks")) == 0
