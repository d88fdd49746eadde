"""The OONI 0.2.0 envelope around the ``test_keys`` of the platform, VPN and throughput tests."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import orjson

from censorwatch import __version__
from censorwatch.model.measurement import DATA_FORMAT_VERSION, derive_uid, ooni_time


def envelope(
    test_name: str,
    test_version: str,
    input_: str | None,
    test_keys: dict[str, Any],
    *,
    start: datetime,
    runtime: float,
    probe_cc: str = "ZZ",
    probe_asn: str = "AS0",
    annotations: dict[str, Any] | None = None,
    options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A complete measurement dict (readable by ``Measurement.from_raw``), with a content-derived uid."""
    m: dict[str, Any] = {
        "annotations": dict(annotations or {}),
        "data_format_version": DATA_FORMAT_VERSION,
        "input": input_,
        "measurement_start_time": ooni_time(start),
        "test_start_time": ooni_time(start),
        "probe_asn": probe_asn,
        "probe_cc": probe_cc,
        "probe_ip": "127.0.0.1",
        "probe_network_name": None,
        "report_id": "",
        "resolver_asn": "AS0",
        "resolver_ip": None,
        "software_name": "censorwatch",
        "software_version": __version__,
        "test_helpers": {},
        "test_keys": test_keys,
        "test_name": test_name,
        "test_runtime": round(runtime, 6),
        "test_version": test_version,
        "options": options or {},
    }
    digest = hashlib.sha256(orjson.dumps(m, option=orjson.OPT_SORT_KEYS)).digest()
    m["measurement_uid"] = derive_uid(start.astimezone(UTC), probe_cc, test_name, digest)
    return m
