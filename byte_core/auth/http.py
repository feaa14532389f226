"""The two HTTP routes of a browser session, mounted by app.py through `st.App(routes=...)`: only a response
from the server can set an HttpOnly cookie, which page scripts cannot read.

- /api/session/start?code=...&next=/path: the sign-in page sends the browser here with a one-time handoff
  code; the code is exchanged for a fresh token, set as the cookie, and the browser goes back to `next`.
- /api/session/end?next=/path: clears the cookie (the session row was already ended by the page).
"""
from __future__ import annotations

import logging

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.routing import Route

from .sessions import COOKIE_NAME, LIFETIME, redeem_handoff

log = logging.getLogger("byte.auth")
START_PATH = "/api/session/start"
END_PATH = "/api/session/end"


def safe_next(value: str | None) -> str:
    """A path on this site to return to; anything else (another host, a scheme, `//host`) becomes `/`."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return "/"
    if any(ch in value for ch in "\\\r\n\t") or value.startswith(START_PATH):
        return "/"
    return value


def _is_https(request: Request) -> bool:
    # Trusting X-Forwarded-Proto only ever adds Secure to the cookie, so a forged header costs nothing.
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return request.url.scheme == "https" or forwarded == "https"


def _redirect(request: Request) -> RedirectResponse:
    response = RedirectResponse(safe_next(request.query_params.get("next")), status_code=303)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"  # the handoff code is in this URL
    return response


def _cookie_attributes(request: Request) -> dict:
    return {"path": "/", "httponly": True, "samesite": "lax", "secure": _is_https(request)}


async def start_session(request: Request) -> RedirectResponse:
    from ..db import get_database

    response = _redirect(request)
    # Only our own page sends a browser here: a link from another site must not sign a browser into
    # someone else's account (login CSRF). Browsers that send no Sec-Fetch-Site are let through.
    if request.headers.get("sec-fetch-site") in ("cross-site", "same-site"):
        return response
    try:
        token = await run_in_threadpool(redeem_handoff, get_database(), request.query_params.get("code"))
    except Exception:  # noqa: BLE001 - the browser lands signed out and may sign in again
        log.exception("session start failed")
        return response
    if token is not None:
        response.set_cookie(COOKIE_NAME, token, max_age=int(LIFETIME.total_seconds()), **_cookie_attributes(request))
    return response


async def end_session(request: Request) -> RedirectResponse:
    response = _redirect(request)
    response.delete_cookie(COOKIE_NAME, **_cookie_attributes(request))
    return response


routes = [Route(START_PATH, start_session, methods=["GET"]), Route(END_PATH, end_session, methods=["GET"])]
