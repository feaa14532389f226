"""End to end in Debian's Chromium: the real Streamlit server and a real scheduler process on the test
database, one persona per test doing their core job. Screenshots land in test-artifacts/screenshots/;
set BYTE_SCREENSHOTS_DIR=docs/screenshots to refresh the ones the README shows (kept out of every run so
a test run leaves the checkout clean)."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import re
import time
import uuid
from pathlib import Path

import pytest

from byte_core.access import Actor
from byte_core.demo import DEMO_USERS, seed_demo

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / os.environ.get("BYTE_SCREENSHOTS_DIR", "test-artifacts/screenshots")
PASSWORDS = {roles[0]: (email, password) for email, roles, password, *_ in DEMO_USERS}

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is installed by scripts/test.sh")
if not Path(CHROMIUM).exists():  # scripts/test.sh installs it; failing loudly beats skipping quietly
    raise RuntimeError(f"{CHROMIUM} is missing: install Debian's chromium package (scripts/test.sh does)")
sync_api.expect.set_options(timeout=20_000)  # first page loads import pandas and plotly on a 2-core machine


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_http(url: str, seconds: float = 60) -> None:
    import urllib.request

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {seconds}s")


@pytest.fixture(scope="module")
def demo(database):
    return seed_demo(database, password_rounds=4)


@pytest.fixture(scope="module")
def live_app(database, demo, tmp_path_factory):
    """`streamlit run app.py` and `byte scheduler run`, both on the test database (DATABASE_URL mode)."""
    port = _free_port()
    env = dict(os.environ, DATABASE_URL=database.owner_url, PYTHONUNBUFFERED="1")
    logs = tmp_path_factory.mktemp("e2e-logs")
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", str(port),
         "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=open(logs / "streamlit.log", "wb"), stderr=subprocess.STDOUT)
    scheduler = subprocess.Popen([sys.executable, "-m", "scheduler", "run"], cwd=ROOT, env=env,
                                 stdout=open(logs / "scheduler.log", "wb"), stderr=subprocess.STDOUT)
    try:
        _wait_http(f"http://127.0.0.1:{port}/_stcore/health")
        yield f"http://127.0.0.1:{port}"
    finally:
        for process in (server, scheduler):
            process.terminate()
        for process in (server, scheduler):
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield instance
        instance.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


# Locators take .first: during a rerun Streamlit shows the previous run's elements (stale) beside the new
# ones for a moment, so a strict locator can see two.
def sign_in(page, base: str, role: str) -> None:
    email, password = PASSWORDS[role]
    page.goto(base)
    sync_api.expect(page.get_by_role("heading", name="Sign in").first).to_be_visible()
    settle(page)
    page.get_by_role("textbox", name="Email").fill(email)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    # Signed in, the page sends the browser through /api/session/start, which sets the HttpOnly cookie and
    # comes back: a fresh page load, signed in by the cookie alone.
    deadline = time.monotonic() + 20
    while not session_cookie(page):
        assert time.monotonic() < deadline, "the session cookie was never set"
        page.wait_for_timeout(100)
    page.wait_for_load_state()
    sync_api.expect(page.get_by_text("Welcome,").first).to_be_visible()
    settle(page)


def session_cookie(page) -> dict | None:
    return next((c for c in page.context.cookies() if c["name"] == "byte_session"), None)


def open_page(page, title: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
    sync_api.expect(page.get_by_role("heading", name=title).first).to_be_visible()


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(500)  # let charts finish drawing
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=False)


def settle(page) -> None:
    """Wait until Streamlit has finished the current run and dropped the previous run's elements."""
    page.wait_for_timeout(400)
    sync_api.expect(page.get_by_test_id("stStatusWidget")).to_have_count(0)
    sync_api.expect(page.locator('[data-stale="true"]')).to_have_count(0)


def _reviewer_approval(database, org_id: str, surname: str | None = None) -> tuple[uuid.UUID, str]:
    """A Client Onboarding execution waiting on the reviewer's 'Documents complete?' approval."""
    from byte_core.contacts import save_contact
    from byte_core.workflow.runner import drain_org
    from byte_core.workflow.commands import complete_task, start_execution
    from byte_core.task_queue import task_queue

    system = Actor.system(org_id, label="e2e")
    name = f"Zoe {surname or 'E2e' + uuid.uuid4().hex[:6]}"
    contact = save_contact(database, system, {"first_name": name.split()[0], "last_name": name.split()[1],
                                              "email": f"{name.split()[1].lower()}@example.org"})
    execution = start_execution(database, system, "Client Onboarding", str(contact.id))
    call = next(r for r in task_queue(database, system, "hr", limit=1000).rows if r.contact == name)
    complete_task(database, system, call.id, outcome="completed")
    # The live scheduler may hold this execution (SKIP LOCKED) while drain_org runs: drain_org then
    # returns before that worker commits, so wait for the step rather than assume drain_org did it.
    drain_org(database, org_id)
    _wait_for_step(database, org_id, execution.id, lambda step: step == "docs",
                   "the execution never reached the 'docs' approval")
    return execution.id, name


