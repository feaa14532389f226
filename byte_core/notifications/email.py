"""Emails: rendered from their notification rows when they leave (plain text + HTML, a link back to the
task) and sent over SMTP with smtplib, one connection per claimed batch."""
from __future__ import annotations

import html
import smtplib
import ssl
from dataclasses import dataclass
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from datetime import datetime, timezone
from email.utils import format_datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from .events import HEADLINES
from .outbox import Outcome
from .settings import SmtpSettings, link_for, public_url

SUBJECT_LIMIT = 160


@dataclass(frozen=True)
class Item:
    """What one notification says in an email."""

    kind: str
    title: str
    body: str | None
    link: str
    due_date: Any = None


def message_id(outbox_id: Any, sender: str) -> str:
    """The idempotency key of a delivery: the outbox row's id, stable across retries."""
    domain = sender.rsplit("@", 1)[-1].strip(" >") or "byte.local"
    return f"<{outbox_id}@{domain}>"


def _one_line(value: str, limit: int = SUBJECT_LIMIT) -> str:
    # A header cannot hold a line break (and one typed into a task title must not start a new header).
    cleaned = " ".join((value or "").split())
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def load_items(session: Session, ids: list[Any]) -> dict[Any, Item]:
    if not ids:
        return {}
    rows = session.execute(text(
        "SELECT n.id, n.kind, n.title, n.body, n.task_id, n.workflow_execution_id, t.due_date FROM notifications n "
        "LEFT JOIN tasks t ON t.id = n.task_id WHERE n.id = ANY(CAST(:ids AS uuid[]))"), {"ids": list(ids)}).all()
    return {r.id: Item(r.kind, r.title, r.body, link_for(r.task_id, r.workflow_execution_id), r.due_date) for r in rows}


def compose(row: Any, items: list[Item], settings: SmtpSettings) -> MIMEMultipart:
    """One outbox row as a message. `row` needs id, kind and to_address. Built with the compat32 MIME
    classes: the modern EmailMessage parses every header through its registry, which was most of the
    delivery worker's CPU time."""
    if row.kind == "test":
        subject, intro = "BYTE test email", "This is a test email from BYTE Dashboard: email delivery works."
        items = [Item("test", "Open BYTE Dashboard", None, public_url())]
    elif row.kind == "digest":
        subject, intro = f"BYTE daily digest: {len(items)} notification{'s' if len(items) != 1 else ''}", \
            "Here is what happened since your last digest."
    else:
        item = items[0] if items else Item("note_mention", "(removed)", None, public_url())
        subject, intro = f"{HEADLINES.get(item.kind, 'Notification')}: {item.title}", None
    message = MIMEMultipart("alternative")
    subject = _one_line(subject)
    message["Subject"] = subject if subject.isascii() else Header(subject, "utf-8").encode()
    message["From"] = settings.sender
    message["To"] = _one_line(row.to_address)
    message["Message-ID"] = message_id(row.id, settings.sender)
    message["Date"] = format_datetime(datetime.now(timezone.utc))
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: out-of-office replies are not sent back
    message["X-BYTE-Kind"] = row.kind
    message.attach(MIMEText(_plain(intro, items), "plain", "utf-8"))
    message.attach(MIMEText(_html(intro, items), "html", "utf-8"))
    return message


def _line(item: Item) -> str:
    due = f" (due {item.due_date:%Y-%m-%d})" if item.due_date else ""
    return f"{HEADLINES.get(item.kind, '')}: {item.title}{due}".lstrip(": ")


def _plain(intro: str | None, items: list[Item]) -> str:
    parts = [intro] if intro else []
    for item in items:
        parts.append(_line(item) + (f"\n{item.body}" if item.body else "") + f"\nOpen: {item.link}")
    parts.append(f"-- \nBYTE Dashboard · change what you receive under My account: {public_url()}/account")
    return "\n\n".join(parts) + "\n"


