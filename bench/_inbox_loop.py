"""The reviewer loop of bench/ui_loop.py: clear a queue in the Task inbox, one decision at a time.

The tasks are made first through byte_core, as a real flow makes them: Client Onboarding executions whose
HR intake call is done, each now waiting on the reviewer's "Documents complete?" approval. Their contacts
share a batch surname, so the inbox's search opens exactly this queue whatever else the organization holds.
"""
from __future__ import annotations

import time
import uuid

from byte_core.access import Actor

WORKFLOW = "Client Onboarding"
HEADING = "Check documents of "
COMMENT = "Documents checked (bench)."

# True once the finished run shows the open task's heading, different from the one decided before.
NEXT_TASK_SHOWN = """([prefix, previous]) => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  if (document.querySelector('[data-stale="true"]')) return false;
  return [...document.querySelectorAll('h3')].some(h => {
    const text = h.textContent.trim();
    return text.startsWith(prefix) && text !== previous;
  });
}"""
OPEN_HEADING = """(prefix) => [...document.querySelectorAll('h3')].map(h => h.textContent.trim())
  .find(text => text.startsWith(prefix)) || null"""


def make_reviewer_tasks(database, org_id: str, count: int) -> tuple[str, list[uuid.UUID]]:
    """`count` executions waiting on a reviewer approval; returns the batch surname and their ids."""
    from byte_core.contacts import save_contact
    from byte_core.workflow.commands import complete_task, start_execution
    from byte_core.workflow.inspect import get_execution
    from byte_core.workflow.runner import run_execution

    system = Actor.system(org_id, label="bench")
    batch = f"Bench{uuid.uuid4().hex[:5]}"
    started = []
    for number in range(count):
        surname = f"{batch}{number:02d}"
        contact = save_contact(database, system, {"first_name": "Zoe", "last_name": surname,
                                                  "email": f"{surname.lower()}@example.org"})
        execution = start_execution(database, system, WORKFLOW, str(contact.id))
        call = next(t for t in get_execution(database, system, execution.id).tasks if t.status != "done")
        complete_task(database, system, call.id, outcome="completed")
        run_execution(database, org_id, execution.id)  # on to the approval, without waiting for a scheduler
        started.append(execution.id)
    waiting = [e for e in started if get_execution(database, system, e).execution.current_step_id == "docs"]
    if len(waiting) != count:
        raise RuntimeError(f"only {len(waiting)} of {count} executions reached the reviewer's approval")
    return batch, started


def open_batch(page, wait_ready, batch: str) -> None:
    """Task inbox → the reviewer queue → search the batch: its first task opens by itself."""
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Task inbox", exact=True).click()
    wait_ready(page, "Task inbox")
    page.get_by_test_id("stButtonGroup").get_by_text("Reviewer queue", exact=False).first.click()
    wait_ready(page, "Task inbox")
    page.get_by_role("textbox", name="Find").fill(batch)
    page.get_by_role("textbox", name="Find").press("Enter")
    wait_for_task(page, [HEADING + "Zoe " + batch, ""])


def wait_for_task(page, arg: list[str]) -> None:
    """Wait for the task heading; on a timeout, say what the page shows instead (an error, another task)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(NEXT_TASK_SHOWN, arg=arg, timeout=120_000, polling=25)
    except PlaywrightTimeout:
        seen = page.evaluate("""() => [...document.querySelectorAll(
            'h1, h3, [data-testid="stException"], [data-testid="stAlert"], [data-testid="stCaptionContainer"]')]
            .map(e => e.textContent.trim().slice(0, 300))""")
        raise RuntimeError(f"the task {arg[0]!r}… was never shown; the page shows: {seen}") from None


def decide_in_a_row(page, decisions: int, server_cpu) -> dict:
    """Comment, one click on the approve button, until the next task's heading is shown; `decisions` times.
    Returns the seconds per decision, the clicks made and the server's CPU seconds per decision."""
    times, clicks = [], 0
    cpu_before = server_cpu()
    for _ in range(decisions):
        shown = page.evaluate(OPEN_HEADING, HEADING)
        page.get_by_role("textbox", name="Comment (optional)").fill(COMMENT)
        started = time.perf_counter()
        # The approve button whatever its label ("Complete" here): the inbox keys it tq_approve.
        page.locator(".st-key-tq_approve button").click()
        clicks += 1
        wait_for_task(page, [HEADING, shown])
        times.append(time.perf_counter() - started)
    return {"times": times, "clicks": clicks, "cpu": (server_cpu() - cpu_before) / decisions}


def check_decided(database, org_id: str, executions: list[uuid.UUID], decisions: int) -> int:
    """How many of the first `decisions` approvals were recorded as approved with the typed comment."""
    from byte_core.workflow.inspect import get_execution

    system = Actor.system(org_id, label="bench")
    recorded = 0
    for execution_id in executions:
        approval = next(t for t in get_execution(database, system, execution_id).tasks if t.task_type == "approval")
        recorded += approval.outcome == "approved" and approval.outcome_comment == COMMENT
    return recorded
