"""Unit tier: the limits `receive` enforces before a delivery reaches the group commit, at their boundaries."""
import json

import pytest

from byte_core.intake.webhook import (MAX_DEPTH, MAX_FIELDS, MAX_ID_LENGTH, VerificationSettings, WebhookRejected,
                                      check_storable, receive, sign)

KEY = "k"


def deliver(payload: dict, settings: VerificationSettings = VerificationSettings(hmac_key=KEY)):
    body = json.dumps(payload).encode()
    return receive(body, {"Content-Type": "application/json", "X-FS-Signature": sign(body, KEY)}, settings)


def nested(depth: int) -> dict:
    value: dict = {}
    for _ in range(depth - 1):
        value = {"n": value}
    return value


def reason(call) -> str:
    with pytest.raises(WebhookRejected) as refused:
        call()
    return refused.value.reason


def test_depth_limit_is_exact():
    check_storable(nested(MAX_DEPTH))
    assert reason(lambda: check_storable(nested(MAX_DEPTH + 1))) == "too_deep"


def test_field_limit_counts_every_key_and_item():
    check_storable({f"f{i}": i for i in range(MAX_FIELDS)})
    assert reason(lambda: check_storable({"a": list(range(MAX_FIELDS))})) == "too_many_fields"  # 1 key + items


def test_id_length_limit_is_exact():
    assert deliver({"FormID": "1", "UniqueID": "u" * MAX_ID_LENGTH}).unique_id == "u" * MAX_ID_LENGTH
    assert reason(lambda: deliver({"FormID": "1", "UniqueID": "u" * (MAX_ID_LENGTH + 1)})) == "id_too_long"
    assert reason(lambda: deliver({"FormID": "f" * (MAX_ID_LENGTH + 1), "UniqueID": "1"})) == "id_too_long"


def test_no_secret_is_refused_unless_unsigned_was_chosen():
    body = b"FormID=1&UniqueID=2"
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    assert reason(lambda: receive(body, headers, VerificationSettings())) == "unsigned_not_allowed"
    assert receive(body, headers, VerificationSettings(allow_unsigned=True)).unique_id == "2"
    assert receive(body + b"&HandshakeKey=h", headers, VerificationSettings(handshake_key="h")).unique_id == "2"
