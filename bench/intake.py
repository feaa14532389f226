"""Intake figures (issue [4/4]): signed Formstack deliveries posted concurrently at the running server.

    python bench/intake.py [--deliveries 6000] [--duplicates 0.2] [--concurrency 96] [--standalone WORKERS]

Starts a fresh embedded PostgreSQL and `streamlit run app.py` on a free loopback port, posts
HMAC-signed urlencoded deliveries (a share of them repeats of earlier UniqueIDs, as Formstack
retries), then prints acknowledged/s, stored rows, duplicates counted, lost and stored-twice.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
KEY = "bench-hmac-key"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepare(data_dir: Path) -> tuple[str, str]:
    os.environ["BYTE_DATA_DIR"] = str(data_dir)
    import json

    from byte_core.access import Actor
    from byte_core.db import get_database, migrate
    from byte_core.demo import WORKFLOW_DIR
    from byte_core.intake.service import configure, endpoint_path
    from byte_core.orgs import create_org
    from byte_core.workflow.definitions import save_definition

    db = get_database()
    migrate(db)
    actor = Actor.system(create_org(db, "bench-intake", "Intake bench").id, "bench")
    save_definition(db, actor, json.loads((WORKFLOW_DIR / "application_review.json").read_text()))
    configure(db, actor, hmac_key=KEY, mappings={"email": "email", "first": "first_name", "last": "last_name"},
              default_workflow="Application Review Workflow")
    return actor.org_id, endpoint_path(db, actor)


async def post_all(url: str, bodies: list[bytes], concurrency: int) -> tuple[int, dict[int, int]]:
    """A lean HTTP/1.1 client on raw asyncio streams: on a 2-core machine a full client library costs more
    CPU than the server under test. One connection per delivery, as Formstack sends them."""
    from urllib.parse import urlsplit

    from byte_core.intake.webhook import sign

    parts = urlsplit(url)
    statuses: dict[int, int] = {}
    queue: asyncio.Queue = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(b"POST " + parts.path.encode() + b" HTTP/1.1\r\nHost: " + parts.netloc.encode() +
                         b"\r\nContent-Type: application/x-www-form-urlencoded\r\nX-FS-Signature: " +
                         sign(body, KEY).encode() + b"\r\nContent-Length: " + str(len(body)).encode() +
                         b"\r\nConnection: close\r\n\r\n" + body)

    async def worker() -> None:
        while not queue.empty():
            request = queue.get_nowait()
            reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
            writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            writer.write(request)
            response = await reader.read()  # the server closes the connection after answering
            writer.close()
            status = int(response[9:12]) if response.startswith(b"HTTP/1.") else 0
            statuses[status] = statuses.get(status, 0) + 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return sum(statuses.values()), statuses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--deliveries", type=int, default=6000)
    parser.add_argument("--duplicates", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, default=96)
    parser.add_argument("--standalone", type=int, default=0, metavar="WORKERS",
                        help="post to `byte intake serve --workers N` instead of the Streamlit server")
    args = parser.parse_args()
    rng = random.Random(11)
    with tempfile.TemporaryDirectory(prefix="byte-intake-bench-") as tmp:
        data_dir = Path(tmp) / "data"
        org_id, path = prepare(data_dir)
        port = free_port()
        if args.standalone:
            command = [sys.executable, "-c", "from byte_core.cli import main; main()", "intake", "serve",
                       "--port", str(port), "--workers", str(args.standalone)]
            health = f"http://127.0.0.1:{port}/api/health"
        else:
            command = [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", str(port),
                       "--server.address", "127.0.0.1", "--server.headless", "true"]
            health = f"http://127.0.0.1:{port}/_stcore/health"
        server = subprocess.Popen(command, cwd=ROOT, env={**os.environ, "BYTE_DATA_DIR": str(data_dir)},
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            import httpx

            for _ in range(200):
                try:
                    if httpx.get(health, timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            unique = int(args.deliveries * (1 - args.duplicates))
            bodies = [urlencode({"FormID": "1", "UniqueID": f"u{i}", "email": f"p{i}@example.org", "first": "P",
                                 "last": str(i)}).encode() for i in range(unique)]
            repeats = [bodies[rng.randrange(unique)] for _ in range(args.deliveries - unique)]
            mixed = bodies + repeats
            rng.shuffle(mixed)
            url = f"http://127.0.0.1:{port}{path}"
            asyncio.run(post_all(url, mixed[:200], args.concurrency))  # warm-up: connections, caches
            started = time.perf_counter()
            sent, statuses = asyncio.run(post_all(url, mixed[200:], args.concurrency))
            elapsed = time.perf_counter() - started
        finally:
            server.terminate()
            server.wait(timeout=15)
        from sqlalchemy import text

        from byte_core.db import get_database

        db = get_database()
        with db.session(org_id) as s:
            rows, duplicates, distinct = s.execute(text(
                "SELECT count(*), coalesce(sum(duplicate_count), 0), count(DISTINCT submission_id) "
                "FROM formstack_submissions")).one()
        acked = statuses.get(200, 0)
        where = f"`byte intake serve --workers {args.standalone}`" if args.standalone else "the Streamlit server"
        print(f"intake via {where}: {sent:,} deliveries ({args.deliveries - unique:,} of all {args.deliveries:,} are repeats) "
              f"posted with {args.concurrency} concurrent connections in {elapsed:.2f}s")
        print(f"acknowledged/s: {acked / elapsed:,.0f} (target >= 1,000); statuses {statuses}")
        print(f"stored rows: {rows:,} for {unique:,} unique UniqueIDs; duplicates counted: {duplicates:,} "
              f"(expected {args.deliveries - unique:,})")
        print(f"lost: {unique - distinct:,}; stored twice: {rows - distinct:,}")
        from byte_core.db import reset_database
        from byte_core.embedded import EmbeddedServer

        reset_database()
        EmbeddedServer(data_dir).stop()


if __name__ == "__main__":
    main()
