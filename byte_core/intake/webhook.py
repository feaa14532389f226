"""Formstack deliveries: verify, parse and map. Pure functions, no database (DESIGN.md §5 facts).

Order matters: size, then the HMAC over the raw bytes (before any parsing), then parse, then the
handshake key (checked in constant time and stripped), then the idempotency key, then what PostgreSQL
could never store (`check_storable`): such a delivery is refused here with 400 and a reason, never sent
to the group commit where it would fail its neighbours and be retried forever.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, Mapping
from urllib.parse import parse_qsl

from ..errors import ByteError

MAX_BODY_BYTES = 1024 * 1024
MAX_ID_LENGTH = 255  # FormID and UniqueID
MAX_DEPTH = 32
MAX_FIELDS = 2000  # every key and list item, at every level
CONTACT_TARGETS = ("first_name", "last_name", "email", "phone", "address_line_1", "address_line_2", "city", "state",
                   "zip", "tags", "name", "address")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")


class WebhookRejected(ByteError):
    def __init__(self, status: int, reason: str, message: str):
        super().__init__(message)
        self.status, self.reason = status, reason


@dataclass(frozen=True)
class VerificationSettings:
    hmac_key: str | None = None
    handshake_key: str | None = None
    signature_header: str = "X-FS-Signature"
    allow_unsigned: bool = False  # an admin's explicit choice to accept deliveries without any secret


@dataclass(frozen=True)
class ParsedDelivery:
    form_id: str
    unique_id: str
    payload: dict[str, Any]


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    return next((value for key, value in headers.items() if key.lower() == wanted), None)


def sign(body: bytes, key: str) -> str:
    return "sha256=" + hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


def check_size(content_length: int | None, body: bytes) -> None:
    if (content_length or 0) > MAX_BODY_BYTES or len(body) > MAX_BODY_BYTES:
        raise WebhookRejected(413, "payload_too_large", f"the body is over {MAX_BODY_BYTES // 1024} KiB")


def verify_signature(body: bytes, headers: Mapping[str, str], settings: VerificationSettings) -> None:
    if not settings.hmac_key and not settings.handshake_key and not settings.allow_unsigned:
        raise WebhookRejected(401, "unsigned_not_allowed", "this endpoint has no secret set and does not accept "
                                                           "unsigned deliveries: set an HMAC or handshake key")
    if not settings.hmac_key:
        return
    given = _header(headers, settings.signature_header)
    if not given:
        raise WebhookRejected(401, "bad_signature", f"the {settings.signature_header} header is missing")
    if not hmac.compare_digest(given.strip().lower().encode(), sign(body, settings.hmac_key).encode()):
        raise WebhookRejected(401, "bad_signature", f"the {settings.signature_header} signature does not match the body")


def parse_body(body: bytes, content_type: str | None) -> dict[str, Any]:
    kind = (content_type or "application/x-www-form-urlencoded").split(";")[0].strip().lower()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise WebhookRejected(400, "malformed_body", "the body is not UTF-8 text") from None
    if kind == "application/json" or kind.endswith("+json"):
        try:
            data = json.loads(text, parse_constant=_non_finite, parse_float=_finite_float)
        except json.JSONDecodeError as exc:
            raise WebhookRejected(400, "malformed_body", f"the body is not valid JSON ({exc.msg})") from None
        except RecursionError:
            raise _too_deep() from None
        except ValueError as exc:  # a non-finite number, or an integer over Python's digit limit
            raise WebhookRejected(400, "invalid_number", f"the body has a number that cannot be stored ({exc})") from None
        if not isinstance(data, dict):
            raise WebhookRejected(400, "malformed_body", "the JSON body must be an object of fields")
        return data
    if kind == "application/x-www-form-urlencoded":
        try:
            return _parse_form(text)
        except UnicodeDecodeError:
            raise WebhookRejected(400, "invalid_unicode", "a form field is not valid UTF-8 once decoded") from None
        except ValueError:  # parse_qsl's max_num_fields
            raise _too_many_fields() from None
    raise WebhookRejected(415, "unsupported_media_type",
                          f"{kind} is not accepted: send application/x-www-form-urlencoded or JSON")


def _non_finite(name: str) -> Any:
    raise ValueError(f"{name} is not a finite number")


def _finite_float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise ValueError(f"{literal[:20]} overflows")
    return value


def _too_deep() -> WebhookRejected:
    return WebhookRejected(400, "too_deep", f"the body nests deeper than {MAX_DEPTH} levels")


def _too_many_fields() -> WebhookRejected:
    return WebhookRejected(400, "too_many_fields", f"the body has more than {MAX_FIELDS:,} fields")


def check_storable(payload: Any) -> None:
    """Refuse what PostgreSQL's jsonb can never store or we will not keep: NUL characters (also written as
    \\u0000 in JSON), lone surrogates (not Unicode), non-finite numbers, nesting deeper than MAX_DEPTH and
    more than MAX_FIELDS fields. Iterative, so a hostile depth costs no recursion."""
    fields, stack = 0, [(payload, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise _too_deep()
        if isinstance(value, dict):
            items = list(value.items())
        elif isinstance(value, list):
            items = [(None, item) for item in value]
        else:
            _check_scalar(value)
            continue
        fields += len(items)
        if fields > MAX_FIELDS:
            raise _too_many_fields()
        for key, item in items:
            if key is not None:
                _check_scalar(key)
            stack.append((item, depth + 1))


def _check_scalar(value: Any) -> None:
    if isinstance(value, str):
        if "\x00" in value:
            raise WebhookRejected(400, "nul_character", "a field contains a NUL character (\\u0000)")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise WebhookRejected(400, "invalid_unicode", "a field contains invalid Unicode (a lone surrogate)") from None
    elif isinstance(value, float) and not math.isfinite(value):
        raise WebhookRejected(400, "invalid_number", "a field holds a non-finite number (NaN or Infinity)")


def _parse_form(text: str) -> dict[str, Any]:
    """Repeated keys become lists; `field[sub]` keys become nested objects, as Formstack sends sub-fields."""
    data: dict[str, Any] = {}
    for key, value in parse_qsl(text, keep_blank_values=True, errors="strict", max_num_fields=MAX_FIELDS):
        match = re.fullmatch(r"([^\[\]]+)\[([^\[\]]*)\]", key)
        if match:
            parent = data.setdefault(match.group(1), {})
            if isinstance(parent, dict):
                parent[match.group(2)] = value
                continue
        if key in data:
            existing = data[key]
            data[key] = existing + [value] if isinstance(existing, list) else [existing, value]
        else:
            data[key] = value
    return data


def verify_handshake(payload: dict[str, Any], settings: VerificationSettings) -> dict[str, Any]:
    given = payload.get("HandshakeKey")
    stripped = {k: v for k, v in payload.items() if k != "HandshakeKey"}
    if settings.handshake_key:
        if not isinstance(given, str) or not hmac.compare_digest(given.encode(), settings.handshake_key.encode()):
            raise WebhookRejected(401, "bad_handshake", "the HandshakeKey is missing or wrong")
    return stripped


def receive(body: bytes, headers: Mapping[str, str], settings: VerificationSettings) -> ParsedDelivery:
    length = _header(headers, "content-length")
    check_size(int(length) if length and length.isdigit() else None, body)
    verify_signature(body, headers, settings)
    payload = verify_handshake(parse_body(body, _header(headers, "content-type")), settings)
    form_id, unique_id = str(payload.get("FormID") or "").strip(), str(payload.get("UniqueID") or "").strip()
    if not form_id:
        raise WebhookRejected(400, "missing_form_id", "the delivery has no FormID")
    if not unique_id:
        raise WebhookRejected(400, "missing_unique_id", "the delivery has no UniqueID")
    for name, value in (("FormID", form_id), ("UniqueID", unique_id)):
        if len(value) > MAX_ID_LENGTH:
            raise WebhookRejected(400, "id_too_long", f"the {name} is over {MAX_ID_LENGTH} characters")
    check_storable(payload)
    return ParsedDelivery(form_id, unique_id, payload)


# --- mapping -----------------------------------------------------------------------------------------------------------------
@dataclass
class MappedSubmission:
    contact: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    unmapped: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def _normal(key: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", key.lower()).strip("_")


def validate_mappings(mappings: Mapping[str, str]) -> list[str]:
    problems = []
    for key, target in mappings.items():
        if not str(key).strip():
            problems.append("a mapping has an empty Formstack field key")
        if not isinstance(target, str) or not (target in CONTACT_TARGETS or
                                                (target.startswith("metadata.") and len(target) > 9)):
            problems.append(f"{key!r} maps to {target!r}: use one of {', '.join(CONTACT_TARGETS)} or metadata.<name>")
    return problems


def map_fields(payload: Mapping[str, Any], mappings: Mapping[str, str]) -> MappedSubmission:
    """Apply a mapping whose keys may be labels, API-friendly names or numeric field ids."""
    result = MappedSubmission()
    by_exact = dict(mappings)
    by_normal = {_normal(k): v for k, v in mappings.items()}
    for key, value in payload.items():
        if key in ("FormID", "UniqueID"):
            continue
        target = by_exact.get(key) or by_normal.get(_normal(key))
        if target is None:
            result.unmapped[key] = value
        elif target.startswith("metadata."):
            result.metadata[target[9:]] = value
        elif target == "name" and isinstance(value, dict):
            result.contact.update(first_name=_text(value.get("first")), last_name=_text(value.get("last")))
        elif target == "address" and isinstance(value, dict):
            for source, column in (("address", "address_line_1"), ("address2", "address_line_2"), ("city", "city"),
                                   ("state", "state"), ("zip", "zip")):
                if value.get(source):
                    result.contact[column] = _text(value[source])
        elif target == "tags":
            items = value if isinstance(value, list) else str(value).split(",")
            result.contact["tags"] = sorted({str(t).strip() for t in items if str(t).strip()})
        else:
            result.contact[target] = _text(value)
    email = (result.contact.get("email") or "").strip().lower()
    if not email:
        result.problems.append("no email address: map the form's email field to 'email'")
    elif not EMAIL.match(email):
        result.problems.append(f"{email!r} is not a valid email address")
    else:
        result.contact["email"] = email
    return result


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return " ".join(str(v) for v in value.values() if v)
    return str(value).strip()
