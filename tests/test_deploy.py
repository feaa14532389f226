"""The production shape, on loopback: HAProxy (deploy/haproxy.cfg) in front of two dashboard servers,
two schedulers, one external PostgreSQL from Debian's `postgresql` package whose owner is a
non-superuser with CREATEROLE. A signed-in browser loses its server and continues on the other one;
executions keep advancing after a scheduler is killed.

Needs Debian's haproxy, postgresql and chromium: scripts/test.sh installs them when run as root
(CI does); scripts/deploy_test.sh runs only this file. Sign-in is checked only as "the browser keeps its
cookies and a server validates them from the database", whatever the cookie is called.
"""
from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.servers import free_port, http_status

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
BYTE = [sys.executable, "-c", "from byte_core.cli import main; main()"]
REVIEWER = ("reviewer@demo.example.com", "reviewer-demo-2026")
PROXY_COOKIE = "BYTE_SERVER"
pytestmark = [pytest.mark.deploy, pytest.mark.slow]


def _postgres_bin() -> Path:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    if not versions or not shutil.which("haproxy") or not Path(CHROMIUM).exists():
        # Loud, never a silent skip: scripts/test.sh and scripts/deploy_test.sh install all three.
        raise RuntimeError("the deployment test needs Debian's postgresql, haproxy and chromium packages: "
                           "run scripts/deploy_test.sh (as root it installs them)")
    return versions[-1].parent


sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is installed by scripts/test.sh")
PG_BIN = _postgres_bin()
sync_api.expect.set_options(timeout=30_000)


def wait_until(predicate, seconds: float, what: str, poll: float = 0.3):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    pytest.fail(f"{what}: not within {seconds}s")


