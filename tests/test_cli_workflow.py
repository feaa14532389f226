"""`byte workflow|execution|task|scheduler` from the command line, on the seed's review workflow."""
from __future__ import annotations

import json
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest
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


def test_simulate_prints_the_path_and_writes_nothing(database):
    result = run("workflow", "simulate", REVIEW_FILE, "--contact", "ann@example.org", "--decide", "step_4=rejected",
                 "--wait", "step_4=2d", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["ended"] == "completed" and data["outcome"] == "rejected"
    assert any("Send rejection notice" in e["text"] for e in data["events"])
    failed = run("workflow", "simulate", REVIEW_FILE)
    assert failed.exit_code == 1 and "timed out after 5 days" in failed.output
    bad = run("workflow", "simulate", REVIEW_FILE, "--wait", "step_3=soon")
    assert bad.exit_code == 1 and "not a waiting time" in bad.output and "Traceback" not in bad.output


# --- the 20 definitions from issue [B] that crashed, were accepted and broke later, or hung -----------------------
def _review() -> dict:
    return json.loads((WORKFLOW_DIR / "application_review.json").read_text())


def _changed(change) -> bytes:
    data = _review()
    change(data)
    return json.dumps(data).encode()


def _deep(levels: int) -> bytes:
    data = _review()
    data["variables"] = {"nested": "__HERE__"}
    return json.dumps(data).replace('"__HERE__"', "[" * levels + "]" * levels).encode()


def _steps(count: int) -> bytes:
    data = _review()
    data["steps"] = [dict(data["steps"][0], id=f"s{i}", order=i, type="set_variable", name=f"Step {i}",
                          config={"name": "x", "value": i}) for i in range(count)]
    data["phases"] = []
    return json.dumps(data).encode()


def _set(path: str, value):
    def change(data: dict) -> None:
        *parents, last = path.split("/")
        node = data
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        node[int(last) if last.isdigit() else last] = value
    return change


def _insert_note(value: str):
    """A set_variable step right after the trigger, whose value (no length limit) holds the text."""
    def change(data: dict) -> None:
        for step in data["steps"][1:]:
            step["order"] += 1
        data["steps"].insert(1, {"id": "note", "order": 2, "type": "set_variable", "name": "Note",
                                 "config": {"name": "note", "value": value}})
    return change


BROKEN = {
    # Tracebacks before: a list or object where a text is expected, `step_ids: 5`, depth, size, encodings.
    "name is a list": (_changed(_set("name", ["Review"])), "definition · name", "must be a text"),
    "step id is an object": (_changed(_set("steps/1/id", {"a": 1})), "steps[1] · id", "must be a text"),
    "title is an object": (_changed(_set("steps/1/config/title", {"en": "x"})), "step_2 · config.title",
                           "must be a text"),
    "role is a list": (_changed(_set("steps/1/config/assign_to/role", ["reviewer"])),
                       "step_2 · config.assign_to.role", "must be one of"),
    "step_ids is 5": (_changed(_set("phases/0/step_ids", 5)), "phases[0].step_ids", "must be a list"),
    "nested 5,000 levels": (_deep(5000), "definition · json", "nested more than"),
    "1,200 steps": (_steps(1200), "definition · steps", "has 1200 steps; at most 500"),
    "UTF-16 file": (json.dumps(_review()).encode("utf-16"), "definition · file", "UTF-16; save it as UTF-8"),
    "invalid UTF-8": (json.dumps(_review()).encode().replace(b"Form Submitted", b"Form \xff\xfe"),
                      "definition · file", "not valid UTF-8"),
    "number of 5,000 digits": (json.dumps(_review()).replace('"due_in_days": 3', '"due_in_days": ' + "9" * 5000)
                               .encode(), "definition · json", "more than 4,300 digits"),
    # Accepted, then broken later.
    "mixed phase order": (_changed(_set("phases/1/order", "2")), "definition · phases[1].order",
                          "must be a whole number"),
    "Infinity days": (json.dumps(_review()).replace('"timeout_days": 3', '"timeout_days": Infinity').encode(),
                      "step_3 · config.timeout_days", "finite number"),
    "1e308 days": (json.dumps(_review()).replace('"timeout_days": 3', '"timeout_days": 1e308').encode(),
                   "step_3 · config.timeout_days", "at most 3650 days"),
    "branch if is an object": (_changed(_set("steps/4/config/branches/0/if", {"eq": "approved"})),
                               "step_5 · config.branches[0].if", "must be a text or a number"),
    "escalate to an unknown role": (_changed(_set("steps/2/config/on_timeout/role", "vice_president")),
                                    "step_3 · config.on_timeout.role", "'admin', 'manager', 'reviewer' or 'hr'"),
    "id with quotes": (_changed(_set("steps/10/id", 'end" URL="javascript:alert(1)')), "steps[10] · id",
                       "must be an id"),
    "id with a zero-width space": (_changed(_set("steps/10/id", "step\u200b11")), "steps[10] · id", "must be an id"),
    "id with a right-to-left mark": (_changed(_set("steps/10/id", "step_11\u202e")), "steps[10] · id",
                                     "must be an id"),
    "id of 5,001 characters": (_changed(_set("steps/10/id", "s" * 5001)), "steps[10] · id", "must be an id"),
    "task_from_step on another branch": (_changed(_set("steps/9/config/task_from_step", "step_6")),
                                         "step_10 · config.task_from_step",
                                         "step_6, which does not run before step_10 on every path"),
    # The hang: a cubic template check.
    "'{{' and 6,000 spaces": (_changed(_set("steps/1/config/description", "{{" + " " * 6000)),
                              "step_2 · config.description", "at most 2000 characters"),
    "'{{' and 6,000 spaces in a value": (_changed(_insert_note("{{" + " " * 6000)), "note · config.value",
                                         "unclosed '{{'"),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_every_broken_definition_from_the_issue_gets_a_step_and_field_error(tmp_path, case):
    content, where, what = BROKEN[case]
    path = tmp_path / "definition.json"
    path.write_bytes(content)
    result = run("workflow", "validate", str(path))  # catch_exceptions=False: a traceback fails the test
    assert result.exit_code == 1
    assert f"{where}: " in result.output and what in result.output, result.output
    assert "Traceback" not in result.output and "pydantic" not in result.output
    assert "Input should be" not in result.output  # pydantic's own words are translated


@pytest.mark.parametrize("case", [c for c in BROKEN if "6,000 spaces" in c])
def test_the_template_that_froze_the_server_is_refused_within_a_second(tmp_path, case):
    """The issue's bound for the formerly cubic check; the figures live in bench/definition_validation.py."""
    path = tmp_path / "definition.json"
    path.write_bytes(BROKEN[case][0])
    assert run("workflow", "validate", REVIEW_FILE).exit_code == 0  # imports and model building done first
    started = time.perf_counter()
    result = run("workflow", "validate", str(path))
    assert time.perf_counter() - started < 1.0
    assert result.exit_code == 1 and BROKEN[case][1] in result.output


def test_schema_command_prints_a_json_schema_the_demo_definitions_satisfy():
    jsonschema = pytest.importorskip("jsonschema")
    result = run("workflow", "schema")
    assert result.exit_code == 0
    schema = json.loads(result.output)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    files = sorted(WORKFLOW_DIR.glob("*.json"))
    assert len(files) == 3
    for file in files:
        assert list(validator.iter_errors(json.loads(file.read_text()))) == [], file.name
    broken = _review()
    broken["steps"][2]["config"]["timeout_days"] = "three"
    broken["steps"][1]["type"] = "teleport"
    assert len(list(validator.iter_errors(broken))) >= 2


def test_import_refuses_a_broken_file_before_touching_the_database(tmp_path):
    path = tmp_path / "definition.json"
    path.write_bytes(BROKEN["UTF-16 file"][0])
    result = run("workflow", "import", str(path))
    assert result.exit_code == 1 and "definition · file: is saved as UTF-16" in result.output
    path.write_bytes(BROKEN["escalate to an unknown role"][0])
    as_json = run("workflow", "validate", str(path), "--json")
    assert json.loads(as_json.output) == {"valid": False, "errors": [
        "step_3 · config.on_timeout.role: must be one of 'admin', 'manager', 'reviewer' or 'hr'"]}
