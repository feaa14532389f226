"""BYTE Dashboard: sign-in, navigation by role, and the /api/ routes (Formstack intake, browser sessions).

Sign-in uses our own form and `byte_core.auth.login` (lockout in the database under a per-email lock,
equal timing, audit). A signed-in browser holds a server-side session (`byte_core.auth.sessions`): the
sign-in sends the browser through /api/session/start, which sets an HttpOnly cookie holding a random
token whose hash is a row in `user_sessions`; a new page load reads it back with `st.context.cookies`.
Every run re-checks the row, so a sign-out, a revocation or a deactivation ends the session at once.

When `.streamlit/secrets.toml` has an `[auth]` section (OpenID Connect, DESIGN.md §5), the sign-in page
also offers `st.login`; the provider's verified email is mapped to an active BYTE user by
`authenticate_identity`, which opens the same kind of session.
"""
import json
from collections.abc import Mapping
from datetime import datetime, timezone
from urllib.parse import quote, urlsplit

import streamlit as st

from byte_core.auth.http import END_PATH, START_PATH
from byte_core.auth.http import routes as session_routes
from byte_core.intake.http import routes as intake_routes
from byte_core.ops.http import fallback_routes, routes as ops_routes

# `streamlit run app.py` serves this ASGI app: this script for the dashboard, plus our /api/ routes
# (intake, sessions, health, readiness, metrics; the JSON 404 for any other /api/ path comes last).
app = st.App(__file__, routes=[*intake_routes, *session_routes, *ops_routes, *fallback_routes])

SESSION_KEYS = ("actor", "session_id", "via_identity", "handoff")


def _go(url: str) -> None:
    """Send the browser to one of our /api/ routes (a full navigation: only an HTTP response can set or
    clear an HttpOnly cookie). The URL is ours: a random URL-safe code and a percent-encoded path."""
    st.html(f"<script>window.location.replace({json.dumps(url)})</script>", unsafe_allow_javascript=True)


def _here() -> str:
    """The path (and query) the browser is on, to come back to after a trip through /api/."""
    url = st.context.url
    if not isinstance(url, str):
        return "/"
    parts = urlsplit(url)
    if parts.path in ("", "/login"):  # the sign-in page itself is no place to come back to
        return "/"
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _start(result) -> None:
    """This browser session is signed in now; its cookie is set on the trip through /api/session/start."""
    st.session_state.update(actor=result.actor, session_id=result.session.id, handoff=result.session.handoff_code,
                            signed_out=False)


def _restore_from_cookie(database) -> None:
    from byte_core.auth.sessions import COOKIE_NAME, session_for_token

    try:
        token = st.context.cookies.get(COOKIE_NAME)
    except Exception:  # noqa: BLE001 - an unreadable cookie header is a browser that is not signed in
        return
    found = session_for_token(database, token)
    if found is not None:
        st.session_state.update(session_id=found[0], actor=found[1])


def sso_providers() -> list[str | None]:
    """The OIDC providers configured in secrets: named `[auth.NAME]` sections, or the bare `[auth]` one
    (None); empty when there are no secrets or no `[auth]`."""
    try:
        section = st.secrets.get("auth")
    except Exception:  # noqa: BLE001 - no secrets.toml at all is the usual case
        return []
    if not isinstance(section, Mapping):
        return []
    named = [name for name, value in section.items() if isinstance(value, Mapping)]
    return named or ([None] if "client_id" in section else [])


def _restore_from_identity(database) -> None:
    """A browser signed in through `st.login` becomes the BYTE user with that email, once per session."""
    from byte_core.auth.login import authenticate_identity

    if not sso_providers() or not st.user.is_logged_in or "identity_refused" in st.session_state:
        return
    issued_claim = st.user.get("iat")
    issued = datetime.fromtimestamp(issued_claim, timezone.utc) if isinstance(issued_claim, (int, float)) else None
    verified = st.user.get("email_verified")
    result = authenticate_identity(database, st.user.get("email"), provider=str(st.user.get("iss") or "single sign-on"),
                                   email_verified=verified if isinstance(verified, bool) else None,
                                   issued_at=issued, ip=_client_ip(), user_agent=_user_agent())
    if not result.ok:
        st.session_state["identity_refused"] = result.message
        return
    _start(result)
    st.session_state["via_identity"] = True