def _open_reviewer_queue(page, search: str) -> None:
    open_page(page, "Task inbox")
    page.get_by_test_id("stButtonGroup").get_by_text("Reviewer queue", exact=False).first.click()
    settle(page)
    page.get_by_role("textbox", name="Find").fill(search)
    page.get_by_role("textbox", name="Find").press("Enter")
    settle(page)


def _wait_for_step(database, org_id: str, execution_id, reached, failure: str, seconds: float = 20):
    from byte_core.workflow.inspect import get_execution

    deadline = time.monotonic() + seconds
    while True:
        detail = get_execution(database, Actor.system(org_id), execution_id)
        if reached(detail.execution.current_step_id):
            return detail
        if time.monotonic() > deadline:
            raise AssertionError(f"{failure} (still at {detail.execution.current_step_id!r})")
        time.sleep(0.2)


def test_reviewer_approves_and_the_execution_moves_on(database, demo, live_app, page):
    org_id = demo.org_id
    execution_id, name = _reviewer_approval(database, org_id)

    sign_in(page, live_app, "reviewer")
    shot(page, "home-reviewer")
    _open_reviewer_queue(page, name)
    # The first task of the list opens by itself on the right.
    sync_api.expect(page.get_by_role("heading", name=f"Check documents of {name}").first).to_be_visible()
    page.get_by_label("Comment (optional)").fill("All documents present (e2e).")
    shot(page, "task-inbox")
    page.get_by_role("button", name="Complete").first.click()
    sync_api.expect(page.get_by_text("The next task is open").first).to_be_visible()

    detail = _wait_for_step(database, org_id, execution_id, lambda step: step != "docs",
                            "the scheduler did not move the execution on")
    decision = next(t for t in detail.tasks if t.task_type == "approval")
    assert decision.outcome == "approved" and decision.outcome_comment == "All documents present (e2e)."


def test_reviewer_clears_five_tasks_in_a_row_from_the_inbox(database, demo, live_app, page):
    org_id = demo.org_id
    batch = f"Five{uuid.uuid4().hex[:4]}"
    started = [_reviewer_approval(database, org_id, f"{batch}{i}")[0] for i in range(5)]
    sign_in(page, live_app, "reviewer")
    _open_reviewer_queue(page, batch)
    for number in range(5):
        heading = page.get_by_role("heading", name=re.compile(f"Check documents of Zoe {batch}"))
        sync_api.expect(heading.first).to_be_visible()
        page.get_by_role("button", name="Complete").first.click()  # one click per decision
        sync_api.expect(page.get_by_text("The next task is open").first).to_be_visible()
        settle(page)
    sync_api.expect(page.get_by_text(f"No task matches").first).to_be_visible()
    for execution_id in started:
        _wait_for_step(database, org_id, execution_id, lambda step: step != "docs", "a decision did not take")


def _pick(page, label: str, option: str) -> None:
    page.get_by_test_id("stSelectbox").filter(has_text=label).first.click()
    page.keyboard.type(option)
    page.keyboard.press("Enter")
    settle(page)


def _click(page, name: str) -> None:
    page.get_by_role("button", name=name, exact=True).first.click()
    settle(page)


