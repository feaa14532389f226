"""A large, consistent data set for benchmarks: `byte demo seed --contacts 100000 --executions 300000`.

Rows are generated in Python from a fixed random seed and streamed with COPY. Row-level security forbids
COPY FROM into the (FORCEd) tenant tables, so each chunk is copied into a TEMP staging table and moved with
`INSERT ... SELECT`, which the policies check like any insert. Every execution follows a real path through
its definition (conditions choose a branch, the approval outcome agrees with it); its step history, tasks
and activity rows agree with its status and current step.
"""
from __future__ import annotations

import json
import random
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from sqlalchemy import func, select, text

from .access import Actor
from .db import Database
from .errors import Conflict
from .models import Contact, User, WorkflowDefinition
from .workflow.definition import Definition, parse_definition
from .workflow.steps.registry import WAIT_TYPES, spec_of

SEED = 20261124
CHUNK = 10_000  # executions per transaction
LOADERS = 2  # connections loading chunks side by side
FIRST = ["James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth", "William",
         "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Carlos", "Karen", "Daniel", "Lisa",
         "Matthew", "Nancy", "Anthony", "Betty", "Mark", "Sandra", "Wei", "Ashley", "Priya", "Kimberly", "Andrew",
         "Emily", "Omar", "Donna", "Joshua", "Michelle", "Kenneth", "Carol", "Kevin", "Amanda", "Brian", "Melissa"]
LAST = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
        "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee",
        "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young",
        "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker"]
PLACES = [("Springfield", "IL", "62701"), ("Austin", "TX", "73301"), ("Portland", "OR", "97201"),
          ("Denver", "CO", "80201"), ("Madison", "WI", "53703"), ("Raleigh", "NC", "27601"), ("Boise", "ID", "83702"),
          ("Tucson", "AZ", "85701"), ("Albany", "NY", "12207"), ("Columbus", "OH", "43215")]
TAGS = ["applicant", "volunteer", "client", "priority", "returning", "referral", "remote", "spanish-speaking"]
STATUS_WEIGHTS = {"running": 40, "completed": 35, "cancelled": 10, "failed": 5, "paused": 10}
FOLLOW_UPS = ["Call back", "Request missing document", "Verify references", "Schedule interview", "Update file"]
DAY = 86_400.0
HISTORY_DAYS = 90  # executions start within the last quarter
WEEKDAY_WEIGHT = (1.0, 1.1, 1.05, 1.0, 0.85, 0.2, 0.1)  # Monday .. Sunday, as in the demo organization


@dataclass
class Path:
    steps: list[Any]  # the Step objects visited, in order
    outcomes: dict[str, str]  # approval step id -> outcome that leads down this path


def _paths(definition: Definition) -> list[Path]:
    """Every route from the first step to an end, choosing each branch of each condition once."""
    found: list[Path] = []

    def walk(step_id: str, visited: list, outcomes: dict[str, str]) -> None:
        step = definition.step(step_id)
        if step is None or step in visited or len(found) >= 8:
            return
        visited = visited + [step]
        edges = definition.edges(step.id)
        if not edges:
            found.append(Path(visited, outcomes))
            return
        branches = [e for e in edges if e.kind in ("branch", "otherwise")]
        if not branches:
            walk(edges[0].target, visited, outcomes)
            return
        # A branch taken is the decision of the last approval before it: approved down "approved", and so on.
        decider = next((s for s in reversed(visited) if spec_of(s.type).task_type == "approval"), None)
        for edge in branches:
            chosen = dict(outcomes)
            if decider is not None:
                chosen[decider.id] = edge.label if edge.kind == "branch" else "rejected"
            walk(edge.target, visited, chosen)

    walk(definition.first_step().id, [], {})
    return found


class _Ids:
    """Unique UUID strings from a counter: formatting beats uuid4() by an order of magnitude."""

    def __init__(self, rng: random.Random) -> None:
        self.prefix = "%08x-%04x-4%03x-8%03x-" % (rng.getrandbits(32), rng.getrandbits(16), rng.getrandbits(12),
                                                   rng.getrandbits(12))
        self.next = 0

    def __call__(self) -> str:
        self.next += 1
        return f"{self.prefix}{self.next:012x}"


