"""OONI's HTTP comparisons and the address helpers, one behaviour each."""

from __future__ import annotations

import pytest

from censorwatch.analysis import http_compare as hc
from censorwatch.analysis.netaddr import canonical_ip, split_endpoint
from censorwatch.model.addresses import is_bogon


def test_body_proportion() -> None:
    assert hc.body_proportion(700, 1000, False) == 0.7
    assert hc.body_length_match(0.7) is False and hc.body_length_match(0.71) is True
    assert hc.body_proportion(1000, 500, False) == 0.5
    assert hc.body_proportion(1000, 500, True) is None
    assert hc.body_proportion(0, 500, False) is None and hc.body_proportion(10, -1, False) is None


def test_status_code_match() -> None:
    assert hc.status_code_match(200, 200) is True
    assert hc.status_code_match(403, 200) is False
    assert hc.status_code_match(200, 503) is None  # the control got a 5xx
    assert hc.status_code_match(None, 200) is None


def test_headers_match() -> None:
    assert hc.headers_match(["Date", "Server"], ["date", "server"], 200, 200) is True  # same set
    assert hc.headers_match(["Date", "X-Site"], ["Server", "x-site"], 200, 200) is True  # shared uncommon
    assert hc.headers_match(["Date", "Server", "X-A"], ["Date", "Server", "X-B"], 200, 200) is False
    assert hc.headers_match(["Date", "Cf-Ray"], ["Date", "CF-RAY", "Via"], 200, 200) is False  # only common
    assert hc.headers_match([], ["Date"], 200, 200) is None


def test_title_match() -> None:
    body = "<html><TITLE>Breaking News from Example</title>"
    assert hc.extract_title(body) == "Breaking News from Example"
    assert hc.title_match(body, "EXAMPLE breaking news", 200, 200, False) is True  # order/case ignored
    assert hc.title_match(body, "Breaking Stories", 200, 200, False) is False
    assert hc.title_match("<html>no title</html>", "x", 200, 200, False) is None
    assert hc.title_match(body, "x", 200, 200, True) is None


@pytest.mark.parametrize(
    ("ip", "bogon"),
    [("10.1.2.3", True), ("192.168.0.1", True), ("127.0.0.1", True), ("169.254.1.1", True),
     ("100.64.0.1", True), ("0.0.0.0", True), ("198.18.0.5", True), ("224.0.0.1", True),
     ("8.8.8.8", False), ("93.184.216.34", False), ("::1", True), ("fe80::1", True), ("fd00::1", True),
     ("2001:db8::1", True), ("2a00:1450::1", False), ("::ffff:10.0.0.1", True), ("not-an-ip", False)],
)
def test_bogons(ip: str, bogon: bool) -> None:
    assert is_bogon(ip) is bogon


def test_lab_range_only_public_in_lab() -> None:
    assert is_bogon("198.19.255.1") and not is_bogon("198.19.255.1", lab=True)
    assert is_bogon("10.0.0.1", lab=True)


def test_endpoints_and_canonical_ips() -> None:
    assert split_endpoint("[2001:db8::1]:443") == ("2001:db8::1", 443)
    assert split_endpoint("1.2.3.4:80") == ("1.2.3.4", 80)
    assert canonical_ip("2001:DB8:0:0::1") == "2001:db8::1"


def test_legacy_failures_with_appended_detail_and_their_wording() -> None:
    from censorwatch.analysis.wording import say
    from censorwatch.model.failures import normalize

    mk = "ssl_error: error:14007086:SSL routines:CONNECT_CR_CERT:certificate verify failed"
    assert normalize(mk) == "ssl_failed_handshake"
    assert normalize("connection_refused_error: x") == "connection_refused"
    assert normalize("weird: thing") == "unknown_failure: weird: thing"
    assert say("connection_reset") == "connection reset"
    assert say("unknown_failure: x") == "an unexplained error"
