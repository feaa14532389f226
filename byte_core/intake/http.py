"""The intake endpoint as a Starlette route: mounted by app.py through `st.App(routes=...)`, and
movable to any ASGI server unchanged. The handler only reads the body and answers; the work is in
`service.receive_delivery`."""
from __future__ import annotations

import asyncio
import logging

from sqlalchemy.exc import DataError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .webhook import MAX_BODY_BYTES

log = logging.getLogger("byte.intake")
PATH = "/api/intake/{token}"
# A client that trickles its body holds a connection and a buffer: the whole body must arrive within this.
BODY_TIMEOUT_SECONDS = 10.0


async def _read_limited(request: Request) -> bytes | None:
    """The body, or None as soon as it grows past the limit (the rest is never buffered)."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _refused(status: int, reason: str, message: str) -> JSONResponse:
    return JSONResponse({"ok": False, "reason": reason, "message": message}, status_code=status)


def _too_large() -> JSONResponse:
    return JSONResponse({"ok": False, "reason": "payload_too_large",
                         "message": f"the body is over {MAX_BODY_BYTES // 1024} KiB"}, status_code=413)


async def intake_endpoint(request: Request) -> JSONResponse:
    from ..db import get_database
    from .service import Receipt, accepted, check_delivery, endpoint_is_cached
    from .writer import batch_writer

    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return _too_large()
    try:
        body = await asyncio.wait_for(_read_limited(request), BODY_TIMEOUT_SECONDS)
    except asyncio.TimeoutError:
        return _refused(408, "body_timeout", f"the body did not arrive within {BODY_TIMEOUT_SECONDS:g} seconds")
    if body is None:
        return _too_large()
    database = get_database()
    token, headers = request.path_params["token"], dict(request.headers)
    try:
        if endpoint_is_cached(token):  # the usual case: no database work before the store
            checked = check_delivery(database, token, body, headers)
        else:
            checked = await run_in_threadpool(check_delivery, database, token, body, headers)
        if isinstance(checked, Receipt):
            return JSONResponse(checked.body, status_code=checked.status)
        org_id, delivery = checked
        # Acknowledged only once committed: the writer stores what arrived meanwhile in one transaction.
        stored = await asyncio.wrap_future(batch_writer(database).submit(org_id, delivery))
    except DataError as exc:  # the database refuses this delivery's content: retrying can never succeed
        log.warning("intake refused an unstorable delivery: %s", exc.orig)
        return _refused(400, "unstorable", "the database cannot store this delivery's content; it was not kept")
    except Exception:  # noqa: BLE001 - Formstack retries on 5xx, and the server must stay up
        log.exception("intake failed")
        return JSONResponse({"ok": False, "reason": "internal_error", "message": "try again later"}, status_code=503)
    receipt = accepted(stored)
    return JSONResponse(receipt.body, status_code=receipt.status)


async def counted_intake_endpoint(request: Request) -> JSONResponse:
    """The endpoint, counted by outcome for /api/metrics (byte_intake_deliveries_total)."""
    from ..ops.metrics import record_intake

    response = await intake_endpoint(request)
    record_intake(response.status_code)
    return response


routes = [Route(PATH, counted_intake_endpoint, methods=["POST"])]


def standalone_app():
    """The same routes without Streamlit, for `byte intake serve` (several worker processes, one port)."""
    from starlette.applications import Starlette

    async def health(_request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    return Starlette(routes=[*routes, Route("/api/health", health, methods=["GET"])])
