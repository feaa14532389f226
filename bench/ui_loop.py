"""What a person waits for in the browser (issue [D]): sign-in → Home, each page's navigation time and the
reviewer loop in the Task inbox, in headless Chromium against a real `streamlit run app.py`, at demo size
and (with --large) at the large seed.

    python bench/ui_loop.py [--rounds 5] [--role admin] [--decisions 20] [--only reviewer-loop]
                            [--large [--contacts 100000 --executions 300000]]

Runs on a fresh embedded PostgreSQL in a temporary directory. A navigation is timed from the click on the
sidebar link until the new page's title is shown, Streamlit reports its script run finished
(`data-test-script-state="notRunning"`) and no element of the previous run is left (`data-stale`): what a
person sees as "the page is there". Round 1 is the cold visit (imports, first queries, Analytics' five-minute
cache); the median and the worst of the later rounds follow it.

The reviewer loop signs in as a reviewer, opens a queue of `--decisions` + 5 tasks made for it through
byte_core (Client Onboarding executions waiting on the reviewer's approval), and for each decision types a
comment, clicks the approve button once and times the click until the next task's heading is shown by a
finished run; it prints p50/p95, the clicks per decision and the server's CPU per decision, and checks
that every decision was recorded with its comment. No scheduler runs: the figures are the inbox's own.

Each measurement is a function in SCENARIOS taking a Bench and returning rows of
(name, [seconds per repetition]); add one there and it is run and printed like the others. The load
average is printed with each table: the machine is shared, so read the figures beside it.
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.servers import free_port, http_status  # noqa: E402 - the same helpers the browser tests use

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

# True once the page titled `title` is drawn by a finished run with nothing stale left on screen.
PAGE_READY = """(title) => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  if (document.querySelector('[data-stale="true"]')) return false;
  return [...document.querySelectorAll('h1')].some(h => h.textContent.trim().startsWith(title));
}"""


@dataclass(frozen=True)
class Login:
    email: str
    password: str
    role: str


@dataclass(frozen=True)
class Bench:
    """What a scenario runs against: the browser, the served app, who signs in, and the database behind it
    (for scenarios that prepare their own data)."""
    browser: object
    base: str
    login: Login
    login_as: Callable[[str], Login]
    rounds: int
    decisions: int
    database: object
    org_id: str
    server_cpu: Callable[[], float]


def _wait_http(url: str, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if http_status(url, timeout=2) == 200:
            return
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {seconds}s")


def wait_ready(page, title: str, timeout_ms: int = 120_000) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(PAGE_READY, arg=title, timeout=timeout_ms, polling=25)
    except PlaywrightTimeout:
        seen = page.evaluate("""() => ({
          state: document.querySelector('[data-testid="stApp"]')?.getAttribute('data-test-script-state'),
          stale: [...document.querySelectorAll('[data-stale="true"]')].map(e => e.getAttribute('data-testid')),
          titles: [...document.querySelectorAll('h1')].map(h => h.textContent.trim())})""")
        raise RuntimeError(f"page {title!r} never became ready: {seen}") from None


def heading_of(spec) -> str:
    return "Welcome," if spec.url_path == "home" else spec.title


def sign_in(page, base: str, login: Login) -> float:
    """Seconds from the Sign in click to a finished Home; waits until the session cookie is written (a click
    during the reruns it causes would be superseded), which is not counted."""
    page.goto(base)
    wait_ready(page, "BYTE Dashboard")
    page.wait_for_timeout(1500)  # the cookie component's first rerun, as in the browser tests
    wait_ready(page, "BYTE Dashboard")
    page.get_by_role("textbox", name="Email").fill(login.email)
    page.get_by_role("textbox", name="Password").fill(login.password)
    started = time.perf_counter()
    page.get_by_role("button", name="Sign in").click()
    wait_ready(page, "Welcome,")
    took = time.perf_counter() - started
    deadline = time.monotonic() + 30
    while not any(c["name"] == "byte_session" for c in page.context.cookies()):
        if time.monotonic() > deadline:
            raise RuntimeError("the sign-in cookie was never written")
        page.wait_for_timeout(50)
    page.wait_for_timeout(1000)
    wait_ready(page, "Welcome,")
    return took


def navigate(page, spec) -> float:
    # A page's link may carry a count ("Notifications (3)" while some are unread).
    link = re.compile(rf"^{re.escape(spec.title)}( \([\d,]+\))?$")
    started = time.perf_counter()
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=link).click()
    wait_ready(page, heading_of(spec))
    return time.perf_counter() - started


def sign_in_scenario(bench: Bench) -> list[tuple[str, list[float]]]:
    times = []
    for _ in range(bench.rounds):
        context = bench.browser.new_context(viewport={"width": 1400, "height": 900})
        try:
            times.append(sign_in(context.new_page(), bench.base, bench.login))
        finally:
            context.close()
    return [("sign-in → Home", times)]


def pages_scenario(bench: Bench) -> list[tuple[str, list[float]]]:
    from pages._registry import pages_for

    browser, base, login, rounds = bench.browser, bench.base, bench.login, bench.rounds
    specs = [s for s in pages_for(frozenset({login.role})) if s.url_path != "home"]
    home = next(s for s in pages_for(frozenset({login.role})) if s.url_path == "home")
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    times: dict[str, list[float]] = {s.title: [] for s in [*specs, home]}
    try:
        page = context.new_page()
        page.set_default_timeout(120_000)
        sign_in(page, base, login)
        for _ in range(rounds):
            for spec in [*specs, home]:
                times[spec.title].append(navigate(page, spec))
    finally:
        context.close()
    return [(f"→ {title}", values) for title, values in times.items()]


def reviewer_loop_scenario(bench: Bench) -> None:
    """Prints its own table: the loop is judged by p50/p95 and clicks, not by a cold first round."""
    from _inbox_loop import check_decided, decide_in_a_row, make_reviewer_tasks, open_batch

    started = time.perf_counter()
    batch, executions = make_reviewer_tasks(bench.database, bench.org_id, bench.decisions + 5)
    print(f"  made {len(executions)} tasks waiting on the reviewer in {time.perf_counter() - started:.0f}s")
    context = bench.browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        page = context.new_page()
        page.set_default_timeout(120_000)
        sign_in(page, bench.base, bench.login_as("reviewer"))
        open_batch(page, wait_ready, batch)
        loop = decide_in_a_row(page, bench.decisions, bench.server_cpu)
    finally:
        context.close()
    times = sorted(loop["times"])
    p50, p95 = statistics.median(times), times[max(0, -(-95 * len(times) // 100) - 1)]
    recorded = check_decided(bench.database, bench.org_id, executions, bench.decisions)
    print(f"  click → next task shown over {len(times)} decisions (ms): p50 {p50 * 1000:.0f} · p95 {p95 * 1000:.0f}"
          f" · best {times[0] * 1000:.0f} · worst {times[-1] * 1000:.0f}")
    print(f"  clicks per decision: {loop['clicks'] / len(times):g} + the comment typed · server CPU per decision:"
          f" {loop['cpu'] * 1000:.0f} ms · recorded as approved with the comment: {recorded} of {bench.decisions}")
    if recorded != bench.decisions:
        raise RuntimeError(f"{bench.decisions - recorded} decision(s) were not recorded as clicked")


SCENARIOS: dict[str, Callable] = {"sign-in": sign_in_scenario, "pages": pages_scenario,
                                  "reviewer-loop": reviewer_loop_scenario}


def load_average() -> str:
    return "load average " + " ".join(f"{value:.2f}" for value in os.getloadavg()) + f" on {os.cpu_count()} cores"


def report(label: str, rows: list[tuple[str, list[float]]]) -> None:
    print(f"\n{label}")
    print(f"  {'':<26}{'cold (1st)':>12}{'median':>10}{'worst':>10}   (ms; later rounds: {len(rows[0][1]) - 1})")
    for name, values in rows:
        later = values[1:] or values
        print(f"  {name:<26}{values[0] * 1000:>12.0f}{statistics.median(later) * 1000:>10.0f}"
              f"{max(later) * 1000:>10.0f}")


def serve(database_url: str, logs: Path):
    port = free_port()
    env = dict(os.environ, DATABASE_URL=database_url, PYTHONUNBUFFERED="1",
               BYTE_COOKIE_KEY=os.environ.get("BYTE_COOKIE_KEY", "bench-only-cookie-key"))
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=open(logs / "streamlit.log", "wb"), stderr=subprocess.STDOUT)
    _wait_http(f"http://127.0.0.1:{port}/_stcore/health")
    return server, f"http://127.0.0.1:{port}"


def run_all(bench: Bench, label: str, only: list[str]) -> None:
    for name, scenario in SCENARIOS.items():
        if only and name not in only:
            continue
        title = f"{label} · {name} · {load_average()}"
        if name == "reviewer-loop":
            print(f"\n{title} · {bench.login_as('reviewer').email}")
            scenario(bench)
        else:
            report(f"{title} · {bench.login.email}", scenario(bench))


def server_cpu_of(pid: int) -> Callable[[], float]:
    """The Streamlit server's CPU seconds so far (user + system), to tell its work from the waiting."""
    import psutil

    process = psutil.Process(pid)
    return lambda: sum(process.cpu_times()[:2])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="visits of each page (the first is the cold one)")
    parser.add_argument("--role", default="admin", choices=["admin", "manager", "reviewer", "hr"])
    parser.add_argument("--decisions", type=int, default=20, help="decisions in the reviewer loop (>= 20 for p95)")
    parser.add_argument("--only", action="append", choices=list(SCENARIOS), default=[],
                        help="run only this scenario (repeatable); all by default")
    parser.add_argument("--large", action="store_true", help="also measure at the large seed (several minutes)")
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--executions", type=int, default=300_000)
    parser.add_argument("--data-dir", type=Path, help="keep the database here and reuse what an earlier run "
                        "seeded there (the large seed takes minutes); a temporary directory by default")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="byte-bench-ui-") as scratch:
        tmp = str(args.data_dir.resolve()) if args.data_dir else scratch
        os.environ["BYTE_DATA_DIR"] = tmp
        os.environ.pop("DATABASE_URL", None)
        from byte_core.db import get_database, migrate
        from byte_core.demo import DEMO_USERS, seed_demo
        from byte_core.embedded import EmbeddedServer

        embedded = EmbeddedServer(Path(tmp))
        database, server = None, None
        try:
            database = get_database()
            migrate(database)
            started = time.perf_counter()
            demo = seed_demo(database)
            print(f"demo seeded in {time.perf_counter() - started:.0f}s ({demo.contacts_created} contacts, "
                  f"{demo.executions_created} executions)")
            server, base = serve(database.owner_url, Path(tmp))

            def demo_login(role: str) -> Login:
                email, _, password, *_ = next(u for u in DEMO_USERS if role in u[1])
                return Login(email, password, role)

            def large_login(role: str) -> Login:
                return Login(f"{role}1@bench.bench.example.com", f"{role}-bench-2026", role)

            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                try:
                    bench = Bench(browser, base, demo_login(args.role), demo_login, args.rounds, args.decisions,
                                  database, demo.org_id, server_cpu_of(server.pid))
                    size = (f"{demo.contacts_created} contacts, {demo.executions_created} executions"
                            if demo.created_org else "the demo organization an earlier run seeded")
                    run_all(bench, f"demo size ({size})", args.only)
                    if args.large:
                        from byte_core.bulk_seed import seed_large
                        from byte_core.orgs import org_id_by_slug

                        if org_id_by_slug(database, "bench") is None:
                            seeded = seed_large(database, org_slug="bench", contacts=args.contacts,
                                                executions=args.executions, show_progress=True)
                            print(f"large seed in {seeded['seconds']:.0f}s")
                        else:
                            print(f"large seed reused from {tmp} (its own size, whatever --contacts says)")
                        large = replace(bench, login=large_login(args.role), login_as=large_login,
                                        org_id=org_id_by_slug(database, "bench"))
                        run_all(large, f"large seed ({args.contacts:,} contacts, {args.executions:,} executions)",
                                args.only)
                finally:
                    browser.close()
        finally:
            if server is not None:
                server.terminate()
                try:
                    server.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    server.kill()
            if database is not None:
                database.dispose()
            embedded.stop()


if __name__ == "__main__":
    main()
