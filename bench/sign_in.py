"""What sign-in and server-side sessions cost, on a fresh embedded PostgreSQL:

- a password sign-in (bcrypt at the production 12 rounds, attempt row, session row, audit row);
- the session check every page run makes (one row by id, joined to its user);
- a cookie restore on a new page load (token hash lookup, then the same check);
- N sign-ins for one address at once (all wrong): wall time and how many passwords were really checked
  (the per-address lock lets 5 through, then refuses the rest without bcrypt).

    python bench/sign_in.py [--runs 200] [--parallel 20]
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from unittest import mock

from _fresh import fresh_database


def median_ms(call, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--parallel", type=int, default=20)
    args = parser.parse_args()
    with fresh_database("byte-bench-sign-in-") as database:
        report(database, args.runs, args.parallel)


def report(database, runs: int, parallel: int) -> None:
    from byte_core.access import Actor
    from byte_core.auth import passwords
    from byte_core.auth.login import authenticate
    from byte_core.auth.sessions import redeem_handoff, session_actor, session_for_token
    from byte_core.orgs import create_org
    from byte_core.users import add_user

    org = create_org(database, "bench-auth", "Bench")
    admin, password = Actor.system(org.id), "a bench passphrase"
    add_user(database, admin, "bench@example.org", "reviewer", password=password)
    add_user(database, admin, "target@example.org", "reviewer", password=password)

    signed = []
    sign_in = median_ms(lambda: signed.append(authenticate(database, "bench@example.org", password)), 10)
    session = signed[-1].session
    token = redeem_handoff(database, session.handoff_code)
    check = median_ms(lambda: session_actor(database, org.id, session.id), runs)
    restore = median_ms(lambda: session_for_token(database, token), runs)
    with mock.patch.object(passwords.bcrypt, "checkpw", wraps=passwords.bcrypt.checkpw) as checked:
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=parallel) as pool:
            outcomes = list(pool.map(lambda i: authenticate(database, "target@example.org", f"wrong {i}"),
                                     range(parallel)))
        parallel_s = time.perf_counter() - started
    locked = sum(o.message.startswith("Too many") for o in outcomes)
    print(f"one organization, 2 users; median of 10 sign-ins and of {runs} checks each; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores:")
    print(f"  password sign-in (bcrypt 12 rounds + 3 rows)   {sign_in:8.1f} ms")
    print(f"  session check on every page run                {check:8.2f} ms")
    print(f"  cookie restore on a new page load              {restore:8.2f} ms")
    print(f"  {parallel} wrong sign-ins for one address at once   {parallel_s * 1000:8.0f} ms wall, "
          f"{checked.call_count} passwords checked, {locked} refused as locked")


if __name__ == "__main__":
    main()
