"""Older spellings of OONI test keys, rewritten once, when a measurement's ``test_keys`` are read.

The archive holds a decade of probes (ooniprobe-legacy in Python, measurement-kit in C++, the Go
engine since 2019) and each spelled some things its own way. ``normalize_test_keys`` turns those
spellings into today's, so every rule reads one shape. It never changes the object it was given:
the measurement's ``raw`` (what the store keeps and serves, byte for byte) is untouched, and a
``test_keys`` that needs no change is returned as it is (the common case costs a few dict lookups).

What is rewritten (docs/classification.md, "Older spellings", lists the same):

- ``"failure": false`` and ``"<name>_failure": false``: measurement-kit's and ooniprobe-legacy's way of
  writing "no error" (``{"success": true, "failure": false}``) -> ``null``, wherever those probes put a
  failure (the test keys themselves, their step records and the records' ``status``, and the objects
  one level down such as ``control.http_request``). The Go engine never writes it, so its
  measurements (``annotations.engine_name`` ``ooniprobe-engine`` or ``miniooni``) are not searched.
- ``tor``: the early list of targets (``targets: [{...}]``) -> today's object keyed by target name.
- ``vanilla_tor`` and ``bridge_reachability`` without a ``failure`` key (ooniprobe-legacy): ``success``
  and ``error`` (``"timeout-reached"``, ``"unsupported-tor-version"``, ...) -> ``failure``.
- ``tcp_connect`` (the 2015-2017 test): ``connection: "success" | <failure>`` -> ``failure``.
- YAML-era HTTP tests (``http_requests``, ``http_host``, ``dns_n_http``, ...): a single top-level
  ``request``/``response`` -> ``requests``; ``tor: true|false`` and ``shttp://`` URLs ->
  ``tor: {"is_tor": ...}``; header lists ``[[name, value or [values]], ...]`` -> a header object plus
  ``headers_list``.
- YAML-era DNS tests (``dns_consistency``, ``dns_injection``, ``dns_n_http``, ``captive_portal``):
  ``query: "[Query('example.com', 1, 1)]"`` -> ``hostname``; ``resolver: [host, port]`` ->
  ``resolver_hostname``/``resolver_port``; answers written as ``["<RR ... type=A ...>", "<A
  address=1.2.3.4 ttl=300>"]`` pairs -> answer objects.

Failure strings of those probes (``connection_refused_error``, ``no_answer``, ``timeout-reached``, ...)
are mapped where every failure is read, in ``model/failures.py``. Old test names are claimed by the
families that judge them (``analysis/experiments``), not renamed here: the stored ``test_name`` is
the probe's own.
"""

from __future__ import annotations

import re
from typing import Any, Final

#: envelope keys of an OONI report entry; any other top-level key of an entry without ``test_keys``
#: (YAML-era reports, data format 0.1) is a test key.
ENVELOPE_KEYS: Final = frozenset({
    "annotations", "backend_version", "bucket_date", "data_format_version", "extensions", "id", "input",
    "input_hashes", "measurement_start_time", "measurement_uid", "options", "probe_asn", "probe_cc",
    "probe_city", "probe_ip", "probe_network_name", "report_filename", "report_id", "resolver_asn",
    "resolver_ip", "resolver_network_name", "software_name", "software_version", "start_time",
    "test_helpers", "test_name", "test_runtime", "test_start_time", "test_version", "test_keys",
    "platform", "architecture",
})
#: engines that never write ``failure: false`` (the Go engine since 2019, and censorwatch itself).
MODERN_ENGINES: Final = frozenset({"ooniprobe-engine", "miniooni", "censorwatch"})
#: ooniprobe-legacy's ``error`` strings for tor bootstraps (ts-011, ts-016) -> canonical failures.
TOR_ERRORS: Final[dict[str, str]] = {
    "timeout-reached": "generic_timeout_error",
    "unsupported-tor-version": "unknown_failure: unsupported-tor-version",
    "missing-pyobfsproxy": "unknown_failure: missing-pyobfsproxy",
    "missing-fteproxy": "unknown_failure: missing-fteproxy",
}
#: the tor error strings that say the probe could not run the test (its own set-up, not the network).
PROBE_SETUP_ERRORS: Final = frozenset(v for k, v in TOR_ERRORS.items() if k != "timeout-reached")
_HTTP_TESTS: Final = frozenset({
    "http_requests", "http_requests_test", "http_host", "dns_n_http", "http_header_field_manipulation",
    "http_url_list", "http_test", "captive_portal", "captiveportal", "meek_fronted_requests_test",
})
_DNS_TESTS: Final = frozenset({
    "dns_consistency", "dnstamper", "dns_injection", "dns_n_http", "captive_portal", "captiveportal",
    "dns_spoof",
})
_QUERY_NAME = re.compile(r"Query\('([^']*)'")
_RR_TYPE = re.compile(r"type=([A-Z0-9]+)")
_ADDRESS = re.compile(r"address=([0-9A-Fa-f:.]+)")
_NAME = re.compile(r"name=([^\s>]+)")
_TTL = re.compile(r"ttl=(\d+)")