def test_admin_builds_dry_runs_publishes_migrates_and_reverts_a_workflow(database, demo, live_app, page):
    """Issue [E]: from an empty form (no JSON typed) to running executions moved to a new version and back."""
    from byte_core.contacts import save_contact
    from byte_core.workflow.commands import start_execution
    from byte_core.workflow.runner import drain_org

    name = f"Browser built {uuid.uuid4().hex[:6]}"
    sign_in(page, live_app, "admin")
    open_page(page, "Workflows")
    _pick(page, "Edit", "New definition")
    page.get_by_role("textbox", name="Name", exact=True).fill(name)
    page.get_by_role("textbox", name="Name", exact=True).press("Enter")
    settle(page)
    _click(page, "Add phase")
    for step_type in ("trigger", "wait_for_approval", "end"):
        _pick(page, "New step of type", step_type)
        _click(page, "Add step")
    # The approval step has no title yet: the error is shown right under its Title field.
    title = page.get_by_role("textbox", name="Title", exact=True)
    sync_api.expect(title).to_have_count(1)
    sync_api.expect(page.get_by_text("must not be empty").first).to_be_visible()
    shot(page, "workflow-form-error")
    title.fill("Approve the request")
    title.press("Enter")
    settle(page)
    sync_api.expect(page.get_by_text("must not be empty")).to_have_count(0)

    page.get_by_role("tab", name="Dry run").click()
    _pick(page, "step_2 (", "rejected")
    _click(page, "Run dry run")
    sync_api.expect(page.get_by_text("Ends: completed").first).to_be_visible()

    page.get_by_role("tab", name="Definition").click()
    _click(page, "Save")
    sync_api.expect(page.get_by_text(f"Created {name}").first).to_be_visible()

    system = Actor.system(demo.org_id, label="e2e")
    for i in range(20):  # the 20 running executions
        contact = save_contact(database, system, {"first_name": "Mig", "last_name": f"Ration{i}{uuid.uuid4().hex[:4]}"})
        start_execution(database, system, name, str(contact.id))
    drain_org(database, demo.org_id)
    page.reload()
    settle(page)
    _pick(page, "Edit", name)
    sync_api.expect(page.get_by_text("Version 1 · active · 20 running").first).to_be_visible()
    # Rename the approval step: the impact table says its 20 executions would need a mapping.
    step_id = page.get_by_role("textbox", name="Step id").nth(1)
    step_id.fill("approve")
    step_id.press("Enter")
    settle(page)
    sync_api.expect(page.get_by_text("Impact of saving").first).to_be_visible()
    shot(page, "workflow-impact")
    _click(page, "Save")
    sync_api.expect(page.get_by_text("as version 2").first).to_be_visible()

    page.get_by_role("tab", name="Move running executions").click()
    _pick(page, "running or paused) →", "approve")
    page.get_by_role("tab", name="Move running executions").click()
    page.get_by_text("Move these 20 executions").first.click()
    settle(page)
    _click(page, "Migrate")
    sync_api.expect(page.get_by_text("Moved 20 execution(s) to version 2").first).to_be_visible()
    page.get_by_role("tab", name="Move running executions").click()
    _click(page, "Revert")
    sync_api.expect(page.get_by_text("Put back 20 execution(s)").first).to_be_visible()


def test_manager_sees_every_chart_render(demo, live_app, page):
    sign_in(page, live_app, "manager")
    shot(page, "home-manager")
    open_page(page, "Analytics")
    settle(page)
    charts, empty = page.get_by_test_id("stPlotlyChart"), page.get_by_test_id("stAlert")
    sync_api.expect(charts.first).to_be_visible()
    # Seven charts; one may be an explanation instead when its data is empty (e.g. no timeouts yet).
    # The charts appear together once their aggregations (run side by side) finish.
    deadline = time.monotonic() + 60
    while charts.count() + empty.count() < 7 and time.monotonic() < deadline:
        page.wait_for_timeout(500)
    settle(page)
    assert charts.count() + empty.count() >= 7 and charts.count() >= 5, (charts.count(), empty.all_inner_texts())
    assert page.get_by_test_id("stException").count() == 0
    shot(page, "analytics")

    # Signing out ends the session and its cookie: a reload lands on the sign-in form again.
    page.get_by_test_id("stSidebar").get_by_role("button", name="Sign out").click()
    sync_api.expect(page.get_by_role("heading", name="Sign in").first).to_be_visible()
    deadline = time.monotonic() + 20
    while session_cookie(page):
        assert time.monotonic() < deadline, "sign-out did not clear the cookie"
        page.wait_for_timeout(100)
    page.reload()
    sync_api.expect(page.get_by_role("heading", name="Sign in").first).to_be_visible()


