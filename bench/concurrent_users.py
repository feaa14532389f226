"""How many people one dashboard server holds (issue [G] item 4): N simultaneous browser sessions, each a
headless Chromium context (Debian's /usr/bin/chromium through Playwright), against one `streamlit run
app.py` on a fresh embedded PostgreSQL with the demo organization plus tasks for the bench.

Four in five sessions are reviewers doing the reviewer loop, one in five managers:
    reviewer: home -> task page (Task inbox in the sidebar) -> open queue (Reviewer queue) -> open task (find
              one of its own tasks) -> decide (Complete: one click, the next task opens by itself),
              and again from the top
    manager:  Home -> Analytics, and again
An interaction is timed from the click until its result is on screen and the run is over (no running
indicator, no stale elements). Prints p50/p95 per interaction, errors, and the server process's CPU
(% of one core) and peak RSS, for each N:

    python bench/concurrent_users.py [--sessions 5 20 50] [--seconds 60] [--proxy-servers 0]

The browsers run on the same 2 cores as the server: their CPU is printed too, since it competes, and
so is the server's CPU per interaction, which does not depend on what else runs. With --profile, py-spy
(`pip install py-spy`) samples the server during the measured part and the functions that hold the most
samples (inclusive: the function or anything it calls) are printed.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CHROMIUM = "/usr/bin/chromium"
REVIEWER = ("reviewer@demo.example.com", "reviewer-demo-2026")
MANAGER = ("manager@demo.example.com", "manager-demo-2026")
TICK = os.sysconf("SC_CLK_TCK")
COMPLETE = re.compile(r"(^|\s)Complete$")  # the button's name may carry its icon's ligature ("done Complete")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def process_tree(pid: int) -> list[int]:
    children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [pid] + [p for child in children for p in process_tree(int(child))]


def cpu_by_pid(pids: list[int]) -> dict[int, float]:
    seconds = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            seconds[pid] = (int(fields[11]) + int(fields[12])) / TICK
        except (OSError, IndexError):
            pass
    return seconds


def cpu_used(before: dict[int, float], pids: list[int]) -> float:
    """CPU seconds since `before`, over the processes alive now (a new one counts from zero)."""
    return sum(now - before.get(pid, 0.0) for pid, now in cpu_by_pid(pids).items())


def chromium_pids() -> list[int]:
    return [int(p) for p in subprocess.run(["pgrep", "-f", "chromium"], capture_output=True, text=True).stdout.split()]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Stack:
    """Embedded PostgreSQL + demo data + bench tasks + one Streamlit server."""

    def __init__(self) -> None:
        from byte_core import db as db_module
        from byte_core.config import Settings
        from byte_core.demo import seed_demo
        from byte_core.embedded import EmbeddedServer

        self.dir = Path(tempfile.mkdtemp(prefix="byte-bench-users-"))
        self.server = EmbeddedServer(self.dir)
        self.server.start()
        self.database = db_module.build_database(Settings(self.dir, None, None))
        db_module.migrate(self.database)
        self.org_id = seed_demo(self.database, password_rounds=4).org_id
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, BYTE_DATA_DIR=str(self.dir), BYTE_COOKIE_KEY=uuid.uuid4().hex)
        command = [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", str(self.port),
                   "--server.address", "127.0.0.1", "--server.headless", "true"]
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                        stderr=open(self.dir / "server.log", "wb"), start_new_session=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{self.url}/api/health", timeout=2)
                return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError("the server did not start")

    def add_tasks(self, session_tag: str, count: int) -> None:
        from sqlalchemy import text

        with self.database.session(self.org_id) as s:
            s.execute(text("INSERT INTO tasks (org_id, title, status, assigned_role, priority, task_type)"
                           " SELECT :o, :t || ' #' || n, 'todo', 'reviewer', 'medium', 'standard'"
                           " FROM generate_series(1, :c) AS n"), {"o": self.org_id, "t": session_tag, "c": count})

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.database.dispose()
        self.server.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class RunWatcher:
    """Counts the full script runs the server reports finished on a page's WebSocket (Streamlit's
    ForwardMsg.script_finished), so an interaction ends when the server says its run is over and every
    delta of it has arrived, not when an indicator in the page happens to fade out."""

    def __init__(self, page) -> None:
        self.finished = 0
        page.on("websocket", lambda socket: socket.on("framereceived", self._frame))

    def _frame(self, payload) -> None:
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        if not isinstance(payload, (bytes, bytearray)):
            return
        message = ForwardMsg()
        try:
            message.ParseFromString(bytes(payload))
        except Exception:  # noqa: BLE001 - not a ForwardMsg
            return
        if message.WhichOneof("type") == "script_finished" and message.script_finished in (
                ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_WITH_COMPILE_ERROR):
            self.finished += 1

    async def next_run(self, after: int, seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while self.finished <= after:
            if time.monotonic() > deadline:
                raise TimeoutError("the server reported no finished run")
            await asyncio.sleep(0.005)


WATCHERS: dict[int, RunWatcher] = {}


async def settled(page) -> None:
    from playwright.async_api import expect

    await expect(page.locator('[data-stale="true"]')).to_have_count(0)


async def timed(results, name: str, action, done, page=None, runs: bool = True) -> None:
    """`page`'s next finished run (when `runs`) and then `done` mark the end of the interaction."""
    watcher = WATCHERS.get(id(page)) if page is not None else None
    before = watcher.finished if watcher else 0
    started = time.perf_counter()
    try:
        await action()
        if watcher and runs:
            await watcher.next_run(before)
        await done()
        results[name].append(time.perf_counter() - started)
    except Exception as exc:  # noqa: BLE001 - counted and reported, the session goes on
        results[f"{name} (errors)"].append(f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}")