def entry_test_keys(obj: dict[str, Any]) -> Any:
    """The test keys of a report entry: ``test_keys``, or for YAML-era entries (data format 0.1 or
    none) that keep their results beside the envelope (no ``test_keys`` key at all), every
    non-envelope key."""
    if "test_keys" in obj:
        return obj["test_keys"]
    dfv = obj.get("data_format_version")
    if dfv is not None and not str(dfv).startswith("0.1"):
        return None
    rest = {k: v for k, v in obj.items() if k not in ENVELOPE_KEYS}
    return rest or None


def normalize_test_keys(test_name: str, tk: Any, *, engine: str | None = None) -> Any:
    """Today's spelling of ``tk`` (the same object when nothing needed rewriting; never mutated)."""
    if not isinstance(tk, dict):
        return tk
    fixer = _BY_TEST.get(test_name)
    if fixer is not None:
        tk = fixer(tk)
    if engine not in MODERN_ENGINES and _has_false_failure(tk):
        tk = _without_false_failures(tk)
    return tk


def _is_failure_key(k: str) -> bool:
    return k == "failure" or k.endswith("_failure")


def _has_false_failure(tk: dict[str, Any]) -> bool:
    """Whether a ``failure: false`` sits where the old probes wrote failures: a cheap look (a few dict
    lookups per step record; ``network_events``, which those probes never recorded, is skipped) that
    decides whether the full rewrite runs."""
    for k, v in tk.items():
        if v is False:
            if _is_failure_key(k):
                return True
        elif type(v) is list:
            if k == "network_events":
                continue
            for item in v:
                if type(item) is dict:
                    if item.get("failure") is False:
                        return True
                    status = item.get("status")
                    if type(status) is dict and status.get("failure") is False:
                        return True
        elif type(v) is dict:
            if v.get("failure") is False:
                return True
            for inner in v.values():
                if type(inner) is dict and inner.get("failure") is False:
                    return True
    return False


def _without_false_failures(obj: Any) -> Any:
    """``obj`` with every ``failure: false`` / ``*_failure: false`` set to ``None``; copies only the
    containers on the way to a change."""
    if type(obj) is dict:
        out: dict[str, Any] | None = None
        for k, v in obj.items():
            if v is False and _is_failure_key(k):
                nv: Any = None
            elif type(v) is dict or type(v) is list:
                nv = _without_false_failures(v)
                if nv is v:
                    continue
            else:
                continue
            if out is None:
                out = dict(obj)
            out[k] = nv
        return obj if out is None else out
    if type(obj) is list:
        new: list[Any] | None = None
        for i, v in enumerate(obj):
            if type(v) is dict or type(v) is list:
                nv = _without_false_failures(v)
                if nv is not v:
                    if new is None:
                        new = list(obj)
                    new[i] = nv
        return obj if new is None else new
    return obj


def _tor(tk: dict[str, Any]) -> dict[str, Any]:
    targets = tk.get("targets")
    if not isinstance(targets, list):
        return tk
    keyed: dict[str, Any] = {}
    for i, t in enumerate(targets):
        if not isinstance(t, dict):
            continue
        name = str(t.get("target_address") or t.get("target_name") or f"target-{i}")
        while name in keyed:
            name += f"#{i}"
        keyed[name] = t
    return {**tk, "targets": keyed}


def _tor_bootstrap(tk: dict[str, Any]) -> dict[str, Any]:
    """ooniprobe-legacy's vanilla_tor / bridge_reachability: ``success`` + ``error``, no ``failure``."""
    if "failure" in tk or ("success" not in tk and "error" not in tk):
        return tk
    success, error = tk.get("success"), tk.get("error")
    if success is True and not error:
        failure = None
    elif isinstance(error, str) and error:
        failure = TOR_ERRORS.get(error, error)
    elif success is False:
        progress = tk.get("tor_progress")
        stuck = isinstance(progress, int) and progress < 100
        failure = "generic_timeout_error" if stuck else "unknown_failure: tor bootstrap failed"
    else:  # success null: tor exited before the test could finish (ts-011)
        failure = "unknown_failure: tor exited before the test completed"
    return {**tk, "failure": failure}


def _tcp_connect(tk: dict[str, Any]) -> dict[str, Any]:
    conn = tk.get("connection")
    if "failure" in tk or not isinstance(conn, str):
        return tk
    return {**tk, "failure": None if conn == "success" else conn}