def _html(intro: str | None, items: list[Item]) -> str:
    # Titles and note text are what people typed: escaped, never markup.
    blocks = [f"<p>{html.escape(intro)}</p>"] if intro else []
    for item in items:
        body = f"<br><span style=\"color:#555\">{html.escape(item.body)}</span>" if item.body else ""
        blocks.append(f"<p><strong>{html.escape(_line(item))}</strong>{body}<br>"
                      f"<a href=\"{html.escape(item.link, quote=True)}\">Open in BYTE Dashboard</a></p>")
    account = html.escape(f"{public_url()}/account", quote=True)
    blocks.append(f"<p style=\"color:#888;font-size:12px\">BYTE Dashboard · "
                  f"<a href=\"{account}\">change what you receive</a></p>")
    return "<!doctype html><html><body>" + "\n".join(blocks) + "</body></html>"


def connect(settings: SmtpSettings) -> smtplib.SMTP:
    context = ssl.create_default_context(cafile=settings.cafile) if (settings.implicit_tls or settings.starttls) else None
    if settings.implicit_tls:
        client: smtplib.SMTP = smtplib.SMTP_SSL(settings.host, settings.port, timeout=settings.timeout, context=context)
    else:
        client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
    try:
        client.ehlo()
        if settings.starttls:
            client.starttls(context=context)
            client.ehlo()
        if settings.username:
            _authenticate(client, settings.username, settings.password or "")
    except Exception:
        _close(client)
        raise
    return client


def _authenticate(client: smtplib.SMTP, username: str, password: str) -> None:
    """AUTH PLAIN when offered (one attempt, so a wrong password is one failed login on the server, and its
    535 comes back at once), else whatever smtplib's login() negotiates."""
    if "plain" in client.esmtp_features.get("auth", "").lower().split():
        client.user, client.password = username, password
        client.auth("PLAIN", client.auth_plain)
    else:
        client.login(username, password)


def _close(client: smtplib.SMTP) -> None:
    try:
        client.quit()
    except Exception:  # noqa: BLE001 - the connection may already be gone
        client.close()


def send_batch(settings: SmtpSettings, messages: list[tuple[Any, MIMEMultipart]]) -> list[Outcome]:
    """Send each message on one connection. A refusal of one message (4xx: retried; 5xx: given up)
    does not stop the others; a lost connection fails the rest of the batch as retryable."""
    if not messages:
        return []
    try:
        client = connect(settings)
    except (OSError, smtplib.SMTPException) as exc:
        reason = f"cannot reach the SMTP server {settings.host}:{settings.port}: {_describe(exc)}"
        return [Outcome(key, sent=False, error=reason, permanent=_permanent(exc)) for key, _ in messages]
    outcomes: list[Outcome] = []
    try:
        for index, (key, message) in enumerate(messages):
            try:
                client.send_message(message)
                outcomes.append(Outcome(key, sent=True))
            except (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError, smtplib.SMTPSenderRefused) as exc:
                outcomes.append(Outcome(key, sent=False, error=_describe(exc), permanent=_permanent(exc)))
                _reset(client)
            except (OSError, smtplib.SMTPException) as exc:
                reason = f"connection lost: {_describe(exc)}"
                outcomes += [Outcome(k, sent=False, error=reason) for k, _ in messages[index:]]
                break
    finally:
        _close(client)
    return outcomes


def _reset(client: smtplib.SMTP) -> None:
    try:
        client.rset()
    except Exception:  # noqa: BLE001 - the next send reports a broken connection
        pass


def _permanent(exc: Exception) -> bool:
    """5xx replies will not change on retry (bad recipient, auth refused); 4xx and network errors may."""
    code = getattr(exc, "smtp_code", None)
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [value[0] for value in exc.recipients.values()]
        return bool(codes) and all(500 <= c < 600 for c in codes)
    return isinstance(code, int) and 500 <= code < 600


def _describe(exc: Exception) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "; ".join(f"{rcpt} refused: {code} {msg.decode(errors='replace') if isinstance(msg, bytes) else msg}"
                         for rcpt, (code, msg) in exc.recipients.items())
    code, message = getattr(exc, "smtp_code", None), getattr(exc, "smtp_error", None)
    if code is not None:
        text_ = message.decode(errors="replace") if isinstance(message, bytes) else str(message)
        return f"{code} {text_}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
