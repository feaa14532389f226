"""`byte up`: database, migrations, demo data on first start, scheduler and Streamlit, stopped together.

While it runs it supervises: the embedded PostgreSQL is restarted (on the same port, with a log line)
if it dies, and the dashboard's address is recorded in the data directory for `byte intake url`."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import click

from ..errors import InvalidInput
from ..ops.running import forget_server, record_server
from .base import cli

REPO_ROOT = Path(__file__).resolve().parents[2]


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


@cli.command("up")
@click.option("--port", type=click.IntRange(1, 65535), default=8501, show_default=True, help="Dashboard port.")
@click.option("--address", default="127.0.0.1", show_default=True, help="Interface the dashboard listens on.")
@click.option("--workers", type=click.IntRange(0, 16), default=1, show_default=True,
              help="Scheduler processes to start (0: none, e.g. when they run elsewhere).")
def up_command(port: int, address: str, workers: int) -> None:
    """Run everything: embedded database (unless DATABASE_URL), migrations, demo data, scheduler, dashboard."""
    from ..config import load_settings
    from ..db import get_database, migrate
    from ..demo import DEMO_USERS, seed_demo
    from ..orgs import count_orgs
    from .demo_commands import demo_logins_text

    started = time.monotonic()
    # Check what can fail cheaply before anything is created, so a failure leaves nothing behind.
    if not _port_free(port):
        raise InvalidInput(f"port {port} is in use: stop what uses it or pass --port N")
    app_script = REPO_ROOT / "app.py"
    if not app_script.exists():
        raise InvalidInput(f"{app_script} is missing: run `byte up` from a checkout of the repository")
    settings = load_settings()
    db = get_database(settings)
    revision = migrate(db)
    where = f"embedded PostgreSQL in {settings.data_dir}" if settings.embedded else "DATABASE_URL"
    click.echo(f"database: {where}, schema {revision}")
    if count_orgs(db) == 0:
        click.echo("first start: seeding the demo organization...")
        seed_demo(db)
        click.echo(demo_logins_text(DEMO_USERS))

    env = dict(os.environ)
    if settings.embedded:
        env["BYTE_DATA_DIR"] = str(settings.data_dir)
    children: list[subprocess.Popen] = []
    for index in range(workers):
        children.append(_spawn([sys.executable, "-m", "scheduler", "run"], env))
    children.append(_spawn(
        [sys.executable, "-m", "streamlit", "run", str(app_script), "--server.port", str(port),
         "--server.address", address, "--server.headless", "true", "--browser.gatherUsageStats", "false"], env))
    url = f"http://{_link_host(address)}:{port}"
    record_server(settings.data_dir, url, os.getpid())
    click.echo(f"BYTE Dashboard: {url}  (Ctrl-C stops everything; readiness at {url}/api/ready; "
               f"startup took {time.monotonic() - started:.1f}s before Streamlit)")
    _supervise(children, settings)


def _spawn(argv: list[str], env: dict) -> subprocess.Popen:
    """A child in its own process group: Ctrl-C reaches only `byte up`, which then stops each child once
    with SIGTERM. (Uvicorn, given Ctrl-C and then SIGTERM, printed a KeyboardInterrupt traceback.) The
    child also gets SIGTERM should `byte up` itself be killed, so nothing is left running."""
    return subprocess.Popen(argv, env=env, cwd=REPO_ROOT, start_new_session=True, preexec_fn=_terminate_with_parent)


def _terminate_with_parent() -> None:
    import ctypes

    PR_SET_PDEATHSIG = 1
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: Ctrl-C still stops everything through `byte up`
        pass


def _link_host(address: str) -> str:
    return socket.gethostname() if address in ("0.0.0.0", "::", "") else address


def _watch_embedded(server) -> None:
    """Restart the embedded PostgreSQL if it died; readiness answers 503 until it is back."""
    if server.is_running():
        return
    click.echo(f"{time.strftime('%H:%M:%S')} embedded PostgreSQL is not running (see {server.log_file}); "
               "restarting it", err=True)
    try:
        server.restart_after_crash()
    except Exception as exc:  # noqa: BLE001 - keep supervising: the next round tries again
        click.echo(f"{time.strftime('%H:%M:%S')} restarting PostgreSQL failed: {exc}", err=True)
        return
    click.echo(f"{time.strftime('%H:%M:%S')} embedded PostgreSQL restarted", err=True)


def _supervise(children: list[subprocess.Popen], settings) -> None:
    from ..embedded import EmbeddedServer

    embedded = EmbeddedServer(settings.data_dir) if settings.embedded else None
    next_database_check = 0.0
    stopping = False

    def request_stop(_signum, _frame) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    exit_code = 0
    try:
        while not stopping:
            for child in children:
                if child.poll() is not None:
                    click.echo(f"a child process exited with code {child.returncode}; stopping everything", err=True)
                    exit_code = child.returncode or 1
                    stopping = True
                    break
            if embedded is not None and not stopping and time.monotonic() >= next_database_check:
                _watch_embedded(embedded)
                next_database_check = time.monotonic() + 1.0
            time.sleep(0.3)
    finally:
        _stop_children(children)
        forget_server(settings.data_dir, os.getpid())
        if embedded is not None:
            from ..db import reset_database

            reset_database()
            embedded.stop()
        click.echo("stopped: dashboard, scheduler" + (" and embedded PostgreSQL" if settings.embedded else ""))
    sys.exit(exit_code)


def _stop_children(children: list[subprocess.Popen]) -> None:
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 10
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
