"""Pure helpers of the browser session: where a sign-in may send the browser back to, and device labels."""
import pytest

from byte_core.auth.http import safe_next
from byte_core.auth.sessions import device_label, well_formed


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:x",
                                    "", None, "/api/session/start?code=x", "/a\r\nSet-Cookie: x=1"])
def test_a_return_path_is_a_local_path_or_home(target):
    assert safe_next(target) == "/"


def test_a_local_path_with_its_query_is_kept():
    assert safe_next("/contacts?q=ada") == "/contacts?q=ada"


@pytest.mark.parametrize("value, ok", [("A" * 43, True), ("a-_b" * 11, True), ("A" * 39, False), ("A" * 65, False),
                                       ("é" * 43, False), ("A" * 42 + "=", False), (None, False), (43, False)])
def test_only_values_shaped_like_our_tokens_reach_the_database(value, ok):
    assert well_formed(value) is ok


@pytest.mark.parametrize("agent, label", [
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0 Safari/537.36 "
     "Edg/140.0", "Edge on Windows"),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5; rv:131.0) Gecko/20100101 Firefox/131.0", "Firefox on macOS"),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Version/17.5 Mobile Safari/604.1",
     "Safari on iOS"),
    (None, "Unknown browser"), ("curl/8.5.0", "Unknown browser")])
def test_device_labels(agent, label):
    assert device_label(agent) == label