async def sign_in(page, url: str, who: tuple[str, str]) -> None:
    from playwright.async_api import expect

    await page.goto(url, timeout=120_000)
    await expect(page.get_by_role("heading", name="Sign in").first).to_be_visible(timeout=120_000)
    # The sign-in page's cookie component reruns it as it loads; a click during such a rerun is lost,
    # and a person clicks again.
    for _attempt in range(4):
        await page.wait_for_timeout(1500)
        await page.get_by_role("textbox", name="Email").fill(who[0])
        await page.get_by_role("textbox", name="Password").fill(who[1])
        await page.get_by_role("button", name="Sign in").click()
        try:
            await page.get_by_text("Welcome,").first.wait_for(timeout=15_000)
            break
        except Exception:  # noqa: BLE001 - playwright's TimeoutError: try again
            continue
    await expect(page.get_by_text("Welcome,").first).to_be_visible()
    await page.wait_for_timeout(2000)  # the cookie component's reruns after sign-in
    await settled(page)


def nav(page, title: str):
    return page.get_by_test_id("stSidebarNav").get_by_role("link", name=title)


async def go_home(page, results) -> None:
    await timed(results, "home", lambda: nav(page, "Home").click(),
                lambda: _visible_then_settled(page, page.get_by_text("Welcome,").first), page)


async def reviewer_loop(page, tag: str, until: float, results, rounds: int | None = None) -> None:
    done = 0
    while time.monotonic() < until or (rounds is not None and done < rounds):
        done += 1
        # From Home each time: leaving the page drops its widgets' state, so the queue starts at "My tasks".
        await go_home(page, results)
        await timed(results, "task page", lambda: nav(page, "Task inbox").click(),
                    lambda: _visible_then_settled(page, page.get_by_role("heading", name="Task inbox").first), page)
        await timed(results, "open queue", lambda: page.get_by_text("Reviewer queue").first.click(),
                    lambda: _visible_then_settled(page, page.get_by_text("Show tasks already claimed").first), page)
        await timed(results, "open task", lambda: _search(page, tag),
                    lambda: _visible_then_settled(page, page.get_by_role("button", name=COMPLETE).first), page)
        # In the inbox a decision is one click; the next task opens by itself.
        await timed(results, "decide", lambda: page.get_by_role("button", name=COMPLETE).first.click(),
                    lambda: _visible_then_settled(page, page.get_by_text("Completed:").first), page)


async def _search(page, tag: str) -> None:
    box = page.get_by_role("textbox", name="Find")
    await box.fill(tag + " #")
    await box.press("Enter")


async def _visible_then_settled(page, locator) -> None:
    from playwright.async_api import expect

    await expect(locator).to_be_visible()
    await settled(page)


async def manager_loop(page, until: float, results, rounds: int | None = None) -> None:
    done = 0
    while time.monotonic() < until or (rounds is not None and done < rounds):
        done += 1
        await go_home(page, results)
        await timed(results, "analytics", lambda: nav(page, "Analytics").click(),
                    lambda: _visible_then_settled(page, page.get_by_role("heading", name="Analytics").first), page)


