"""Operations against real processes: readiness follows the database (stopped, killed, back), `byte up`
restarts its embedded PostgreSQL, 30 `byte` commands at once all succeed, and stopping prints no traceback.
Each test runs its own embedded PostgreSQL in a temporary directory, so stopping it harms no other test."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from byte_core import db as db_module
from byte_core.config import Settings
from byte_core.embedded import EmbeddedServer
from tests.servers import free_port, http_status

ROOT = Path(__file__).resolve().parents[1]
BYTE = [sys.executable, "-c", "from byte_core.cli import main; main()"]
pytestmark = pytest.mark.slow


def wait_for_status(url: str, wanted: int, seconds: float, poll: float = 0.2) -> float:
    """Seconds until `url` answered `wanted`; fails after `seconds`."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if http_status(url) == wanted:
            return time.monotonic() - started
        time.sleep(poll)
    pytest.fail(f"{url} did not answer {wanted} within {seconds}s (last: {http_status(url)})")


def env_for(data_dir: Path, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "BYTE_APP_DATABASE_URL",
                                                             "BYTE_PUBLIC_URL")}
    return env | {"BYTE_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1"} | extra


def stop_group(process: subprocess.Popen, signum: int = signal.SIGTERM, seconds: float = 30) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signum)
        try:
            process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture
def own_server(tmp_path):
    """A migrated embedded PostgreSQL of this test's own."""
    server = EmbeddedServer(tmp_path / "data")
    server.start(fast_unsafe=True)
    database = db_module.build_database(Settings(tmp_path / "data", None, None))
    db_module.migrate(database)
    database.dispose()
    yield server
    server.stop()


def test_ready_turns_503_when_the_database_stops_and_200_when_it_returns(own_server, tmp_path):
    port = free_port()
    log = open(tmp_path / "streamlit.log", "wb")
    streamlit = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", str(port),
         "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env_for(own_server.data_dir, BYTE_READY_SCHEDULER_SECONDS="0"), stdout=log,
        stderr=subprocess.STDOUT, start_new_session=True)
    ready = f"http://127.0.0.1:{port}/api/ready"
    try:
        wait_for_status(ready, 200, 90)
        assert http_status(f"http://127.0.0.1:{port}/api/health") == 200
        assert http_status(f"http://127.0.0.1:{port}/api/no-such-thing") == 404

        own_server.stop()
        assert wait_for_status(ready, 503, 5) < 5
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(ready, timeout=5)
        assert json.loads(refused.value.read())["checks"]["database"]["ok"] is False
        assert http_status(f"http://127.0.0.1:{port}/api/health") == 200  # alive, just not ready

        own_server.start()
        wait_for_status(ready, 200, 15)
    finally:
        stop_group(streamlit)


def test_byte_up_restarts_a_killed_postgres_and_stops_without_a_traceback(tmp_path):
    data_dir, port = tmp_path / "data", free_port()
    up = subprocess.Popen([*BYTE, "up", "--port", str(port)], cwd=ROOT, env=env_for(data_dir),
                          stdout=open(tmp_path / "up.out", "wb"), stderr=open(tmp_path / "up.err", "wb"),
                          start_new_session=True)
    ready = f"http://127.0.0.1:{port}/api/ready"
    try:
        wait_for_status(ready, 200, 180)  # first start: initdb, migrations, demo data

        printed = subprocess.run([*BYTE, "intake", "url"], cwd=ROOT, env=env_for(data_dir), capture_output=True,
                                 text=True, timeout=60)
        assert printed.returncode == 0, printed.stderr
        assert printed.stdout.startswith(f"http://127.0.0.1:{port}/api/intake/")
        public = subprocess.run([*BYTE, "intake", "url"], cwd=ROOT, capture_output=True, text=True, timeout=60,
                                env=env_for(data_dir, BYTE_PUBLIC_URL="https://byte.example.org/"))
        assert public.stdout.startswith("https://byte.example.org/api/intake/")

        postmaster = int((data_dir / "pgdata" / "postmaster.pid").read_text().split()[0])
        os.kill(postmaster, signal.SIGKILL)
        wait_for_status(ready, 503, 5, poll=0.1)
        wait_for_status(ready, 200, 60)
        assert (data_dir / "pgdata" / "postmaster.pid").read_text().split()[0] != str(postmaster)
        # The server answers before `byte up` writes its line about it: give the line a moment.
        logged = time.monotonic() + 15
        while "embedded PostgreSQL restarted" not in (tmp_path / "up.err").read_text() and time.monotonic() < logged:
            time.sleep(0.2)
        assert "embedded PostgreSQL restarted" in (tmp_path / "up.err").read_text()
    finally:
        stop_group(up, signal.SIGINT)  # what Ctrl-C in a terminal sends: to the whole process group
    err = (tmp_path / "up.err").read_text()
    assert up.returncode == 0, err[-2000:]
    assert "Traceback" not in err, err[-4000:]
    assert "stopped: dashboard, scheduler and embedded PostgreSQL" in (tmp_path / "up.out").read_text()
    assert not (data_dir / "server.json").exists()
    assert not EmbeddedServer(data_dir).is_running()


def test_thirty_byte_commands_at_once_on_a_fresh_data_dir_all_succeed(tmp_path):
    data_dir = tmp_path / "data"
    # Each one starts the server if needed, creates its secrets, and migrates: every shared step at once.
    commands = [subprocess.Popen([*BYTE, "db", "migrate", "--json"], cwd=ROOT, env=env_for(data_dir),
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(30)]
    try:
        results = [(c.wait(timeout=300), *c.communicate()) for c in commands]
        failures = [err.decode()[-500:] for code, _out, err in results if code != 0]
        assert not failures, failures[0]
        revisions = {json.loads(out)["revision"] for _code, out, _err in results}
        assert len(revisions) == 1 and None not in revisions
    finally:
        EmbeddedServer(data_dir).stop()


def test_scheduler_stops_on_ctrl_c_without_a_traceback(own_server, tmp_path):
    env = env_for(own_server.data_dir)
    early = subprocess.Popen([sys.executable, "-m", "scheduler", "run"], cwd=ROOT, env=env,
                             stderr=subprocess.PIPE, start_new_session=True)
    time.sleep(0.5)  # still importing or connecting
    early.send_signal(signal.SIGINT)
    assert "Traceback" not in early.communicate(timeout=30)[1].decode()

    running = subprocess.Popen([sys.executable, "-m", "scheduler", "run", "--sweep-seconds", "0.2"], cwd=ROOT,
                               env=env, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 60
    database = db_module.build_database(Settings(own_server.data_dir, None, None))
    try:
        from sqlalchemy import text

        while time.monotonic() < deadline:
            with database.session(None) as s:
                if s.execute(text("SELECT count(*) FROM scheduler_heartbeats")).scalar_one():
                    break
            time.sleep(0.2)
        time.sleep(1)  # a few sweeps in
        running.send_signal(signal.SIGINT)
        err = running.communicate(timeout=30)[1].decode()
    finally:
        database.dispose()
    assert running.returncode == 0, err
    assert "Traceback" not in err and "stopped" in err, err
