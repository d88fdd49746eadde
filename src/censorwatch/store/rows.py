"""Column batches for the core tables: measurements, observations, verdicts.

Rows are appended into plain Python lists, one list per column, and turned into one pyarrow table
per table when the batch is written (``Store.write``). Nothing here talks to the database.

Observation rows are cut straight from the raw ``test_keys`` (``model.observations.flat_rows``: one
flat row per DNS query, TCP connect, TLS handshake, HTTP request and network event). The observation
and verdict schemas are derived from the row definitions in ``model/`` (``OBSERVATION_ROW``,
``VERDICT_ROW``), as are the SQL tables (``store/schema.py``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pyarrow as pa

from censorwatch.model.columns import Column
from censorwatch.model.measurement import Measurement
from censorwatch.model.observations import OBSERVATION_ROW, flat_rows
from censorwatch.model.verdict import VERDICT_ROW, Verdict

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

#: Arrow type of each column type of ``model/columns.py``
ARROW_TYPES: dict[str, pa.DataType] = {
    "str": pa.string(), "int32": pa.int32(), "int64": pa.int64(), "float64": pa.float64(), "bool": pa.bool_(),
    "timestamp": pa.timestamp("us"), "str[]": pa.list_(pa.string()), "json": pa.string(),
}


def arrow_schema(row: tuple[Column, ...]) -> pa.Schema:
    return pa.schema([(c.name, ARROW_TYPES[c.type]) for c in row])


OBSERVATION_SCHEMA = arrow_schema(OBSERVATION_ROW)
VERDICT_SCHEMA = arrow_schema(VERDICT_ROW)


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
        """One measurement row; ``raw`` is the exact bytes it was read from. All or nothing: when the
        record's data raises, the batch is left as it was."""
        n_obs = len(self.obs_rows)
        try:
            if m.test_keys:
                self.add_observations(uid, m.test_keys)
        except BaseException:
            del self.obs_rows[n_obs:]
            raise
        start = _naive_utc(m.measurement_start_time)
        c = self.m
        c["measurement_uid"].append(uid)
        c["report_id"].append(m.report_id)
        c["test_name"].append(m.test_name)
        c["input"].append(m.input)
        c["domain"].append(m.domain)
        c["probe_cc"].append(m.probe_cc)
        c["probe_asn"].append(m.probe_asn)
        c["measurement_start_time"].append(start)
        c["software_name"].append(m.software_name)
        c["software_version"].append(m.software_version)
        c["is_lab"].append(m.is_lab)
        c["source"].append(m.source)
        c["raw_size"].append(len(raw))
        c["probe_network_name"].append(m.probe_network_name)
        self.raws.append(raw)

    @property
    def observation_count(self) -> int:
        return len(self.obs_rows)

    # -- observations ----------------------------------------------------------------------------
    def add_observations(self, uid: str, tk: dict[str, Any]) -> None:
        """One flat row per network step recorded in ``test_keys`` (``model.observations.flat_rows``)."""
        flat_rows(uid, tk, self.obs_rows.append)

    # -- verdicts --------------------------------------------------------------------------------
    def add_verdict(self, uid: str, v: Verdict, start: datetime | None) -> None:
        """One verdict row for ``uid``; ``start`` is the measurement's parsed start time (all or nothing)."""
        details = orjson.dumps(v.details, default=str, option=orjson.OPT_NON_STR_KEYS).decode() if v.details else None
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
        c["details"].append(details)
        c["fingerprints"].append(v.fingerprints)

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
