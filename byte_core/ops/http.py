"""/api/health, /api/ready, /api/metrics and a JSON 404 for every other /api/ path, as Starlette routes
(mounted by app.py through `st.App(routes=...)`). Without the 404, Streamlit answers any unknown path
with the app's HTML and status 200, so a missing route looks healthy to a load balancer."""
from __future__ import annotations

import asyncio
import hmac
import os

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .readiness import DEFAULT_TIMEOUT, Check, Readiness, check_readiness

METRICS_TOKEN_SETTING = "BYTE_METRICS_TOKEN"
NO_STORE = {"Cache-Control": "no-store"}


async def health(_request: Request) -> JSONResponse:
    """Liveness: the process answers. Never touches the database, so an outage does not get the server
    restarted (readiness takes it out of the rotation instead)."""
    return JSONResponse({"ok": True, "pid": os.getpid()}, headers=NO_STORE)


async def ready(_request: Request) -> JSONResponse:
    from ..db import get_database

    def check() -> Readiness:
        # start_embedded=False: a probe must never start (or wait on) a database server.
        return check_readiness(get_database(start_embedded=False), timeout=DEFAULT_TIMEOUT)

    try:
        result = await asyncio.wait_for(run_in_threadpool(check), timeout=DEFAULT_TIMEOUT + 1.5)
    except asyncio.TimeoutError:
        result = Readiness([Check("database", False, f"no answer within {DEFAULT_TIMEOUT + 1.5:.1f}s")],
                           DEFAULT_TIMEOUT + 1.5)
    return JSONResponse(result.as_json(), status_code=200 if result.ok else 503, headers=NO_STORE)


async def metrics(request: Request) -> Response:
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    from ..db import get_database
    from .metrics import registry_with_shared_state

    expected = os.environ.get(METRICS_TOKEN_SETTING, "")
    if not expected:
        return JSONResponse({"error": "metrics are turned off: set BYTE_METRICS_TOKEN on the server and send it as "
                                      "'Authorization: Bearer <token>'"}, status_code=404)
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected.encode()):
        return JSONResponse({"error": "a valid 'Authorization: Bearer <token>' header is required"}, status_code=401,
                            headers={"WWW-Authenticate": "Bearer"})
    registry = registry_with_shared_state(lambda: get_database(start_embedded=False))
    body = await run_in_threadpool(generate_latest, registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST, headers=NO_STORE)


async def unknown_api_path(request: Request) -> JSONResponse:
    return JSONResponse({"error": f"no such API endpoint: {request.method} {request.url.path}"}, status_code=404)


ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
routes = [
    Route("/api/health", health, methods=["GET", "HEAD"]),
    Route("/api/ready", ready, methods=["GET", "HEAD"]),
    Route("/api/metrics", metrics, methods=["GET"]),
]
# Last in app.py's list: it answers only what no route before it matched.
fallback_routes = [Route("/api/{rest:path}", unknown_api_path, methods=ALL_METHODS)]