def test_the_session_cookie_is_httponly_survives_a_reload_and_a_forged_one_is_signed_out(demo, live_app, page):
    """Issue [C] 4-5 in a real browser: page scripts cannot read the cookie, a reload stays signed in, and a
    garbage or forged cookie shows the sign-in form, never an error page."""
    sign_in(page, live_app, "reviewer")
    cookie = session_cookie(page)
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and not cookie["secure"]
    assert "byte_session" not in page.evaluate("document.cookie")
    page.reload()
    sync_api.expect(page.get_by_text("Welcome,").first).to_be_visible()
    host = live_app.split("//")[1].split(":")[0]
    for forged in ("garbage", "eyJhbGciOiJub25lIn0.eyJ1c2VybmFtZSI6InJldmlld2VyQGRlbW8uZXhhbXBsZS5jb20ifQ.",
                   cookie["value"][:-2] + "xy"):
        page.context.clear_cookies()
        page.context.add_cookies([{"name": "byte_session", "value": forged, "domain": host, "path": "/"}])
        page.goto(live_app)
        sync_api.expect(page.get_by_role("heading", name="Sign in").first).to_be_visible()
        assert page.get_by_test_id("stException").count() == 0


def test_sign_out_everywhere_from_my_account_ends_the_other_browser_too(demo, live_app, browser, page):
    """Revocation is a row: the other browser's cookie stops working at its next page load."""
    sign_in(page, live_app, "hr")
    other_context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        other = other_context.new_page()
        sign_in(other, live_app, "hr")
        open_page(page, "My account")
        cells = page.locator("[data-testid=stDataFrame] [role=gridcell]")  # canvas-drawn: read the grid cells
        sync_api.expect(cells.filter(has_text="(this device)")).to_have_count(1)
        page.get_by_role("button", name="Sign out everywhere", exact=True).click()
        page.get_by_role("button", name="Yes, sign out everywhere", exact=True).click()
        sync_api.expect(page.get_by_role("heading", name="Sign in").first).to_be_visible()
        other.reload()
        sync_api.expect(other.get_by_role("heading", name="Sign in").first).to_be_visible()
        assert other.get_by_test_id("stException").count() == 0
    finally:
        other_context.close()


def test_a_reviewer_opening_an_admin_url_is_told_they_have_no_access(demo, live_app, page):
    sign_in(page, live_app, "reviewer")
    page.goto(f"{live_app}/workflows")
    sync_api.expect(page.get_by_text("You don't have access to this page").first).to_be_visible()
    assert page.get_by_test_id("stSidebarNav").get_by_role("link", name="Workflows").count() == 0
    shot(page, "no-access")


def test_the_new_contact_form_keeps_what_was_typed_on_an_error(demo, live_app, page):
    sign_in(page, live_app, "hr")
    open_page(page, "Contacts")
    page.get_by_text("Add a contact").click()
    form = page.get_by_test_id("stForm").filter(has=page.get_by_role("button", name="Create contact"))
    typed = {"First name *": "Grace", "Last name *": f"Hopper{uuid.uuid4().hex[:4]}", "Email": "not-an-email",
             "City": "Arlington"}
    for label, value in typed.items():
        form.get_by_label(label, exact=True).fill(value)
    form.get_by_role("button", name="Create contact").click()
    sync_api.expect(page.get_by_text("is not valid").first).to_be_visible()
    for label, value in typed.items():
        sync_api.expect(form.get_by_label(label, exact=True)).to_have_value(value)


def test_the_activity_log_reads_as_sentences(demo, live_app, page):
    import re

    sign_in(page, live_app, "manager")
    open_page(page, "Activity log")
    settle(page)
    # The grid is drawn on a canvas; its cells also live in an accessible table that is not "visible".
    cells = page.get_by_test_id("stDataFrame").first.locator("[role=gridcell]")
    deadline = time.monotonic() + 20
    while cells.count() == 0 and time.monotonic() < deadline:
        page.wait_for_timeout(200)
    texts = cells.all_text_contents()
    sentences = [t for t in texts if re.search(r"\b(approved|rejected|completed|started|claimed|added|signed)\b", t)]
    assert sentences, texts[:10]
    assert not any("user_" in t or "workflow_execution" in t for t in texts), texts[:10]
    shot(page, "activity-log")


def _queue_rows(page, text: str):
    """The inbox list's rows holding `text`. The grid is drawn on a canvas; the columns in view also live in
    an accessible table. The list is the table with a "title" column (the open task shows tables too)."""
    title = page.locator("th[role=columnheader]", has_text=re.compile(r"^title$"))
    return page.get_by_test_id("stDataFrame").filter(has=title).locator("tr[role=row]").filter(has_text=text)


