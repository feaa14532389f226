"""BYTE Dashboard: sign-in, navigation by role, and the /api/ routes (Formstack intake).

Sign-in uses our own form and `byte_core.auth.login` (lockout in the database, equal timing,
audit). streamlit-authenticator is used only for its signed re-authentication cookie, created once
here, hardened as DESIGN.md §5 says: a random key kept outside the repo, a short expiry, and a
cookie issued before the user's last password change or session revocation is refused.

When `.streamlit/secrets.toml` has an `[auth]` section (OpenID Connect, DESIGN.md §5), the sign-in page
also offers `st.login`; the provider's verified email is mapped to an active BYTE user by
`authenticate_identity`, and that identity is subject to the same revocation rules.
"""
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone

import streamlit as st

from byte_core.intake.http import routes

# `streamlit run app.py` serves this ASGI app: this script for the dashboard, plus our /api/ routes.
app = st.App(__file__, routes=routes)

COOKIE_NAME = "byte_session"
COOKIE_DAYS = 0.5


def _authenticator():
    import streamlit_authenticator as stauth

    from byte_core.auth.sessions import cookie_key

    # Never pass api_key: it sends data to a third-party server.
    return stauth.Authenticate({"usernames": {}}, COOKIE_NAME, cookie_key(), COOKIE_DAYS)


def _restore_from_cookie(database, authenticator) -> None:
    from byte_core.auth.login import session_still_valid

    token = authenticator.cookie_controller.get_cookie()
    if not token:
        return
    issued = datetime.fromtimestamp(token["exp_date"], timezone.utc) - timedelta(days=COOKIE_DAYS)
    actor = session_still_valid(database, token["username"], issued)
    if actor is not None:
        st.session_state.update(actor=actor, issued_at=issued, username=token["username"])


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
    st.session_state.update(actor=result.actor, issued_at=issued or datetime.now(timezone.utc),
                            username=result.actor.email, via_identity=True, logout=False)


def _sign_out(authenticator, message: str | None = None) -> None:
    try:
        authenticator.cookie_controller.delete_cookie()
    except Exception:  # noqa: BLE001 - the cookie may already be gone
        pass
    for key in ("actor", "issued_at", "username", "via_identity"):
        st.session_state.pop(key, None)
    st.session_state["logout"] = True
    if message:
        st.session_state["signed_out_message"] = message


def _login_form(database, authenticator) -> None:
    from byte_core.auth.login import authenticate

    st.title("BYTE Dashboard")
    if message := st.session_state.pop("signed_out_message", None):
        st.warning(message)
    if refused := st.session_state.get("identity_refused"):
        st.error(refused)
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
            st.error(result.message)
            return
        # The cookie is written on the next run: a component rendered just before st.rerun() may never
        # reach the browser, and then a reload would ask for the password again.
        st.session_state.update(actor=result.actor, issued_at=datetime.now(timezone.utc), username=result.actor.email,
                                logout=False, reissue_cookie=True)
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
        # Handled at the top of the next run (see main), so the cookie's deletion renders in a run that
        # completes: a component followed by st.rerun() may never reach the browser.
        st.button("Sign out", icon=":material/logout:", width="stretch",
                  on_click=lambda: st.session_state.update(sign_out_requested=True))


def main() -> None:
    from pages._registry import pages_for, restricted_for
    from pages._ui import db

    from byte_core.auth.login import session_still_valid

    st.set_page_config(page_title="BYTE Dashboard", page_icon=":material/hub:", layout="wide")
    database = db()
    authenticator = _authenticator()
    if st.session_state.pop("sign_out_requested", False):
        from byte_core.auth.login import end_session

        via_identity = st.session_state.get("via_identity")
        if "actor" in st.session_state:  # recorded on the server: the browser may keep the cookie
            end_session(database, st.session_state["actor"], st.session_state["issued_at"],
                        keep_for=timedelta(days=COOKIE_DAYS))
        _sign_out(authenticator)
        if via_identity and st.user.is_logged_in:
            st.logout()  # ends Streamlit's identity cookie too, or the next visit would sign straight in
    if "actor" not in st.session_state and not st.session_state.get("logout"):
        _restore_from_cookie(database, authenticator)
    if "actor" not in st.session_state and not st.session_state.get("logout"):
        _restore_from_identity(database)
    actor = st.session_state.get("actor")
    if actor is not None:
        # Checked on every run: deactivation, a password change or a revocation ends the session now,
        # and role changes apply at once.
        actor = session_still_valid(database, actor.email, st.session_state["issued_at"])
        if actor is None:
            _sign_out(authenticator, "Your session ended (password changed, sessions revoked or account deactivated).")
        else:
            st.session_state["actor"] = actor
            if st.session_state.get("reissue_cookie"):
                authenticator.cookie_controller.set_cookie()
                # The session is known by the cookie's issue time from now on (what a restore reads back,
                # and what sign-out records). The flag clears only here: a click that interrupts this run
                # inside set_cookie leaves it set, so the next run writes the cookie again and records it.
                expires = authenticator.cookie_controller.cookie_model.exp_date
                st.session_state["issued_at"] = datetime.fromtimestamp(expires, timezone.utc) - timedelta(days=COOKIE_DAYS)
                st.session_state["reissue_cookie"] = False
    if actor is None:
        def login_page() -> None:
            _login_form(database, authenticator)

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
    sections: dict[str, list] = {}
    for spec in specs:
        sections.setdefault(spec.section, []).append(
            st.Page(f"pages/{spec.file}", title=spec.title, icon=spec.icon, url_path=spec.url_path,
                    default=spec.url_path == "home"))
    # A page the person's roles do not allow is still known by its URL, as a hidden page that says so: without
    # it Streamlit would silently show Home. The page's own script is never registered, so it cannot run.
    sections.setdefault("Account", []).extend(_no_access_page(spec) for spec in restricted_for(actor.roles))
    st.session_state["profile"] = me = profile(database, actor)
    _sidebar(actor, me)
    current = st.navigation(sections)
    _open_requested(current, [page for pages in sections.values() for page in pages])
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