def _header_pairs(raw: Any) -> list[list[str]] | None:
    """YAML-era headers ``[[name, value or [values]], ...]`` -> ``[[name, value], ...]``; None if not that shape."""
    if not isinstance(raw, list):
        return None
    pairs: list[list[str]] = []
    for item in raw:
        if not (isinstance(item, list | tuple) and len(item) == 2):
            return None
        name, value = item
        values = value if isinstance(value, list) else [value]
        pairs.extend([str(name), "" if v is None else str(v)] for v in values)
    return pairs


def _http_side(side: Any) -> Any:
    if not isinstance(side, dict):
        return side
    out = side
    pairs = _header_pairs(side.get("headers"))
    if pairs is not None:
        out = {**out, "headers": {k: v for k, v in pairs}, "headers_list": pairs}
    return out


def _http_transaction(tx: Any) -> Any:
    if not isinstance(tx, dict):
        return tx
    req, resp = tx.get("request"), tx.get("response")
    new_req = _http_side(req)
    if isinstance(new_req, dict):
        url, tor = new_req.get("url"), new_req.get("tor")
        if isinstance(url, str) and url.startswith("shttp://"):
            new_req = {**new_req, "url": "http://" + url.removeprefix("shttp://"), "tor": {"is_tor": True}}
        elif isinstance(tor, bool) or (tor is None and "tor" in new_req):
            new_req = {**new_req, "tor": {"is_tor": bool(tor)}}
    new_resp = _http_side(resp)
    if new_req is req and new_resp is resp:
        return tx
    return {**tx, "request": new_req, "response": new_resp}


def _http(tk: dict[str, Any]) -> dict[str, Any]:
    out = tk
    if "requests" not in tk and isinstance(tk.get("request"), dict):
        out = {k: v for k, v in tk.items() if k not in ("request", "response")}
        out["requests"] = [{"request": tk["request"], "response": tk.get("response")}]
    reqs = out.get("requests")
    if isinstance(reqs, list):
        new = [_http_transaction(t) for t in reqs]
        if any(a is not b for a, b in zip(new, reqs, strict=True)):
            out = {**out, "requests": new}
    return out


def _answer(pair: Any) -> dict[str, Any] | None:
    """``["<RR name=x type=A class=IN ttl=300s ...>", "<A address=1.2.3.4 ttl=300>"]`` -> an answer."""
    if not (isinstance(pair, list | tuple) and len(pair) == 2):
        return pair if isinstance(pair, dict) else None
    rr, rec = str(pair[0]), str(pair[1])
    kind = _RR_TYPE.search(rr)
    ttl = _TTL.search(rr) or _TTL.search(rec)
    out: dict[str, Any] = {"answer_type": kind.group(1) if kind else None, "ttl": int(ttl.group(1)) if ttl else None}
    if out["answer_type"] in ("A", "AAAA"):
        addr = _ADDRESS.search(rec)
        out["ipv4" if out["answer_type"] == "A" else "ipv6"] = addr.group(1) if addr else None
    else:
        name = _NAME.search(rec)
        out["hostname"] = name.group(1) if name else None
    return out


def _dns_query(q: Any) -> Any:
    if not isinstance(q, dict) or ("query" not in q and "resolver" not in q):
        return q
    out = {k: v for k, v in q.items() if k not in ("query", "resolver", "addrs")}
    m = _QUERY_NAME.search(str(q.get("query") or ""))
    out.setdefault("hostname", m.group(1) if m else None)
    res = q.get("resolver")
    if isinstance(res, list | tuple) and len(res) == 2:
        out.setdefault("resolver_hostname", res[0])
        out.setdefault("resolver_port", res[1])
    answers = [a for a in (_answer(p) for p in q.get("answers") or []) if a is not None]
    out["answers"] = answers
    if not q.get("failure") and not answers:
        out["failure"] = "dns_no_answer"
    return out


def _dns(tk: dict[str, Any]) -> dict[str, Any]:
    qs = tk.get("queries")
    if not isinstance(qs, list):
        return tk
    new = [_dns_query(q) for q in qs]
    if all(a is b for a, b in zip(new, qs, strict=True)):
        return tk
    return {**tk, "queries": new}


def _both(tk: dict[str, Any]) -> dict[str, Any]:
    return _dns(_http(tk))


_BY_TEST: Final = {
    "tor": _tor,
    "vanilla_tor": _tor_bootstrap,
    "bridge_reachability": _tor_bootstrap,
    "bridgereachability": _tor_bootstrap,
    "tcp_connect": _tcp_connect,
    **{name: _http for name in _HTTP_TESTS - _DNS_TESTS},
    **{name: _dns for name in _DNS_TESTS - _HTTP_TESTS},
    **{name: _both for name in _HTTP_TESTS & _DNS_TESTS},
}