class ExternalPostgres:
    """A Debian PostgreSQL cluster in a temporary folder, run as the `postgres` system user when root."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="byte-deploy-"))
        self.root.chmod(0o755)  # the postgres user must reach pgdata
        self.pgdata, self.port = self.root / "pgdata", free_port()
        self.superuser_password, self.owner_password = uuid.uuid4().hex, uuid.uuid4().hex
        self.as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _run(self, *argv: str) -> None:
        subprocess.run([*self.as_postgres, *argv], check=True, capture_output=True, cwd=self.root)

    def start(self) -> None:
        self.pgdata.mkdir(mode=0o700)
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.superuser_password)
        if self.as_postgres:
            account = pwd.getpwnam("postgres")
            for path in (self.pgdata, pwfile):
                os.chown(path, account.pw_uid, account.pw_gid)
        self._run(str(PG_BIN / "initdb"), "-D", str(self.pgdata), "-U", "postgres", "--pwfile", str(pwfile),
                  "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C.UTF-8")
        pwfile.unlink()
        self._run(str(PG_BIN / "pg_ctl"), "start", "-w", "-D", str(self.pgdata), "-l", str(self.pgdata / "server.log"),
                  "-o", f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories=''")
        import psycopg

        with psycopg.connect(f"postgresql://postgres:{self.superuser_password}@127.0.0.1:{self.port}/postgres",
                             autocommit=True) as conn:
            # What a DBA (or a managed service) hands over: a login that owns the database, may create
            # roles (BYTE creates its byte_app role), and is not a superuser.
            conn.execute(f"CREATE ROLE byte_owner LOGIN CREATEROLE NOSUPERUSER PASSWORD '{self.owner_password}'")
            conn.execute("CREATE DATABASE byte OWNER byte_owner")

    @property
    def owner_url(self) -> str:
        return f"postgresql://byte_owner:{self.owner_password}@127.0.0.1:{self.port}/byte"

    def stop(self) -> None:
        subprocess.run([*self.as_postgres, str(PG_BIN / "pg_ctl"), "stop", "-D", str(self.pgdata), "-m", "fast", "-w"],
                       capture_output=True, cwd=self.root)
        shutil.rmtree(self.root, ignore_errors=True)


class Deployment:
    """Two dashboard servers, two schedulers and HAProxy, all on loopback, sharing one set of secrets."""

    def __init__(self, postgres: ExternalPostgres, logs: Path) -> None:
        self.logs = logs
        self.proxy_port, self.web_ports = free_port(), {"web1": free_port(), "web2": free_port()}
        self.proxy = f"http://127.0.0.1:{self.proxy_port}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("BYTE_")} | {
            "DATABASE_URL": postgres.owner_url,
            "BYTE_DATA_DIR": str(logs / "data"),  # only for a local cookie key if one were missing
            "BYTE_COOKIE_KEY": uuid.uuid4().hex + uuid.uuid4().hex,
            "BYTE_PUBLIC_URL": self.proxy,
            "BYTE_METRICS_TOKEN": uuid.uuid4().hex,
            "STREAMLIT_SERVER_COOKIE_SECRET": uuid.uuid4().hex,  # the same on every server
            "PYTHONUNBUFFERED": "1",
        }
        self.processes: dict[str, subprocess.Popen] = {}

    def _spawn(self, name: str, argv: list[str], env: dict | None = None) -> None:
        self.processes[name] = subprocess.Popen(argv, cwd=ROOT, env=env or self.env, start_new_session=True,
                                                stdout=open(self.logs / f"{name}.log", "wb"), stderr=subprocess.STDOUT)

    def byte(self, *args: str) -> str:
        done = subprocess.run([*BYTE, *args], cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def start(self) -> None:
        self.byte("db", "migrate")
        self.byte("demo", "seed")
        for name, port in self.web_ports.items():
            self._spawn(name, [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"),
                               "--server.port", str(port), "--server.address", "127.0.0.1"])
        for name in ("scheduler1", "scheduler2"):
            self._spawn(name, [*BYTE, "scheduler", "run", "--sweep-seconds", "0.5"])
        self._spawn("haproxy", ["haproxy", "-db", "-f", str(ROOT / "deploy" / "haproxy.cfg")],
                    self.env | {"BYTE_PROXY_BIND": f"127.0.0.1:{self.proxy_port}",
                                "BYTE_WEB1": f"127.0.0.1:{self.web_ports['web1']}",
                                "BYTE_WEB2": f"127.0.0.1:{self.web_ports['web2']}"})
        for port in self.web_ports.values():
            wait_until(lambda: http_status(f"http://127.0.0.1:{port}/api/ready") == 200, 120, "a server is ready")
        wait_until(lambda: http_status(f"{self.proxy}/api/ready") == 200, 30, "the proxy passes readiness on")

    def kill(self, name: str) -> None:
        process = self.processes[name]
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    postgres = ExternalPostgres()
    deployment = Deployment(postgres, tmp_path_factory.mktemp("deploy-logs"))
    try:
        postgres.start()
        deployment.start()
        yield deployment
    finally:
        deployment.stop()
        postgres.stop()


@pytest.fixture(scope="module")
def database(deployment):
    """The deployment's database, seen as the app sees it (shadows the suite's embedded one)."""
    from byte_core.config import Settings
    from byte_core.db import build_database

    db = build_database(Settings(deployment.logs / "data", deployment.env["DATABASE_URL"], None))
    yield db
    db.dispose()


def enqueue(database, count: int) -> tuple[str, str]:
    """`count` executions of a one-step workflow, due now, in the demo organization."""
    from byte_core.access import Actor
    from byte_core.orgs import get_org
    from byte_core.workflow.definitions import save_definition

    org_id = get_org(database, "demo").id
    name = f"Deploy check {uuid.uuid4().hex[:6]}"
    save_definition(database, Actor.system(org_id, label="test"), {
        "name": name, "phases": [{"id": "p", "name": "Only", "order": 1}],
        "steps": [{"id": "t", "order": 1, "phase_id": "p", "type": "trigger", "name": "Start", "config": {}},
                  {"id": "e", "order": 2, "phase_id": "p", "type": "end", "name": "End", "config": {"outcome": "ok"}}]})
    with database.session(org_id) as s:
        definition = s.execute(text("SELECT id FROM workflow_definitions WHERE name = :n"), {"n": name}).scalar_one()
        contact = s.execute(text("SELECT id FROM contacts LIMIT 1")).scalar_one()
        s.execute(text("INSERT INTO workflow_executions (org_id, workflow_definition_id, contact_id, current_step_id,"
                       " current_phase_id, next_run_at) SELECT :o, :d, :c, 't', 'p', now() FROM generate_series(1, :n)"),
                  {"o": org_id, "d": definition, "c": contact, "n": count})
    return org_id, str(definition)


def completed(database, org_id: str, definition: str) -> int:
    with database.session(org_id) as s:
        return s.execute(text("SELECT count(*) FROM workflow_executions WHERE workflow_definition_id = :d"
                              " AND status = 'completed'"), {"d": definition}).scalar_one()


def sign_in(page) -> None:
    """As a person does it: the sign-in page's cookie component reruns it once or twice as it loads, and a
    click during such a rerun is superseded, so the person clicks again if nothing happened."""
    sync_api.expect(page.get_by_role("heading", name="Sign in").first).to_be_visible()
    for _attempt in range(3):
        page.wait_for_timeout(1500)
        sync_api.expect(page.get_by_test_id("stStatusWidget")).to_have_count(0)
        page.get_by_role("textbox", name="Email").fill(REVIEWER[0])
        page.get_by_role("textbox", name="Password").fill(REVIEWER[1])
        page.get_by_role("button", name="Sign in").click()
        try:
            page.get_by_text("Welcome,").first.wait_for(timeout=15_000)
            break
        except sync_api.Error:
            continue
    signed_in_home(page)


def signed_in_home(page) -> None:
    sync_api.expect(page.get_by_text("Welcome,").first).to_be_visible()
    sync_api.expect(page.get_by_role("button", name="Sign out").first).to_be_visible()


def test_the_owner_is_not_a_superuser(database):
    with database.owner_engine.connect() as conn:
        row = conn.execute(text("SELECT rolsuper, rolcreaterole FROM pg_roles WHERE rolname = current_user")).one()
    assert tuple(row) == (False, True)


def test_metrics_through_the_proxy_need_the_token(deployment):
    request = urllib.request.Request(f"{deployment.proxy}/api/metrics",
                                     headers={"Authorization": f"Bearer {deployment.env['BYTE_METRICS_TOKEN']}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        body = response.read().decode()
    assert "byte_database_up 1.0" in body and "byte_engine_steps_total" in body
    assert http_status(f"{deployment.proxy}/api/metrics") == 401
    assert http_status(f"{deployment.proxy}/api/nowhere") == 404


def test_a_signed_in_browser_and_the_engine_survive_losing_a_server_and_a_scheduler(deployment, database):
    org_id, definition = enqueue(database, 50)
    wait_until(lambda: completed(database, org_id, definition) == 50, 60, "both schedulers finish the first batch")

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                                                   "--disable-background-networking"])
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.goto(deployment.proxy)
        sign_in(page)

        # Signed in means a new page in this browser is signed in too (the cookie is stored and accepted).
        def second_tab_signed_in() -> bool:
            tab = context.new_page()
            try:
                tab.goto(deployment.proxy)
                tab.get_by_text("Welcome,").first.wait_for(timeout=8000)
                return True
            except sync_api.Error:
                return False
            finally:
                tab.close()
        wait_until(second_tab_signed_in, 60, "the session outlives its tab", poll=1)

        sticky = {c["name"]: c["value"] for c in context.cookies()}.get(PROXY_COOKIE)
        assert sticky in deployment.web_ports, f"the proxy set no {PROXY_COOKIE} cookie: {context.cookies()}"
        survivor = next(name for name in deployment.web_ports if name != sticky)
        deployment.kill(sticky)
        deployment.kill("scheduler1")

        # The page's WebSocket drops; the person reloads (Streamlit 1.67 reconnects the open page to the
        # survivor but does not rerun it there: README, "Running in production"). The proxy sends the
        # browser to the survivor, which knows nothing of the old session and signs it in from its cookie.
        page.reload()
        signed_in_home(page)
        page.get_by_test_id("stSidebarNav").get_by_role("link", name="Task inbox").click()
        sync_api.expect(page.get_by_role("heading", name="Task inbox").first).to_be_visible()
        sync_api.expect(page.get_by_role("heading", name="Sign in")).to_have_count(0)
        assert {c["name"]: c["value"] for c in context.cookies()}.get(PROXY_COOKIE) == survivor
        browser.close()

    assert http_status(f"{deployment.proxy}/api/ready") == 200
    org_id, definition = enqueue(database, 50)
    wait_until(lambda: completed(database, org_id, definition) == 50, 60, "the remaining scheduler finishes a new batch")