def test_reviewer_snoozes_a_claimed_task_out_of_my_tasks_and_shows_it_again(database, demo, live_app, page):
    """Issue [D]: claim, snooze to a later day from the open task, gone from My tasks, back with the toggle."""
    from datetime import date, timedelta

    from byte_core.task_queue import task_queue

    org_id = demo.org_id
    surname = f"Snooze{uuid.uuid4().hex[:6]}"
    _, name = _reviewer_approval(database, org_id, surname)
    title = f"Check documents of {name}"
    until = date.today() + timedelta(days=5)
    # Wide enough for the list's last column (its state) to be in view: only those are in the accessible table.
    page.set_viewport_size({"width": 2200, "height": 1000})

    sign_in(page, live_app, "reviewer")
    _open_reviewer_queue(page, surname)
    sync_api.expect(page.get_by_role("heading", name=title).first).to_be_visible()
    _click(page, "Claim")
    sync_api.expect(page.get_by_text(f"Claimed: {title}. It is in My tasks now.").first).to_be_visible()

    # The search stays: My tasks narrowed to this one task, which opens by itself.
    page.get_by_test_id("stButtonGroup").get_by_text("My tasks", exact=False).first.click()
    settle(page)
    sync_api.expect(_queue_rows(page, name)).to_have_count(1)
    sync_api.expect(page.get_by_role("heading", name=title).first).to_be_visible()
    page.get_by_text("Snooze until…").first.click()
    # A react-aria date field: one spin button per part; typing all eight digits moves through them.
    page.get_by_role("spinbutton", name="year, Hide from My tasks until").first.click()
    page.keyboard.type(f"{until:%Y%m%d}")
    field = page.get_by_test_id("stDateInput").filter(has_text="Hide from My tasks until").first
    sync_api.expect(field.locator("input[type=date]")).to_have_value(until.isoformat())
    # Straight to the button, as a person would: the field sends the typed day only with this click.
    _click(page, "Snooze")
    sync_api.expect(page.get_by_text(f"Snoozed: {title} until {until:%b %d}.").first).to_be_visible()
    sync_api.expect(page.get_by_text(f"No task matches “{surname}”").first).to_be_visible()
    sync_api.expect(_queue_rows(page, name)).to_have_count(0)

    page.get_by_text("Show snoozed tasks").first.click()
    settle(page)
    sync_api.expect(_queue_rows(page, name).filter(has_text=f"snoozed to {until:%b %d}")).to_have_count(1)

    system = Actor.system(org_id, label="e2e")
    (held,) = task_queue(database, system, "reviewer", include_claimed=True, search=surname).rows
    assert held.holder == PASSWORDS["reviewer"][0] and held.snoozed_until == until


def test_a_saved_view_brings_back_its_queue_search_and_sort(database, demo, live_app, page):
    """Issue [D]: set a queue, a search and a sort, save them as a view, change all three, pick the view."""
    org_id = demo.org_id
    surname = f"View{uuid.uuid4().hex[:6]}"
    _, name = _reviewer_approval(database, org_id, surname)
    view = f"Docs {surname}"

    sign_in(page, live_app, "reviewer")
    _open_reviewer_queue(page, surname)
    _pick(page, "Sort by", "age")
    sync_api.expect(_queue_rows(page, name)).to_have_count(1)
    page.get_by_role("button", name="Saved views").first.click()
    page.get_by_role("textbox", name="Save the current filter as").fill(view)
    _click(page, "Save view")
    sync_api.expect(page.get_by_text(f"Saved the view {view}.").first).to_be_visible()

    # Something else entirely: My tasks, another search, another sort.
    page.get_by_test_id("stButtonGroup").get_by_text("My tasks", exact=False).first.click()
    settle(page)
    find, sort = page.get_by_role("textbox", name="Find").first, page.get_by_role("combobox", name="Sort by").first
    find.fill("nobody-like-this")
    find.press("Enter")
    settle(page)
    _pick(page, "Sort by", "priority")
    sync_api.expect(sort).to_have_value("priority")
    sync_api.expect(page.get_by_text("No task matches").first).to_be_visible()

    page.get_by_role("button", name="Saved views").first.click()
    _click(page, view)
    sync_api.expect(find).to_have_value(surname)
    sync_api.expect(sort).to_have_value("age")
    sync_api.expect(page.get_by_role("radio", name=re.compile(r"^Reviewer queue")).first).to_be_checked()
    sync_api.expect(page.get_by_role("radio", name=re.compile(r"^My tasks")).first).not_to_be_checked()
    sync_api.expect(_queue_rows(page, name)).to_have_count(1)
    sync_api.expect(page.get_by_role("heading", name=f"Check documents of {name}").first).to_be_visible()