STAGING = {
    "contacts": ("id uuid, first_name text, last_name text, email text, phone text, address_line_1 text, city text, "
                 "state text, zip text, tags text[], metadata jsonb, created_at float8",
                 "INSERT INTO contacts (id, org_id, first_name, last_name, email, phone, address_line_1, city, state, zip,"
                 " tags, metadata, created_at, updated_at) SELECT id, :org, first_name, last_name, email, phone, "
                 "address_line_1, city, state, zip, tags, metadata, to_timestamp(created_at), to_timestamp(created_at) "
                 "FROM stage_contacts"),
    "workflow_executions": (
        "id uuid, definition_id uuid, contact_id uuid, step_id text, phase_id text, status text, variables jsonb, "
        "started_at float8, completed_at float8, updated_at float8, step_seq int, last_error text, status_reason text",
        "INSERT INTO workflow_executions (id, org_id, workflow_definition_id, contact_id, current_step_id, "
        "current_phase_id, status, variables, source, started_at, completed_at, created_at, updated_at, "
        "definition_version, next_run_at, step_seq, last_error, status_reason, metadata) SELECT id, :org, "
        "definition_id, contact_id, step_id, phase_id, status, variables, 'bulk_seed', to_timestamp(started_at), "
        "to_timestamp(completed_at), to_timestamp(started_at), to_timestamp(updated_at), 1, NULL, step_seq, "
        "last_error, status_reason, CASE WHEN status = 'completed' THEN '{\"outcome\": \"completed\"}'::jsonb "
        "ELSE '{}'::jsonb END FROM stage_workflow_executions"),
    "workflow_execution_steps": (
        "id uuid, execution_id uuid, seq int, step_id text, phase_id text, step_type text, status text, "
        "outcome text, entered_at float8, left_at float8, error text",
        "INSERT INTO workflow_execution_steps (id, org_id, workflow_execution_id, seq, step_id, phase_id, step_type, "
        "status, outcome, entered_at, left_at, duration_ms, output, error) SELECT id, :org, execution_id, seq, "
        "step_id, phase_id, step_type, status, outcome, to_timestamp(entered_at), to_timestamp(left_at), "
        "((left_at - entered_at) * 1000)::bigint, '{}'::jsonb, error FROM stage_workflow_execution_steps"),
    "tasks": (
        "id uuid, execution_id uuid, contact_id uuid, assigned_to text, assigned_role text, title text, "
        "task_type text, status text, priority text, outcome text, due_date date, completed_at float8, "
        "step_id text, step_visit_id uuid, completed_by text, created_at float8",
        "INSERT INTO tasks (id, org_id, workflow_execution_id, contact_id, assigned_to, assigned_role, title, "
        "task_type, status, priority, outcome, due_date, completed_at, created_by_step_id, step_visit_id, "
        "completed_by, created_at, updated_at, metadata) SELECT id, :org, execution_id, contact_id, assigned_to, "
        "assigned_role, title, task_type, status, priority, outcome, due_date, to_timestamp(completed_at), step_id, "
        "step_visit_id, completed_by, to_timestamp(created_at), to_timestamp(coalesce(completed_at, created_at)), "
        "'{}'::jsonb FROM stage_tasks"),
    "activity_log": (
        "user_id text, entity_type text, entity_id uuid, execution_id uuid, contact_id uuid, task_id uuid, "
        "action text, details jsonb, created_at float8",
        "INSERT INTO activity_log (org_id, user_id, entity_type, entity_id, workflow_execution_id, contact_id, "
        "task_id, action, details, created_at) SELECT :org, user_id, entity_type, entity_id, execution_id, "
        "contact_id, task_id, action, details, to_timestamp(created_at) FROM stage_activity_log"),
}


