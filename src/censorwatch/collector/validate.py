"""Checks on one submitted measurement: the body bytes in, canonical bytes + uid out, or a ``Rejection``.

Every rejection carries an HTTP status, a stable machine code (used as the ``reason`` label of
``censorwatch_collector_rejected_total``), a human reason and a JSON location (``$.probe_cc``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from censorwatch.collector.canonical import NotCanonicalisable, canonical_bytes, decode
from censorwatch.collector.merkle import leaf_hash
from censorwatch.model.measurement import derive_uid, normalize_cc, parse_time

# OONI nettests (and censorwatch's own); an unknown name is accepted only with an input.
KNOWN_TESTS = frozenset(
    {
        "web_connectivity", "http_requests", "dns_consistency", "http_invalid_request_line",
        "http_header_field_manipulation", "http_host", "bridge_reachability", "tcp_connect",
        "meek_fronted_requests_test", "psiphon", "tor", "vanilla_tor", "torsf", "dnscheck",
        "stunreachability", "urlgetter", "whatsapp", "facebook_messenger", "telegram", "signal",
        "ndt", "dash", "riseupvpn", "openvpn", "echcheck", "http3", "portfiltering",
        "simplequicping", "tlsping", "tcpping", "dnsping", "tlsmiddlebox", "tlstool", "quicping",
        "sni_blocking", "browser_web", "lantern", "multi_protocol_traceroute", "captive_portal",
        "throttling", "vpn_reachability",
    }
)
# tests that are meaningless without an input (URL, host or target list)
NEEDS_INPUT = frozenset(
    {
        "web_connectivity", "http_requests", "dns_consistency", "tcp_connect", "urlgetter", "dnscheck",
        "meek_fronted_requests_test", "sni_blocking", "browser_web",
    }
)
_TEST_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_UID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_OLDEST = datetime(2012, 1, 1, tzinfo=UTC)
_FUTURE_SLACK = timedelta(days=1)
_OPTIONAL_STR = ("report_id", "data_format_version", "software_name", "software_version", "test_version",
                 "probe_network_name", "probe_ip", "resolver_ip", "resolver_network_name", "test_start_time")


@dataclass(frozen=True, slots=True)
class Rejection(Exception):
    status: int
    code: str
    reason: str
    location: str = "$"

    def body(self) -> bytes:
        return orjson.dumps({"error": self.code, "reason": self.reason, "location": self.location})


@dataclass(frozen=True, slots=True)
class Accepted:
    measurement_uid: str
    canonical: bytes  # empty when only ``stored`` came over from a front-end process
    leaf_hash: bytes
    stored: bytes | None = None  # the canonical bytes as the evidence store keeps them, when compressed already


def _type_name(v: Any) -> str:
    return "null" if v is None else {dict: "object", list: "array", str: "string", bool: "boolean"}.get(
        type(v), "number"
    )


def _bad(key: str, want: str, got: Any) -> Rejection:
    return Rejection(422, "wrong_type", f"'{key}' must be {want}, got {_type_name(got)}", f"$.{key}")


def _check_envelope(obj: dict[str, Any], now: datetime) -> datetime:
    """Check the envelope on the decoded dict; return the measurement's start time.

    These checks imply everything ``Measurement.from_raw`` requires (a non-empty string test name,
    a parseable start time, ``test_keys`` an object or null), so no ``Measurement`` is built here."""
    if "test_name" not in obj:
        raise Rejection(422, "missing_key", "required key 'test_name' is missing", "$.test_name")
    name = obj["test_name"]
    if not isinstance(name, str):
        raise _bad("test_name", "a string", name)
    if not _TEST_NAME.match(name):
        raise Rejection(422, "bad_value", f"'test_name' {name[:70]!r} is not a test name", "$.test_name")
    time_key = "measurement_start_time" if "measurement_start_time" in obj else "test_start_time"
    if time_key not in obj:
        raise Rejection(
            422, "missing_key", "required key 'measurement_start_time' is missing", "$.measurement_start_time"
        )
    if not isinstance(obj[time_key], str):
        raise _bad(time_key, "a string (YYYY-MM-DD hh:mm:ss UTC)", obj[time_key])
    start = parse_time(obj[time_key])
    if start is None:
        raise Rejection(422, "bad_value", f"'{time_key}' is not a time (YYYY-MM-DD hh:mm:ss UTC)", f"$.{time_key}")
    if start < _OLDEST or start > now + _FUTURE_SLACK:
        raise Rejection(422, "bad_value", f"'{time_key}' {obj[time_key]!r} is before 2012 or in the future",
                        f"$.{time_key}")
    if "test_keys" not in obj:
        raise Rejection(422, "missing_key", "required key 'test_keys' is missing (null is allowed)", "$.test_keys")
    if obj["test_keys"] is not None and not isinstance(obj["test_keys"], dict):
        raise _bad("test_keys", "an object or null", obj["test_keys"])
    for key in _OPTIONAL_STR:
        if obj.get(key) is not None and not isinstance(obj[key], str):
            raise _bad(key, "a string or null", obj[key])
    cc = obj.get("probe_cc")
    if cc is not None and not (isinstance(cc, str) and (len(cc) == 2 and cc.isascii() and cc.isalpha())):
        raise Rejection(422, "bad_value" if isinstance(cc, str) else "wrong_type",
                        "'probe_cc' must be a two-letter country code or null", "$.probe_cc")
    asn = obj.get("probe_asn")
    if asn is not None and (isinstance(asn, bool) or not isinstance(asn, str | int)):
        raise _bad("probe_asn", "a string like 'AS123', a number or null", asn)
    ann = obj.get("annotations")
    if ann is not None and not isinstance(ann, dict):
        raise _bad("annotations", "an object or null", ann)
    inp = obj.get("input")
    if isinstance(inp, list):
        for i, x in enumerate(inp):
            if not isinstance(x, str):
                raise Rejection(422, "wrong_type", f"'input' list items must be strings, got {_type_name(x)}",
                                f"$.input[{i}]")
    elif inp is not None and not isinstance(inp, str):
        raise _bad("input", "a string, a list of strings or null", inp)
    has_input = bool(inp)
    if not has_input and name in NEEDS_INPUT:
        raise Rejection(422, "missing_input", f"test '{name}' needs an 'input' (URL or host)", "$.input")
    if not has_input and name not in KNOWN_TESTS:
        raise Rejection(422, "unknown_test", f"unknown test '{name}' with no input", "$.test_name")
    uid = obj.get("measurement_uid")
    if uid is not None and not (isinstance(uid, str) and _UID.match(uid)):
        raise Rejection(422, "bad_value", "'measurement_uid' must be 1-128 characters of [A-Za-z0-9._-]",
                        "$.measurement_uid")
    return start


def check(body: bytes, *, now: datetime | None = None) -> Accepted:
    """Validate one submission body; raise ``Rejection`` with the reason if it is not acceptable."""
    if not body.strip():
        raise Rejection(400, "empty_body", "the request body is empty; send one JSON measurement")
    try:
        obj = decode(body)
    except NotCanonicalisable as exc:
        raise Rejection(422, "not_canonical", str(exc)) from None
    except orjson.JSONDecodeError as exc:
        raise Rejection(400, "invalid_json", f"not JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise Rejection(422, "wrong_type", f"expected a JSON object (one measurement), got {_type_name(obj)}")
    start = _check_envelope(obj, now or datetime.now(UTC))
    try:
        canonical = canonical_bytes(obj)
    except NotCanonicalisable as exc:
        raise Rejection(422, "not_canonical", str(exc)) from None
    # the same uid the store gives the same measurement read from a file (store/uid.py::stable_uid,
    # via Measurement.from_raw: its own uid, else one derived from start time, cc, test name, bytes)
    uid = obj.get("measurement_uid") or derive_uid(start, normalize_cc(obj.get("probe_cc")), obj["test_name"], canonical)
    return Accepted(uid, canonical, leaf_hash(canonical))
