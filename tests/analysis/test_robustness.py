"""Any JSON in test_keys gives a verdict from the rules, never an internal error (property test)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from censorwatch.analysis import classify
from censorwatch.analysis.experiments import CLASSIFIERS
from censorwatch.analysis.fingerprints import builtin_fingerprints
from censorwatch.model.measurement import Measurement
from censorwatch.model.verdict import STATUSES

scalars = st.one_of(st.none(), st.booleans(), st.integers(-2, 70000), st.floats(allow_nan=False),
                    st.sampled_from(["", "1.2.3.4", "10.0.0.1", "::1", "[::1]:443", "1.2.3.4:80", "http://x.org/",
                                     "https://x.org/", "connection_reset", "dns_nxdomain_error", "x.org", "A",
                                     "base64", "ssl_unknown_authority", "generic_timeout_error"]))
KEYS = ["queries", "tcp_connect", "tls_handshakes", "requests", "control", "dns", "addrs", "failure", "answers",
        "ipv4", "ip", "port", "status", "success", "response", "request", "url", "body", "code", "headers",
        "http_request", "status_code", "body_length", "title", "server_name", "address", "hostname", "targets",
        "sent", "received", "lookups", "format", "data", "tcp_connect", "tls_handshake", "ip_info", "asn",
        "pings", "summary", "simple", "target", "experiment", "iterative_trace", "connection", "error",
        "openvpn_handshake", "supports_ddr", "delayed_response", "query", "quic_handshake"]
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(KEYS), inner, max_size=6)), max_leaves=30)
TESTS = sorted({"web_connectivity", *CLASSIFIERS})


@settings(max_examples=120, deadline=None)
@given(test=st.sampled_from(TESTS), tk=st.dictionaries(st.sampled_from(KEYS), json_values, max_size=8))
def test_random_test_keys_never_break_the_rules(test: str, tk: dict[str, Any]) -> None:
    raw = {"test_name": test, "input": "http://x.org/", "measurement_start_time": "2024-01-01 00:00:00",
           "probe_cc": "IT", "test_keys": tk}
    v = classify(Measurement.from_raw(raw, source="fuzz"), builtin_fingerprints())
    assert v.rule != "classify_error", v.explanation
    assert v.status in STATUSES and v.explanation
