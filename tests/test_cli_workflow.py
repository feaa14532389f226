"""`byte workflow|execution|task|scheduler` from the command line, on the seed's review workflow."""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

from click.testing import CliRunner

from byte_core.cli import cli
from byte_core.demo import WORKFLOW_DIR

REVIEW_FILE = str(WORKFLOW_DIR / "application_review.json")


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_workflow_validate_reports_every_error(tmp_path):
    broken = json.loads((WORKFLOW_DIR / "application_review.json").read_text())
    broken["steps"][4]["config"]["branches"][0]["then_goto"] = "step_99"
    broken["steps"][1]["type"] = "send_fax"
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(broken))
    result = run("workflow", "validate", str(path), "--json")
    assert result.exit_code == 1
    errors = json.loads(result.output)["errors"]
    assert any("step_5" in e and "then_goto" in e and "step_99" in e for e in errors)
    assert any("step_2" in e and "send_fax" in e for e in errors)
    assert run("workflow", "validate", REVIEW_FILE).output.strip() == "valid"
    (tmp_path / "bad.json").write_text("{not json")
    bad = run("workflow", "validate", str(tmp_path / "bad.json"))
    assert bad.exit_code == 1 and "not valid JSON (line 1" in bad.output


def test_full_path_from_the_command_line(database):
    slug = f"cli-{uuid.uuid4().hex[:8]}"
    run("orgs", "add", slug, "CLI Org")
    for email, role in (("rev@x.example.com", "reviewer"), ("man@x.example.com", "manager")):
        assert run("users", "add", email.replace("x.", f"{slug}."), "--roles", role, "--password",
                   "long-enough-pw", "--org", slug).exit_code == 0
    reviewer, manager = f"rev@{slug}.example.com", f"man@{slug}.example.com"
    assert "created" in run("workflow", "import", REVIEW_FILE, "--org", slug).output
    assert "unchanged" in run("workflow", "import", REVIEW_FILE, "--org", slug).output
    from byte_core.access import Actor
    from byte_core.models import Contact
    from byte_core.orgs import get_org

    org = get_org(database, slug)
    with database.session(org.id) as s:
        s.add(Contact(org_id=org.id, first_name="Grace", last_name="Hopper", email="grace@example.org"))
    started = json.loads(run("execution", "start", "--workflow", "Application Review Workflow", "--contact",
                             "grace@example.org", "--var", "position=Analyst", "--org", slug, "--json").output)
    assert started["current_step_id"] == "step_3" and "waiting for Wait for Review" in started["explain"]
    tasks = json.loads(run("task", "list", "--role", "reviewer", "--org", slug, "--json").output)
    assert len(tasks) == 1 and tasks[0]["title"] == "Review application: Grace Hopper"
    task_id = tasks[0]["id"]
    assert run("task", "claim", task_id, "--as", reviewer, "--org", slug).exit_code == 0
    mine = json.loads(run("task", "list", "--mine", "--as", reviewer, "--org", slug, "--json").output)
    assert [t["id"] for t in mine] == [task_id]
    assert run("task", "complete", task_id, "--as", reviewer, "--org", slug).exit_code == 0
    run("scheduler", "tick")
    approval = json.loads(run("task", "list", "--role", "manager", "--org", slug, "--json").output)[0]
    refused = run("task", "complete", approval["id"], "--as", manager, "--outcome", "approved", "--org", slug)
    assert refused.exit_code == 1 and "comment is required" in refused.output
    assert run("task", "complete", approval["id"], "--as", manager, "--outcome", "approved", "--comment", "yes",
               "--org", slug).exit_code == 0
    run("scheduler", "tick")  # the approval moves it on to the HR letter, now
    later = (datetime.now(timezone.utc) + timedelta(days=8)).isoformat()
    assert run("scheduler", "tick", "--now", later).exit_code == 0
    shown = json.loads(run("execution", "show", started["id"], "--org", slug, "--json").output)
    assert shown["current_step_id"] == "step_7" and "held by the Manager queue" in shown["explain"]  # escalated
    paused = run("execution", "pause", started["id"], "--reason", "holiday", "--org", slug)
    assert paused.exit_code == 0 and "paused" in paused.output
    no_reason = run("execution", "resume", started["id"], "--org", slug)
    assert no_reason.exit_code == 2 and "--reason" in no_reason.output