async def run_sessions(stack: Stack, url: str, sessions: int, seconds: float, profile: bool = False) -> dict:
    from playwright.async_api import async_playwright, expect

    expect.set_options(timeout=30_000)
    results: dict[str, list] = defaultdict(list)
    managers = max(1, sessions // 5)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking"])
        pages = []
        for index in range(sessions):
            context = await browser.new_context(viewport={"width": 1400, "height": 1000})
            page = await context.new_page()
            WATCHERS[id(page)] = RunWatcher(page)
            pages.append(page)
        tags = [f"Bench {uuid.uuid4().hex[:6]}" for _ in range(sessions)]
        for tag in tags:
            stack.add_tasks(tag, 200)
        # Sign-ins a few at a time: they are not what is measured (bcrypt), and 50 at once only queue.
        semaphore = asyncio.Semaphore(5)

        async def signed(index: int) -> None:
            async with semaphore:
                try:
                    await sign_in(pages[index], url, MANAGER if index < managers else REVIEWER)
                except Exception as exc:  # noqa: BLE001 - an overloaded machine: count it, go on without it
                    results["sign in (errors)"].append(f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}")
                    pages[index] = None

        await asyncio.gather(*(signed(i) for i in range(sessions)))
        live = [i for i in range(sessions) if pages[i] is not None]
        # One unmeasured round per session first: the first visit of a page in a process imports pandas
        # and plotly and fills caches, which is start-up, not capacity.
        warm_until = time.monotonic()
        await asyncio.gather(*(manager_loop(pages[i], warm_until, defaultdict(list), rounds=1) if i < managers
                               else reviewer_loop(pages[i], tags[i], warm_until, defaultdict(list), rounds=1)
                               for i in live))
        pid_tree = process_tree(stack.process.pid)
        cpu_before, browser_before = cpu_by_pid(pid_tree), cpu_by_pid(chromium_pids())
        wall_before = time.monotonic()
        peak = [rss_mb(stack.process.pid)]

        async def sample() -> None:
            while True:
                peak.append(rss_mb(stack.process.pid))
                await asyncio.sleep(0.5)

        sampler = asyncio.create_task(sample())
        spy = None
        if profile:
            spy = subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record", "--pid",
                                    str(stack.process.pid), "--duration", str(int(seconds)), "--rate", "50",
                                    "--format", "raw", "--output", str(stack.dir / "spy.txt"), "--nonblocking"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        until = time.monotonic() + seconds
        await asyncio.gather(*(manager_loop(pages[i], until, results) if i < managers
                               else reviewer_loop(pages[i], tags[i], until, results) for i in live))
        sampler.cancel()
        wall = time.monotonic() - wall_before
        results["_server_cpu"] = [100 * cpu_used(cpu_before, process_tree(stack.process.pid)) / wall]
        results["_browser_cpu"] = [100 * cpu_used(browser_before, chromium_pids()) / wall]
        results["_rss_peak"] = [max(peak)]
        results["_seconds"] = [wall]
        if spy is not None:
            spy.wait(timeout=120)
            results["_profile"] = [stack.dir / "spy.txt"]
        await browser.close()
    return results


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def report(sessions: int, results: dict) -> None:
    print(f"\n== {sessions} sessions ({max(1, sessions // 5)} managers, {sessions - max(1, sessions // 5)} reviewers)")
    print(f"{'interaction':<12} {'count':>6} {'p50 ms':>8} {'p95 ms':>8} {'errors':>7}")
    everything = []
    if results.get("sign in (errors)"):
        print(f"{len(results['sign in (errors)'])} sessions never signed in (counted as errors, left out)")
    for name in ["task page", "open queue", "open task", "decide", "next", "home", "analytics"]:
        times, errors = results.get(name, []), results.get(f"{name} (errors)", [])
        everything += times
        if times or errors:
            p50 = f"{1000 * statistics.median(times):8.0f}" if times else "       -"
            p95 = f"{1000 * percentile(times, 0.95):8.0f}" if times else "       -"
            print(f"{name:<12} {len(times):>6} {p50} {p95} {len(errors):>7}")
    if everything:
        print(f"{'all':<12} {len(everything):>6} {1000 * statistics.median(everything):8.0f} "
              f"{1000 * percentile(everything, 0.95):8.0f}")
    print(f"server CPU {results['_server_cpu'][0]:.0f}% of one core, peak RSS {results['_rss_peak'][0]:.0f} MB; "
          f"browsers' CPU {results['_browser_cpu'][0]:.0f}%; load average {os.getloadavg()[0]:.1f}")
    if everything:  # what one click costs the server, whatever else the machine is doing
        per_click = results['_server_cpu'][0] / 100 * results['_seconds'][0] / len(everything)
        print(f"server CPU per interaction {1000 * per_click:.0f} ms: one core serves ~{1 / per_click:.1f} clicks/s")
    samples = [e for k, v in results.items() if k.endswith("(errors)") for e in v][:3]
    for sample in samples:
        print(f"  error: {sample}")


def print_profile(path: Path, top: int = 30) -> None:
    """Inclusive samples per function from py-spy's collapsed stacks (`frame;frame;... count`)."""
    inclusive: dict[str, int] = defaultdict(int)
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        total += int(count)
        for frame in set(stack.split(";")):
            inclusive[re.sub(r"\s*\(/[^)]*site-packages/", " (", frame)] += int(count)
    print(f"\nserver samples: {total} (busy threads only); functions by share of them, inclusive:")
    for frame, count in sorted(inclusive.items(), key=lambda item: -item[1])[:top]:
        print(f"{100 * count / max(total, 1):5.1f}%  {frame[:150]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, nargs="+", default=[5, 20, 50])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--profile", action="store_true", help="run the server under cProfile and print its top")
    args = parser.parse_args()
    stack = Stack()
    try:
        print(f"server {stack.url} on a fresh embedded PostgreSQL; demo organization + 200 tasks per session")
        for sessions in args.sessions:
            results = asyncio.run(run_sessions(stack, stack.url, sessions, args.seconds, args.profile))
            report(sessions, results)
            if results.get("_profile"):
                print_profile(results["_profile"][0])
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
