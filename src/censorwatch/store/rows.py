"""Column batches for the core tables: measurements, observations, verdicts.

Rows are appended into plain Python lists, one list per column, and turned into one pyarrow table
per table when the batch is written (``Store.write``). Nothing here talks to the database.

Observation rows are cut straight from the raw ``test_keys`` (one flat row per DNS query, TCP
connect, TLS handshake, HTTP request and network event), without building the typed model objects:
the typed view is what ``analysis`` uses, the flat view is what SQL uses.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pyarrow as pa

from censorwatch.model import failures
from censorwatch.model.measurement import Measurement
from censorwatch.model.verdict import Verdict

MEASUREMENT_SCHEMA = pa.schema(
    [
        ("measurement_uid", pa.string()),
        ("report_id", pa.string()),
        ("test_name", pa.string()),
        ("input", pa.string()),
        ("domain", pa.string()),
        ("probe_cc", pa.string()),
        ("probe_asn", pa.string()),
        ("measurement_start_time", pa.timestamp("us")),
        ("software_name", pa.string()),
        ("software_version", pa.string()),
        ("is_lab", pa.bool_()),
        ("source", pa.string()),
        ("raw_size", pa.int32()),
        ("probe_network_name", pa.string()),
    ]
)

OBSERVATION_SCHEMA = pa.schema(
    [
        ("measurement_uid", pa.string()),
        ("kind", pa.string()),
        ("idx", pa.int32()),
        ("hostname", pa.string()),
        ("query_type", pa.string()),
        ("engine", pa.string()),
        ("resolver", pa.string()),
        ("ip", pa.string()),
        ("port", pa.int32()),
        ("server_name", pa.string()),
        ("url", pa.string()),
        ("status_code", pa.int32()),
        ("body_length", pa.int64()),
        ("answers", pa.list_(pa.string())),
        ("operation", pa.string()),
        ("num_bytes", pa.int64()),
        ("failure", pa.string()),
        ("t0", pa.float64()),
        ("t", pa.float64()),
    ]
)

VERDICT_SCHEMA = pa.schema(
    [
        ("measurement_uid", pa.string()),
        ("rules_version", pa.string()),
        ("status", pa.string()),
        ("method", pa.string()),
        ("rule", pa.string()),
        ("explanation", pa.string()),
        ("fingerprint_id", pa.string()),
        ("fingerprint_scope", pa.string()),
        ("blocking", pa.string()),
        ("accessible", pa.bool_()),
        ("dns_consistency", pa.string()),
        ("body_length_match", pa.bool_()),
        ("body_proportion", pa.float64()),
        ("status_code_match", pa.bool_()),
        ("headers_match", pa.bool_()),
        ("title_match", pa.bool_()),
        ("test_name", pa.string()),
        ("probe_cc", pa.string()),
        ("probe_asn", pa.string()),
        ("input", pa.string()),
        ("domain", pa.string()),
        ("measurement_start_time", pa.timestamp("us")),
        ("details", pa.string()),
    ]
)


def _s(v: Any) -> str | None:
    if v is None or isinstance(v, str):
        return v
    return str(v)


def _i(v: Any) -> int | None:
    if type(v) is int:
        return v if -(2**31) <= v < 2**31 else None
    if isinstance(v, float) and v.is_integer():
        return _i(int(v))
    if isinstance(v, str) and v.strip().isdigit():
        return _i(int(v))
    return None


def _i64(v: Any) -> int | None:
    if type(v) is int:
        return v if -(2**63) <= v < 2**63 else None
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return None


def _f(v: Any) -> float | None:
    if type(v) is float:
        return v
    if type(v) is int:
        return float(v)
    return None


def _naive_utc(dt: datetime | None) -> datetime | None:
    if dt is None:
        return None
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC).replace(tzinfo=None)
    return dt


def _answers_list(v: Any) -> list[str] | None:
    return v if isinstance(v, list) else None


#: how each observation column is coerced when recorded values do not fit its type
_COERCE: dict[str, Any] = {
    f.name: (_i if f.type == pa.int32() else _i64 if f.type == pa.int64() else _f if f.type == pa.float64()
             else _answers_list if f.name == "answers" else _s)
    for f in OBSERVATION_SCHEMA
}


def _split_address(address: Any) -> tuple[str | None, int | None]:
    """``"1.2.3.4:443"`` / ``"[::1]:443"`` -> ``(ip, port)``; anything else -> ``(text, None)``."""
    if type(address) is not str:
        return None, None
    host, sep, port = address.rpartition(":")
    if not sep:
        return address, None
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:  # a bare IPv6 address, no port
        return address, None
    if port.isdigit() and len(port) <= 5:
        return host, int(port)
    return address, None


_FAILURES: dict[str, str | None] = {}
_MISS = object()


def _failure(v: Any) -> str | None:
    """``failures.normalize`` with a cache: a few dozen distinct strings cover the whole archive."""
    if v is None:
        return None
    if type(v) is str:
        hit = _FAILURES.get(v, _MISS)
        if hit is not _MISS:
            return hit  # type: ignore[return-value]
        if len(_FAILURES) < 10_000:
            _FAILURES[v] = failures.normalize(v)
            return _FAILURES[v]
    return failures.normalize(v)


def _body_length(body: Any) -> int | None:
    if isinstance(body, str):
        return len(body.encode("utf-8", "surrogatepass")) if not body.isascii() else len(body)
    if isinstance(body, dict):
        data = body.get("data")
        if not isinstance(data, str):
            return None
        if body.get("format") == "base64":
            n = len(data)
            return n * 3 // 4 - (2 if data.endswith("==") else 1 if data.endswith("=") else 0)
        return len(data.encode("utf-8", "surrogatepass"))
    return None


def _answers(raw: Any) -> list[str] | None:
    if not isinstance(raw, list):
        return None
    out: list[str] = []
    for a in raw:
        if isinstance(a, dict):
            v = a.get("ipv4") or a.get("ipv6") or a.get("hostname")
            if isinstance(v, str):
                out.append(v)
    return out


class RowBatch:
    """Column lists for one write: measurements, their observation rows and their verdicts."""

    def __init__(self) -> None:
        self.m: dict[str, list[Any]] = {f.name: [] for f in MEASUREMENT_SCHEMA}
        self.obs_rows: list[tuple[Any, ...]] = []
        self.v: dict[str, list[Any]] = {f.name: [] for f in VERDICT_SCHEMA}
        #: the raw bytes of each measurement row, in row order (``Store.write`` keeps them in raw parts)
        self.raws: list[bytes] = []

    def __len__(self) -> int:
        return len(self.m["measurement_uid"])

    @property
    def verdict_count(self) -> int:
        return len(self.v["measurement_uid"])

    # -- measurements ----------------------------------------------------------------------------
    def add_measurement(self, uid: str, m: Measurement, raw: bytes) -> None:
        """One measurement row; ``raw`` is the exact bytes it was read from."""
        c = self.m
        c["measurement_uid"].append(uid)
        c["report_id"].append(m.report_id)
        c["test_name"].append(m.test_name)
        c["input"].append(m.input)
        c["domain"].append(m.domain)
        c["probe_cc"].append(m.probe_cc)
        c["probe_asn"].append(m.probe_asn)
        c["measurement_start_time"].append(_naive_utc(m.measurement_start_time))
        c["software_name"].append(m.software_name)
        c["software_version"].append(m.software_version)
        c["is_lab"].append(m.is_lab)
        c["source"].append(m.source)
        c["raw_size"].append(len(raw))
        c["probe_network_name"].append(m.probe_network_name)
        self.raws.append(raw)
        if m.test_keys:
            self.add_observations(uid, m.test_keys)

    @property
    def observation_count(self) -> int:
        return len(self.obs_rows)

    # -- observations ----------------------------------------------------------------------------
    # One tuple per row in OBSERVATION_SCHEMA order; values are taken as recorded and only coerced
    # (column by column, in ``observations_table``) when a column does not fit its Arrow type.
    def add_observations(self, uid: str, tk: dict[str, Any]) -> None:
        """One flat row per network step recorded in ``test_keys`` (kinds dns, tcp, tls, http, event)."""
        add = self.obs_rows.append
        norm = _failure
        items = tk.get("queries")
        if type(items) is list:
            for idx, d in enumerate(items):
                if type(d) is dict:
                    g = d.get
                    add((uid, "dns", idx, g("hostname"), g("query_type"), g("engine"),
                         g("resolver_address") or g("resolver_hostname"), None, None, None, None, None, None,
                         _answers(g("answers")), None, None, norm(g("failure")), g("t0"), g("t")))
        items = tk.get("tcp_connect")
        if type(items) is list:
            for idx, d in enumerate(items):
                if type(d) is dict:
                    g = d.get
                    status = g("status")
                    failure = status.get("failure") if type(status) is dict else g("failure")
                    add((uid, "tcp", idx, None, None, None, None, g("ip"), g("port"), None, None, None, None,
                         None, None, None, norm(failure), g("t0"), g("t")))
        items = tk.get("tls_handshakes")
        if type(items) is list:
            for idx, d in enumerate(items):
                if type(d) is dict:
                    g = d.get
                    ip, port = _split_address(g("address"))
                    add((uid, "tls", idx, None, None, None, None, ip, port, g("server_name"), None, None, None,
                         None, None, None, norm(g("failure")), g("t0"), g("t")))
        items = tk.get("requests")
        if type(items) is list:
            for idx, d in enumerate(items):
                if type(d) is dict:
                    g = d.get
                    req = g("request")
                    resp = g("response")
                    code = blen = None
                    if type(resp) is dict:
                        code = resp.get("code")
                        blen = _body_length(resp.get("body"))
                    add((uid, "http", idx, None, None, None, None, None, None, None,
                         req.get("url") if type(req) is dict else None, code, blen,
                         None, None, None, norm(g("failure")), g("t0"), g("t")))
        items = tk.get("network_events")
        if type(items) is list:
            for idx, d in enumerate(items):
                if type(d) is dict:
                    g = d.get
                    ip, port = _split_address(g("address"))
                    add((uid, "event", idx, None, None, g("proto"), None, ip, port, None, None, None, None,
                         None, g("operation"), g("num_bytes"), norm(g("failure")), g("t0"), g("t")))

    # -- verdicts --------------------------------------------------------------------------------
    def add_verdict(self, uid: str, v: Verdict, start: datetime | None) -> None:
        """One verdict row for ``uid``; ``start`` is the measurement's parsed start time."""
        c = self.v
        fp = v.fingerprint
        c["measurement_uid"].append(uid)
        c["rules_version"].append(v.rules_version)
        c["status"].append(v.status)
        c["method"].append(v.method)
        c["rule"].append(v.rule)
        c["explanation"].append(v.explanation)
        c["fingerprint_id"].append(fp.id if fp is not None else None)
        c["fingerprint_scope"].append(fp.scope if fp is not None else None)
        c["blocking"].append("false" if v.blocking is False else v.blocking)
        c["accessible"].append(v.accessible)
        c["dns_consistency"].append(v.dns_consistency)
        c["body_length_match"].append(v.body_length_match)
        c["body_proportion"].append(v.body_proportion)
        c["status_code_match"].append(v.status_code_match)
        c["headers_match"].append(v.headers_match)
        c["title_match"].append(v.title_match)
        c["test_name"].append(v.test_name)
        c["probe_cc"].append(v.probe_cc)
        c["probe_asn"].append(v.probe_asn)
        c["input"].append(v.input)
        c["domain"].append(v.domain)
        c["measurement_start_time"].append(_naive_utc(start))
        c["details"].append(orjson.dumps(v.details, default=str, option=orjson.OPT_NON_STR_KEYS).decode() if v.details else None)

    # -- arrow -----------------------------------------------------------------------------------
    @staticmethod
    def _table(cols: dict[str, list[Any]], schema: pa.Schema) -> pa.Table:
        return pa.Table.from_arrays([pa.array(cols[f.name], f.type) for f in schema], schema=schema)

    def measurements_table(self) -> pa.Table:
        return self._table(self.m, MEASUREMENT_SCHEMA)

    def observations_table(self) -> pa.Table:
        columns = list(zip(*self.obs_rows, strict=True)) if self.obs_rows else [()] * len(OBSERVATION_SCHEMA)
        arrays = []
        for f, col in zip(OBSERVATION_SCHEMA, columns, strict=True):
            try:
                arrays.append(pa.array(col, f.type))
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
                arrays.append(pa.array([_COERCE[f.name](v) for v in col], f.type))
        return pa.Table.from_arrays(arrays, schema=OBSERVATION_SCHEMA)

    def verdicts_table(self) -> pa.Table:
        return self._table(self.v, VERDICT_SCHEMA)
