"""/api/health, /api/ready, /api/metrics and the JSON 404, as routes on the real test database, plus the
shared-state figures behind the metrics checked against rows this test writes."""
from __future__ import annotations

import uuid

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.testclient import TestClient

from byte_core.intake.http import routes as intake_routes
from byte_core.ops import metrics as ops_metrics
from byte_core.ops.http import fallback_routes, routes as ops_routes
from byte_core.ops.readiness import check_readiness, head_revision
from byte_core.workflow.definitions import save_definition

DEFINITION = {
    "name": "Ops metrics",
    "phases": [{"id": "p", "name": "Only", "order": 1}],
    "steps": [
        {"id": "t", "order": 1, "phase_id": "p", "type": "trigger", "name": "Start", "config": {}},
        {"id": "e", "order": 2, "phase_id": "p", "type": "end", "name": "End", "config": {"outcome": "done"}},
    ],
}


@pytest.fixture
def client(database):
    app = Starlette(routes=[*intake_routes, *ops_routes, *fallback_routes])
    with TestClient(app) as test_client:
        yield test_client


def beat(database, seconds_ago: float, worker: str | None = None) -> str:
    worker = worker or f"test:{uuid.uuid4().hex[:8]}"
    with database.session(None) as s:
        s.execute(text("INSERT INTO scheduler_heartbeats (worker_id, hostname, pid, last_tick_at, advanced, batches,"
                       " batch_seconds) VALUES (:w, 'test', 1, now() - make_interval(secs => :ago), 40, 4, 0.5)"
                       " ON CONFLICT (worker_id) DO UPDATE SET last_tick_at = EXCLUDED.last_tick_at"),
                  {"w": worker, "ago": seconds_ago})
    return worker


def age_every_heartbeat(database) -> None:
    with database.session(None) as s:
        s.execute(text("UPDATE scheduler_heartbeats SET last_tick_at = now() - interval '1 hour'"))


def test_health_answers_without_the_database(client):
    response = client.get("/api/health")
    assert response.status_code == 200 and response.json()["ok"] is True
    assert response.headers["cache-control"] == "no-store"