def _forget(message: str | None = None) -> None:
    """This browser session is signed out (the row has ended already)."""
    for key in SESSION_KEYS:
        st.session_state.pop(key, None)
    st.session_state["signed_out"] = True  # no automatic sign-in again from this browser session
    if message:
        st.session_state["signed_out_message"] = message


def _sign_out(database) -> None:
    """The Sign out button: end this session's row, then clear the cookie (or the identity)."""
    from byte_core.auth.sessions import end_session

    actor, session_id = st.session_state.get("actor"), st.session_state.get("session_id")
    via_identity = st.session_state.get("via_identity")
    if actor is not None and session_id is not None:
        end_session(database, actor, session_id)
    _forget()
    if via_identity and st.user.is_logged_in:
        st.logout()  # ends Streamlit's identity cookie too, or the next visit would sign straight in
    else:
        _go(f"{END_PATH}?next=/")


def _login_form(database) -> None:
    from byte_core.auth.login import authenticate
    from byte_core.text import md_escape

    st.title("BYTE Dashboard")
    if message := st.session_state.pop("signed_out_message", None):
        st.warning(message)
    if refused := st.session_state.get("identity_refused"):
        st.error(md_escape(refused))
        if st.button("Sign out of single sign-on", key="sso_logout"):
            st.session_state.pop("identity_refused", None)
            st.logout()
    with st.form("login", border=True):
        st.subheader("Sign in")
        email = st.text_input("Email", autocomplete="username")
        password = st.text_input("Password", type="password", autocomplete="current-password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        result = authenticate(database, email, password, ip=_client_ip(), user_agent=_user_agent())
        if not result.ok:
            st.error(result.message)  # fixed sentences: no user text in them
            return
        # The trip through /api/session/start starts on the next run, drawn at its top (see main).
        _start(result)
        st.rerun()
    providers = sso_providers()
    if providers and not refused:
        st.caption("Or sign in with your organization's identity provider:")
        for provider in providers:
            label = f"Sign in with {provider.capitalize()}" if provider else "Sign in with single sign-on"
            if st.button(label, key=f"sso_{provider or 'default'}", icon=":material/key:"):
                st.login(provider)


def _client_ip() -> str | None:
    ip = st.context.ip_address
    return ip if isinstance(ip, str) else None  # not a string under AppTest, where no browser is connected


def _user_agent() -> str | None:
    agent = (st.context.headers or {}).get("User-Agent")
    return agent if isinstance(agent, str) else None


def _sidebar(actor, profile) -> None:
    from byte_core.access import ROLE_LABELS
    from byte_core.text import md_escape

    with st.sidebar:
        st.markdown(f"**{md_escape(profile.display_name)}**")
        st.caption(" · ".join(ROLE_LABELS.get(r, r) for r in sorted(actor.roles)) + f" · {md_escape(profile.org_name)}")
        # Handled at the top of the next run (see main), before anything reads the session.
        st.button("Sign out", icon=":material/logout:", width="stretch",
                  on_click=lambda: st.session_state.update(sign_out_requested=True))


def _unread(database, actor) -> int:
    from byte_core.notifications.inbox import unread_count

    try:
        return unread_count(database, actor)
    except Exception:  # noqa: BLE001 - a count that fails must not take the whole app down
        return 0


def main() -> None:
    from pages._registry import pages_for, restricted_for
    from pages._ui import db

    from byte_core.auth.sessions import session_actor

    st.set_page_config(page_title="BYTE Dashboard", page_icon=":material/hub:", layout="wide")
    database = db()
    if st.session_state.pop("sign_out_requested", False):
        _sign_out(database)
    signed_out = st.session_state.get("signed_out")
    if "actor" not in st.session_state and not signed_out:
        _restore_from_cookie(database)
    if "actor" not in st.session_state and not signed_out:
        _restore_from_identity(database)
    actor = st.session_state.get("actor")
    if actor is not None:
        # Checked on every run: a sign-out elsewhere, a revocation, a password change or a deactivation
        # ends the session now, and role changes apply at once.
        session_id = st.session_state.get("session_id")
        actor = session_actor(database, actor.org_id, session_id) if session_id is not None else None
        if actor is None:
            _forget("Your session ended (signed out elsewhere, password changed, sessions revoked or account "
                    "deactivated).")
        else:
            st.session_state["actor"] = actor
            if handoff := st.session_state.get("handoff"):
                # Drawn first and on every run until the browser leaves, so a click cannot drop it.
                _go(f"{START_PATH}?code={quote(handoff)}&next={quote(_here())}")
    if actor is None:
        def login_page() -> None:
            _login_form(database)

        # Every page's URL is known here too (showing the sign-in form), so the address a person opened (or
        # that a signed-in browser reopens before its cookie is read) survives until the run that signs in.
        from pages._registry import PAGES

        def kept_page(url_path: str):
            def sign_in_first() -> None:
                # Remembered, so the run that restores the session opens it (see _open_requested).
                st.session_state["requested_path"] = url_path
                _login_form(database, authenticator)

            return st.Page(sign_in_first, title="Sign in", url_path=url_path, visibility="hidden")

        kept = [kept_page(spec.url_path) for spec in PAGES if spec.url_path != "home"]
        st.navigation([st.Page(login_page, title="Sign in", url_path="login", default=True), *kept],
                      position="hidden").run()
        return
    from byte_core.users import profile

    specs = pages_for(actor.roles)
    unread = _unread(database, actor)
    sections: dict[str, list] = {}
    for spec in specs:
        # The unread count rides on the page's title in the sidebar: one indexed count per run.
        title = f"{spec.title} ({unread:,})" if spec.url_path == "notifications" and unread else spec.title
        sections.setdefault(spec.section, []).append(
            st.Page(f"pages/{spec.file}", title=title, icon=spec.icon, url_path=spec.url_path,
                    default=spec.url_path == "home"))
    # A page the person's roles do not allow is still known by its URL, as a hidden page that says so: without
    # it Streamlit would silently show Home. The page's own script is never registered, so it cannot run.
    sections.setdefault("Account", []).extend(_no_access_page(spec) for spec in restricted_for(actor.roles))
    st.session_state["profile"] = me = profile(database, actor)
    _sidebar(actor, me)
    current = st.navigation(sections)
    _open_requested(current, [page for pages in sections.values() for page in pages])
    from byte_core.ops.metrics import page_timer

    with page_timer(current.url_path or "home"):
        current.run()


def _open_requested(current, pages) -> None:
    """The page a signed-out browser asked for, once the session is back: a restore from the cookie reruns
    the script, and that rerun may arrive on Home rather than on the address that was opened."""
    wanted = st.session_state.pop("requested_path", None)
    if not wanted or wanted == current.url_path:
        return
    target = next((page for page in pages if page.url_path == wanted), None)
    if target is not None:
        st.switch_page(target)


def _no_access_page(spec):
    def no_access() -> None:
        st.title(spec.title)
        st.error("You don't have access to this page. Ask an admin if your work needs it.", icon=":material/lock:")
        st.page_link("pages/home.py", label="Back to Home", icon=":material/home:")

    return st.Page(no_access, title=spec.title, icon=":material/lock:", url_path=spec.url_path, visibility="hidden")


if st.runtime.exists():
    main()
