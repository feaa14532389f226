"""Group commit for intake: deliveries that arrive while the previous batch commits are stored together, in
one transaction and one statement per organization, and each is acknowledged only after that commit.

One commit per batch instead of one per delivery is what lets a server take many deliveries per second
without giving up durability: nothing is acknowledged that is not on disk.
"""
from __future__ import annotations

import json
import logging
import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass

from sqlalchemy import text

from ..db import Database
from .webhook import ParsedDelivery

log = logging.getLogger("byte.intake")
MAX_BATCH = 500

STORE_BATCH = text("""
    WITH input AS (
        SELECT * FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r(form text, sub text, payload jsonb, extra int)),
    stored AS (
        INSERT INTO formstack_submissions (org_id, form_id, submission_id, raw_payload, last_received_at,
                                           duplicate_count)
        SELECT :org, form, sub, payload, now(), extra FROM input
        ON CONFLICT (org_id, submission_id) DO UPDATE
          SET duplicate_count = formstack_submissions.duplicate_count + 1 + excluded.duplicate_count,
              last_received_at = now()
        RETURNING id, form_id, submission_id, (xmax = 0) AS inserted),
    audited AS (
        INSERT INTO activity_log (org_id, entity_type, entity_id, action, details)
        SELECT :org, 'formstack_submission', id, 'submission_received',
               jsonb_build_object('form_id', form_id, 'unique_id', submission_id)
        FROM stored WHERE inserted)
    SELECT id, submission_id, inserted FROM stored""")


@dataclass(frozen=True)
class Stored:
    id: str
    duplicate: bool


def store_batch(db: Database, org_id: str, deliveries: list[ParsedDelivery]) -> list[Stored]:
    """Store deliveries of one org in one transaction; the result is in the order given. A UniqueID repeated
    within the batch is stored once and its repeats counted, exactly as if they had come one by one."""
    from ..workflow.store import wake

    first: dict[str, int] = {}
    rows: list[dict] = []
    for delivery in deliveries:
        if delivery.unique_id in first:
            rows[first[delivery.unique_id]]["extra"] += 1
        else:
            first[delivery.unique_id] = len(rows)
            rows.append({"form": delivery.form_id, "sub": delivery.unique_id, "payload": delivery.payload, "extra": 0})
    with db.session(org_id) as session:
        result = {r.submission_id: r for r in session.execute(
            STORE_BATCH, {"org": org_id, "rows": json.dumps(rows, default=str)})}
        if any(r.inserted for r in result.values()):
            wake(session, org_id)
    answers, seen = [], set()
    for delivery in deliveries:
        row = result[delivery.unique_id]
        answers.append(Stored(str(row.id), duplicate=not row.inserted or delivery.unique_id in seen))
        seen.add(delivery.unique_id)
    return answers


def store_isolated(db: Database, org_id: str, deliveries: list[ParsedDelivery]) -> list[Stored | Exception]:
    """`store_batch`, and when the batch fails, each delivery again alone: a row the database refuses (one
    `receive` did not foresee) fails only its own request, and its neighbours are still acknowledged."""
    try:
        return list(store_batch(db, org_id, deliveries))
    except Exception:  # noqa: BLE001 - retried one by one below
        if len(deliveries) == 1:
            raise
        log.warning("a batch of %d deliveries failed: storing each alone", len(deliveries))
    answers: list[Stored | Exception] = []
    for delivery in deliveries:
        try:
            answers.append(store_batch(db, org_id, [delivery])[0])
        except Exception as exc:  # noqa: BLE001 - answered to its own request only
            log.warning("delivery %.64s could not be stored: %s", delivery.unique_id, exc)
            answers.append(exc)
    return answers


class BatchWriter:
    """A background thread that drains a queue of deliveries into `store_batch`."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._queue: queue.Queue[tuple[str, ParsedDelivery, Future]] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="intake-writer", daemon=True)
        self._thread.start()

    def submit(self, org_id: str, delivery: ParsedDelivery) -> Future:
        future: Future = Future()
        self._queue.put((org_id, delivery, future))
        return future

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < MAX_BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            by_org: dict[str, list[tuple[ParsedDelivery, Future]]] = {}
            for org_id, delivery, future in batch:
                by_org.setdefault(org_id, []).append((delivery, future))
            for org_id, items in by_org.items():
                try:
                    stored = store_isolated(self.db, org_id, [d for d, _ in items])
                except Exception as exc:  # noqa: BLE001 - the request answers 503; Formstack retries
                    log.exception("storing a delivery failed")
                    stored = [exc] * len(items)
                for (_, future), answer in zip(items, stored):
                    if isinstance(answer, Exception):
                        future.set_exception(answer)
                    else:
                        future.set_result(answer)


_writer: BatchWriter | None = None
_writer_lock = threading.Lock()


def batch_writer(db: Database) -> BatchWriter:
    global _writer
    with _writer_lock:
        if _writer is None or _writer.db is not db:
            _writer = BatchWriter(db)
        return _writer