class _AppRoleLoader:
    """Through the app role, under row-level security: works on any PostgreSQL, foreign keys checked per row."""

    def __init__(self, db: Database, org_id: str) -> None:
        self.db, self.org_id = db, org_id

    def load(self, tables: dict[str, list[tuple]]) -> None:
        with self.db.session(self.org_id) as session:
            session.execute(text("SET LOCAL synchronous_commit = off"))  # a benchmark load: re-run if it crashes
            raw = session.connection().connection.driver_connection
            for table, rows in tables.items():
                _move(raw, table, self.org_id, rows)

    def close(self) -> None:
        pass


class _EmbeddedLoader:
    """On the embedded server, as its superuser with `session_replication_role = replica`: no per-row
    foreign-key triggers (the generator builds parents before children, and the tests check the result), about
    twice as fast. The org id is written explicitly; nothing else is touched."""

    def __init__(self, db: Database, org_id: str) -> None:
        import psycopg

        from .embedded import SUPERUSER, EmbeddedServer

        url = EmbeddedServer(db.settings.data_dir).url(SUPERUSER).replace("postgresql+psycopg://", "postgresql://")
        self.conn = psycopg.connect(url)
        self.conn.execute("SET session_replication_role = replica")
        self.conn.execute("SET synchronous_commit = off")
        self.org_id = org_id

    def load(self, tables: dict[str, list[tuple]]) -> None:
        for table, rows in tables.items():
            _move(self.conn, table, self.org_id, rows)
        self.conn.commit()

    def close(self) -> None:
        self.conn.close()