def test_ready_names_each_check_and_fails_without_a_recent_scheduler(database, client):
    beat(database, seconds_ago=3600)
    age_every_heartbeat(database)
    response = client.get("/api/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["ok"] is False
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["migrations"] == {"name": "migrations", "ok": True, "detail": f"at head {head_revision()}"}
    assert body["checks"]["scheduler"]["ok"] is False and "ago" in body["checks"]["scheduler"]["detail"]

    beat(database, seconds_ago=1)
    response = client.get("/api/ready")
    assert response.status_code == 200, response.json()
    assert all(check["ok"] for check in response.json()["checks"].values())


def test_ready_scheduler_check_can_be_turned_off(database, monkeypatch):
    age_every_heartbeat(database)
    monkeypatch.setenv("BYTE_READY_SCHEDULER_SECONDS", "0")
    result = check_readiness(database)
    assert result.ok and "turned off" in result.as_json()["checks"]["scheduler"]["detail"]


def test_ready_reports_a_schema_behind_the_code(database):
    with database.owner_engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0004'"))
    try:
        check = {c.name: c for c in check_readiness(database, max_heartbeat_age=0).checks}["migrations"]
    finally:
        with database.owner_engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :head"), {"head": head_revision()})
    assert not check.ok and "byte db migrate" in check.detail and "0004" in check.detail


def test_unreachable_database_fails_fast_with_a_reason(database):
    from dataclasses import replace

    from byte_core.embedded import _free_port

    closed = database.owner_url.rsplit("@", 1)[0] + f"@127.0.0.1:{_free_port()}/byte"
    result = check_readiness(replace(database, owner_url=closed), timeout=1)
    assert not result.ok and result.seconds < 3
    checks = result.as_json()["checks"]
    assert checks["database"]["ok"] is False and checks["database"]["detail"]
    assert checks["migrations"]["ok"] is False


def test_unknown_api_paths_are_json_404s(client):
    for method, path in [("GET", "/api/nope"), ("POST", "/api/ready/x"), ("DELETE", "/api/")]:
        response = client.request(method, path)
        assert response.status_code == 404, path
        assert response.json()["error"].startswith("no such API endpoint")


def test_metrics_need_the_token(client, monkeypatch):
    monkeypatch.delenv("BYTE_METRICS_TOKEN", raising=False)
    assert client.get("/api/metrics").status_code == 404
    monkeypatch.setenv("BYTE_METRICS_TOKEN", "s3cret-token")
    assert client.get("/api/metrics").status_code == 401
    wrong = client.get("/api/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"


def test_metrics_in_prometheus_format_with_every_family(database, client, monkeypatch):
    monkeypatch.setenv("BYTE_METRICS_TOKEN", "s3cret-token")
    beat(database, seconds_ago=2)
    client.post("/api/intake/not-a-token", content=b"FormID=1")  # an unknown endpoint: rejected
    with ops_metrics.page_timer("tasks"):
        pass
    response = client.get("/api/metrics", headers={"Authorization": "Bearer s3cret-token"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    families = {family.name: family for family in text_string_to_metric_families(response.text)}
    for name in ["byte_database_up", "byte_executions", "byte_open_tasks", "byte_overdue_tasks",
                 "byte_scheduler_lag_seconds", "byte_scheduler_heartbeat_age_seconds", "byte_engine_steps",
                 "byte_engine_batch_duration_seconds", "byte_intake_deliveries", "byte_page_run_seconds",
                 "process_resident_memory_bytes"]:
        assert name in families, name
    assert families["byte_database_up"].samples[0].value == 1
    rejected = [s for s in families["byte_intake_deliveries"].samples
                if s.name == "byte_intake_deliveries_total" and s.labels == {"outcome": "rejected"}]
    assert rejected and rejected[0].value >= 1
    assert any(s.labels.get("page") == "tasks" and s.name == "byte_page_run_seconds_count"
               for s in families["byte_page_run_seconds"].samples)


def test_shared_state_counts_what_was_written(database, actor):
    save_definition(database, actor, DEFINITION)
    before = ops_metrics.read_shared_state(database)
    with database.session(actor.org_id) as s:
        definition = s.execute(text("SELECT id FROM workflow_definitions WHERE name = 'Ops metrics'")).scalar_one()
        contact = s.execute(text("INSERT INTO contacts (org_id, first_name, last_name) VALUES (:o, 'M', 'P') "
                                 "RETURNING id"), {"o": actor.org_id}).scalar_one()
        s.execute(text("INSERT INTO workflow_executions (org_id, workflow_definition_id, contact_id, current_step_id,"
                       " current_phase_id, status, next_run_at) SELECT :o, :d, :c, 't', 'p', 'running',"
                       " now() - interval '90 minutes' FROM generate_series(1, 3)"),
                  {"o": actor.org_id, "d": definition, "c": contact})
        s.execute(text("INSERT INTO tasks (org_id, title, status, assigned_role, due_date) VALUES"
                       " (:o, 'late', 'todo', 'ops_queue', current_date - 2),"
                       " (:o, 'fine', 'in_progress', 'ops_queue', current_date + 2),"
                       " (:o, 'done', 'done', 'ops_queue', current_date - 2)"), {"o": actor.org_id})
    worker = beat(database, seconds_ago=0)
    after = ops_metrics.read_shared_state(database)
    assert after.executions.get("running", 0) - before.executions.get("running", 0) == 3
    assert after.open_tasks["ops_queue"] - before.open_tasks.get("ops_queue", 0) == 2
    assert after.overdue_tasks - before.overdue_tasks == 1
    assert after.lag_seconds >= 90 * 60
    mine = next(w for w in after.workers if w.worker == worker)
    assert (mine.steps, mine.batches, mine.batch_seconds) == (40, 4, 0.5)
    with database.session(actor.org_id) as s:  # leave no due work for other tests' schedulers to trip on
        s.execute(text("UPDATE workflow_executions SET status = 'cancelled' WHERE workflow_definition_id = :d"),
                  {"d": definition})
