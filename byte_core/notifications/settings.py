"""Where email goes and how links back look, read from the environment on each use (a restart is not
needed to turn email on, and tests set the variables per test).

BYTE_SMTP_URL   smtp://user:password@host:587?starttls=1   (STARTTLS, then AUTH when a user is given)
                smtps://user:password@host:465             (TLS from the first byte)
                smtp://host:25                              (plain, no auth: a local relay)
                optional query: cafile=/path/ca.pem to trust a private CA, timeout=SECONDS
BYTE_SMTP_FROM  the From address (default: byte@<smtp host>)
BYTE_PUBLIC_URL the dashboard's address as people open it, for links in emails (default http://localhost:8501)
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

from ..errors import InvalidInput

DEFAULT_PUBLIC_URL = "http://localhost:8501"
_TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    username: str | None
    password: str | None
    implicit_tls: bool
    starttls: bool
    sender: str
    cafile: str | None = None
    timeout: float = 15.0

    @property
    def display(self) -> str:
        """For the Users page and the CLI: never the password."""
        security = "TLS" if self.implicit_tls else ("STARTTLS" if self.starttls else "no TLS")
        auth = f", as {self.username}" if self.username else ""
        return f"{self.host}:{self.port} ({security}{auth}), from {self.sender}"


def parse_smtp_url(url: str, sender: str | None = None) -> SmtpSettings:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("smtp", "smtps"):
        raise InvalidInput(f"BYTE_SMTP_URL must start with smtp:// or smtps://, not {parts.scheme or url!r}")
    if not parts.hostname:
        raise InvalidInput("BYTE_SMTP_URL has no host: use smtp://user:password@host:port")
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    implicit = parts.scheme == "smtps"
    try:
        port = parts.port or (465 if implicit else 25)
        timeout = float(query.get("timeout", 15))
    except ValueError as exc:
        raise InvalidInput(f"BYTE_SMTP_URL: {exc}") from None
    return SmtpSettings(
        host=parts.hostname, port=port, username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None, implicit_tls=implicit,
        starttls=not implicit and query.get("starttls", "0").lower() in _TRUE,
        sender=(sender or "").strip() or f"byte@{parts.hostname}", cafile=query.get("cafile"), timeout=timeout)


def smtp_settings() -> SmtpSettings | None:
    """None when email is off (no BYTE_SMTP_URL)."""
    url = os.environ.get("BYTE_SMTP_URL", "").strip()
    if not url:
        return None
    return parse_smtp_url(url, os.environ.get("BYTE_SMTP_FROM"))


def email_enabled() -> bool:
    """With no SMTP server configured, email is off: nothing is queued that could never leave."""
    return bool(os.environ.get("BYTE_SMTP_URL", "").strip())


def public_url() -> str:
    return (os.environ.get("BYTE_PUBLIC_URL") or DEFAULT_PUBLIC_URL).rstrip("/")


def link_for(task_id=None, execution_id=None) -> str:
    """Where a notification sends people: the task, else the execution, else the Notifications page."""
    base = public_url()
    if task_id:
        return f"{base}/tasks?task={task_id}"
    if execution_id:
        return f"{base}/executions?execution={execution_id}"
    return f"{base}/notifications"