def _move(raw, table: str, org_id: str, rows: list[tuple]) -> None:
    """COPY rows into a temp staging table, then INSERT ... SELECT them into the tenant table."""
    if not rows:
        return
    columns, move = STAGING[table]
    with raw.cursor() as cursor:
        cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS stage_{table} ({columns})")
        with cursor.copy(f"COPY stage_{table} FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(move.replace(":org", "%(org)s"), {"org": org_id})
        cursor.execute(f"TRUNCATE stage_{table}")


def _pg_array(items: list[str]) -> str:
    return "{" + ",".join(items) + "}"


def seed_large(db: Database, org_slug: str, contacts: int, executions: int, show_progress: bool = True,
               progress: Callable[[str, int, int], None] | None = None, fast_path: bool | None = None
               ) -> dict[str, Any]:
    """`fast_path` (default: on the embedded server) loads as the server's superuser without per-row
    foreign-key triggers; otherwise everything goes through the app role under row-level security."""
    from .orgs import create_org
    from .users import add_user
    from .workflow.definitions import save_definition
    from .demo import demo_definition_files

    started = time.perf_counter()
    org = create_org(db, org_slug, f"Benchmark organization ({org_slug})")
    actor = Actor.system(org.id, label="bulk-seed")
    with db.session(org.id) as session:
        if session.scalar(select(func.count()).select_from(select(Contact.id).limit(1).subquery())):
            raise Conflict(f"organization {org_slug!r} already holds contacts: seed a new --org instead")
    rng = random.Random(SEED)
    people: dict[str, list[str]] = {"admin": [], "manager": [], "reviewer": [], "hr": []}
    counts = {"reviewer": 20, "manager": 4, "hr": 6, "admin": 1}
    for role, count in counts.items():
        for n in range(1, count + 1):
            email = f"{role}{n}@{org_slug}.bench.example.com"
            with db.session(org.id, login_email=email) as session:
                existing = session.scalar(select(User.id).where(func.lower(User.email) == email))
            if existing is None:
                existing = add_user(db, actor, email, role, password=f"{role}-bench-2026" if n == 1 else None,
                                    password_rounds=10).id
            people[role].append(existing)
    for path in demo_definition_files():
        save_definition(db, actor, json.loads(path.read_text()))
    with db.session(org.id) as session:
        definitions = [(row.id, parse_definition({"name": row.name, "description": row.description or "",
                                                  "phases": row.phases, "steps": row.steps["steps"],
                                                  "variables": row.variables or {}}))
                       for row in session.scalars(select(WorkflowDefinition).order_by(WorkflowDefinition.name))]
    routes = [(definition_id, definition, path) for definition_id, definition in definitions
              for path in _paths(definition)]
    totals = {"contacts": 0, "workflow_executions": 0, "workflow_execution_steps": 0, "tasks": 0, "activity_log": 0}
    report = _progress_reporter(show_progress, progress)
    fast = db.settings.embedded if fast_path is None else fast_path
    def make_loader():
        return _EmbeddedLoader(db, org.id) if fast else _AppRoleLoader(db, org.id)

    loader = make_loader()
    now = time.time()
    ids = _Ids(random.Random(f"{SEED}:{org_slug}"))  # ids unique per organization, stable across runs

    contact_ids: list[str] = []
    for start in range(0, contacts, CHUNK * 2):
        rows = []
        for n in range(start, min(contacts, start + CHUNK * 2)):
            first, last, place = rng.choice(FIRST), rng.choice(LAST), rng.choice(PLACES)
            contact_id = ids()
            contact_ids.append(contact_id)
            rows.append((contact_id, first, last, f"{first.lower()}.{last.lower()}.{n}@example.org",
                         f"({rng.randint(201, 989)}) {rng.randint(200, 999)}-{rng.randint(1000, 9999)}",
                         f"{rng.randint(1, 9999)} {rng.choice(LAST)} St", *place,
                         _pg_array(rng.sample(TAGS, rng.randint(0, 3))),
                         json.dumps({"source": rng.choice(["formstack", "referral", "walk-in", "import"]),
                                     "score": rng.randint(1, 100)}),
                         now - rng.uniform(HISTORY_DAYS + 2, 730) * DAY))  # on file before their executions
        loader.load({"contacts": rows})
        totals["contacts"] += len(rows)
        report("contacts", totals["contacts"], contacts)

    statuses, weights = list(STATUS_WEIGHTS), list(STATUS_WEIGHTS.values())

    def chunks() -> Iterator[tuple[int, dict[str, list[tuple]]]]:
        made = 0
        while made < executions:
            batch = min(CHUNK, executions - made)
            tables: dict[str, list[tuple]] = {name: [] for name in
                                              ("workflow_executions", "workflow_execution_steps", "tasks", "activity_log")}
            for _ in range(batch):
                _one_execution(rng, ids, routes, rng.choice(contact_ids), rng.choices(statuses, weights)[0], people,
                               now, tables)
            made += batch
            yield made, tables

    loader.close()
    # A generator thread makes chunks while two connections load them: the server's work (index upkeep)
    # dominates, and two backends keep both cores busy.
    source, lock = _ahead(chunks(), depth=2), threading.Lock()

    def load_chunks() -> None:
        own = make_loader()
        try:
            while True:
                with lock:
                    item = next(source, None)
                if item is None:
                    return
                own.load(item[1])
                with lock:
                    for name, rows in item[1].items():
                        totals[name] += len(rows)
                    report("executions", totals["workflow_executions"], executions)
        finally:
            own.close()

    with ThreadPoolExecutor(LOADERS, thread_name_prefix="bulk-seed-loader") as pool:
        for future in [pool.submit(load_chunks) for _ in range(LOADERS)]:
            future.result()
    with db.owner_engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for name in totals:
            # Executions and tasks also get their visibility map, so the pipeline and the analytics
            # aggregations are index-only scans at once rather than after autovacuum's first visit.
            vacuum = name in ("workflow_executions", "tasks")
            conn.execute(text(f"{'VACUUM ' if vacuum else ''}ANALYZE {name}"))
    if show_progress:
        print(file=sys.stderr)
    return {"organization": org_slug, **totals, "users": sum(counts.values()),
            "seconds": round(time.perf_counter() - started, 1)}


def _one_execution(rng: random.Random, ids: _Ids, routes, contact_id: str, status: str, people, now: float,
                   tables: dict[str, list[tuple]]) -> None:
    definition_id, definition, path = rng.choice(routes)
    steps = path.steps
    waits = [i for i, s in enumerate(steps) if s.type in WAIT_TYPES]
    stop = len(steps) - 1 if status == "completed" or not waits else rng.choice(waits)
    # Durations: automated steps take milliseconds, waits hours to days; the last wait is still open.
    spans = [rng.expovariate(1 / (1.2 * DAY)) if s.type in WAIT_TYPES else rng.uniform(0.005, 0.05)
             for s in steps[:stop + 1]]
    open_for = 0.0 if status == "completed" else rng.expovariate(1 / (2 * DAY))
    elapsed = sum(spans[:stop]) + (spans[stop] if status == "completed" else open_for)
    start = now - elapsed - _start_offset(rng, now - elapsed, HISTORY_DAYS * DAY - elapsed,
                                          1.0 if status != "running" else 0.15)
    execution_id = ids()
    log = tables["activity_log"].append
    log((None, "workflow_execution", execution_id, execution_id, contact_id, None, "execution_started",
         json.dumps({"workflow": definition.name, "source": "bulk_seed"}), start))
    moment, step_rows, task_by_step = start, [], {}
    variables: dict[str, Any] = {"trigger": {"source": "bulk_seed"}}
    for index, step in enumerate(steps[:stop + 1]):
        last = index == stop
        finished = not last or status == "completed"
        left = moment + spans[index] if finished else None
        visit_status = "completed" if finished else {"running": "waiting", "paused": "waiting",
                                                     "failed": "failed", "cancelled": "cancelled"}[status]
        outcome = path.outcomes.get(step.id, "completed") if finished else None
        visit_id = ids()
        step_rows.append((visit_id, execution_id, index + 1, step.id, step.phase_id, step.type, visit_status, outcome,
                          moment, left, _timeout_error(step) if visit_status == "failed" else None))
        spec = spec_of(step.type)
        if spec.task_type:
            task_by_step[step.id] = (visit_id, moment, index)
        if spec.waits and (source := spec.task_source(step.id, step.config)) is not None:
            if source in task_by_step:
                _task(rng, ids, tables, definition, step, steps, source, task_by_step[source], execution_id, contact_id,
                      finished, status, outcome, left, people)
                variables[step.id] = {"outcome": outcome} if finished else {}
        if finished:
            log((None, "workflow_execution", execution_id, execution_id, contact_id, None, "step_completed",
                 json.dumps({"step_id": step.id, "step": step.name}), left))
        moment = left if left is not None else moment
    for _ in range(rng.choice((0, 0, 1, 1, 1, 2, 3))):
        _follow_up(rng, ids, tables, execution_id, contact_id, start, now, people)
    last_at = moment + (open_for if status != "completed" else 0)
    final = {"completed": "execution_completed", "failed": "execution_failed", "cancelled": "execution_cancelled",
             "paused": "execution_paused"}.get(status)
    current = steps[stop]
    if final:
        details = ({"error": _timeout_error(current), "step_id": current.id} if status == "failed"
                   else {"reason": "bulk seed"})
        log((None, "workflow_execution", execution_id, execution_id, contact_id, None, final, json.dumps(details),
             last_at))
    tables["workflow_executions"].append((
        execution_id, definition_id, contact_id, current.id, current.phase_id, status, json.dumps(variables), start,
        last_at if status == "completed" else None, last_at, len(step_rows),
        _timeout_error(current) if status == "failed" else None,
        "bulk seed: " + status if status in ("paused", "cancelled") else None))
    tables["workflow_execution_steps"].extend(step_rows)


def _start_offset(rng: random.Random, latest: float, room: float, scale: float) -> float:
    """Seconds before `latest` at which an execution starts: within `room` (the quarter of history), most
    recent ones for running work (`scale`), and on a working day far more often than at the weekend."""
    room = max(room, 0.0) * scale
    offset = 0.0
    for _ in range(12):  # rejection sampling on the start's weekday
        offset = rng.uniform(0, room)
        if rng.random() < WEEKDAY_WEIGHT[time.gmtime(latest - offset).tm_wday] / max(WEEKDAY_WEIGHT):
            break
    return offset


def _timeout_error(step) -> str:
    """The engine's words for a wait that ran out of time (analytics counts failures by them)."""
    return f"{step.id} ({step.name}) timed out after {step.config.get('timeout_days') or 7:g} days"


def _task(rng, ids, tables, definition, wait_step, steps, source_id, source, execution_id, contact_id, finished,
          status, outcome, left, people) -> None:
    visit_id, created, _ = source
    step = definition.step(source_id)
    config = step.config
    role = (config.get("assign_to") or {}).get("role") or "reviewer"
    approval = spec_of(step.type).task_type == "approval"
    task_id = ids()
    holder = rng.choice(people.get(role) or people["reviewer"])
    if finished:
        task_status, completed_at, completed_by = "done", left, holder
    elif status in ("failed", "cancelled"):
        task_status, completed_at, completed_by, holder = "cancelled", None, None, None
    else:
        claimed = rng.random() < 0.4
        task_status, completed_at, completed_by = ("in_progress" if claimed else "todo"), None, None
        holder = holder if claimed else None
    due = time.strftime("%Y-%m-%d", time.gmtime(created + (config.get("due_in_days") or 3) * DAY))
    title = (config.get("title") or step.name).split("{{")[0].strip() or step.name
    tables["tasks"].append((task_id, execution_id, contact_id, holder, role, title,
                            "approval" if approval else "standard", task_status,
                            config.get("priority") or rng.choice(("low", "medium", "medium", "high")),
                            (outcome if approval else "completed") if finished else None, due, completed_at, step.id,
                            visit_id, completed_by, created))
    log = tables["activity_log"].append
    log((None, "task", task_id, execution_id, contact_id, task_id, "task_created",
         json.dumps({"title": title, "role": role}), created))
    if finished:
        log((completed_by, "task", task_id, execution_id, contact_id, task_id,
             "approval_decided" if approval else "task_completed",
             json.dumps({"outcome": outcome if approval else "completed"}), completed_at))


def _follow_up(rng, ids, tables, execution_id, contact_id, start, now, people) -> None:
    role = rng.choice(("reviewer", "reviewer", "hr", "manager"))
    created = rng.uniform(start, now)
    done = rng.random() < 0.6
    holder = rng.choice(people[role]) if done or rng.random() < 0.5 else None
    completed = min(now, created + rng.expovariate(1 / DAY)) if done else None  # never after now
    task_id = ids()
    tables["tasks"].append((task_id, execution_id, contact_id, holder, role, rng.choice(FOLLOW_UPS), "standard",
                            "done" if done else ("in_progress" if holder else "todo"),
                            rng.choice(("low", "medium", "high")), "completed" if done else None,
                            time.strftime("%Y-%m-%d", time.gmtime(created + rng.randint(1, 7) * DAY)), completed,
                            None, None, holder if done else None, created))
    tables["activity_log"].append((None, "task", task_id, execution_id, contact_id, task_id, "task_created",
                                   json.dumps({"kind": "follow_up"}), created))


def _ahead(items: Iterator, depth: int = 1) -> Iterator:
    """Iterate `items` with the next one produced in a background thread while the caller works."""
    import queue
    import threading

    box: queue.Queue = queue.Queue(maxsize=depth)
    done = object()

    def produce() -> None:
        try:
            for item in items:
                box.put(item)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            box.put(exc)
        box.put(done)

    threading.Thread(target=produce, daemon=True, name="bulk-seed-generator").start()
    while (item := box.get()) is not done:
        if isinstance(item, BaseException):
            raise item
        yield item


def _progress_reporter(show: bool, callback: Callable[[str, int, int], None] | None):
    shown = {"last": 0.0}

    def report(what: str, done: int, total: int) -> None:
        if callback:
            callback(what, done, total)
        if not show:
            return
        if time.monotonic() - shown["last"] < 0.5 and done < total:
            return
        shown["last"] = time.monotonic()
        width = 30
        filled = int(width * done / max(total, 1))
        sys.stderr.write(f"\r{what:<11} [{'#' * filled}{'.' * (width - filled)}] {done:>9,}/{total:,}")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return report


__all__ = ["seed_large"]
