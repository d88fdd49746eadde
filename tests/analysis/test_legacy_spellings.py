"""model/legacy.py: older spellings rewritten once when test_keys are read; the raw object untouched."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import orjson
from msmt_builder import measurement

from censorwatch.model.legacy import entry_test_keys, normalize_test_keys
from censorwatch.model.measurement import Measurement, parse_time

MK_TK = {"tcp_connect": [{"ip": "1.2.3.4", "port": 443, "status": {"success": True, "failure": False}}],
         "registration_server_failure": False, "requests": [{"failure": False, "request": {"url": "https://x/"}}]}


def test_false_failures_become_null_on_a_copy() -> None:
    raw_tk = copy.deepcopy(MK_TK)
    m = measurement("whatsapp", raw_tk, annotations={"engine_name": "libmeasurement_kit"})
    assert m.test_keys is not raw_tk
    assert m.test_keys["tcp_connect"][0]["status"] == {"success": True, "failure": None}
    assert m.test_keys["registration_server_failure"] is None and m.test_keys["requests"][0]["failure"] is None
    assert raw_tk == MK_TK and m.raw["test_keys"] is raw_tk  # what the store keeps is the probe's own
    assert m.observations().tcp_connect[0].success is True


def test_nothing_old_means_no_copy() -> None:
    modern = {"tcp_connect": [{"ip": "1.2.3.4", "port": 443, "status": {"success": True, "failure": None}}],
              "control": {"http_request": {"failure": None}}, "network_events": [{"failure": None}]}
    raw = {"test_name": "telegram", "measurement_start_time": "2024-02-17 10:00:00", "test_keys": modern}
    m = Measurement.from_raw(raw, raw_bytes=orjson.dumps(raw))
    assert m.test_keys is modern  # nothing to rewrite: the same object, no copy
    legacy_raw = {**raw, "test_keys": MK_TK}
    m = Measurement.from_raw(legacy_raw, raw_bytes=orjson.dumps(legacy_raw))
    assert m.test_keys["tcp_connect"][0]["status"]["failure"] is None
    nested = {"control": {"http_request": {"failure": False, "body_length": 5}}}
    assert normalize_test_keys("web_connectivity", nested)["control"]["http_request"]["failure"] is None


def test_the_go_engine_is_not_searched() -> None:
    assert normalize_test_keys("telegram", MK_TK, engine="ooniprobe-engine") is MK_TK
    assert normalize_test_keys("telegram", MK_TK, engine="libmeasurement_kit") is not MK_TK


def test_untouched_when_nothing_is_old() -> None:
    tk = {"queries": [{"hostname": "x", "failure": None}], "requests": [{"failure": "connection_reset"}]}
    assert normalize_test_keys("web_connectivity", tk) is tk


def test_yaml_era_entries_keep_results_beside_the_envelope() -> None:
    entry = {"test_name": "tcp_connect", "input": "1.2.3.4:443", "start_time": 1441320103.0,
             "software_name": "ooniprobe", "connection": "success", "data_format_version": "0.1.0"}
    assert entry_test_keys(entry) == {"connection": "success"}
    m = Measurement.from_raw(entry)
    assert m.test_keys == {"connection": "success", "failure": None}
    assert m.measurement_start_time == datetime(2015, 9, 3, 22, 41, 43, tzinfo=UTC)
    assert entry_test_keys({"test_name": "x", "data_format_version": "0.2.0", "foo": 1}) is None


def test_epoch_times() -> None:
    assert parse_time(0) is None and parse_time(True) is None
    assert parse_time(1532620222.0) == datetime(2018, 7, 26, 15, 50, 22, tzinfo=UTC)


def test_tor_list_targets_get_names() -> None:
    tk = {"targets": [{"target_address": "1.2.3.4:443", "failure": None}, {"failure": None}]}
    out = normalize_test_keys("tor", tk)
    assert list(out["targets"]) == ["1.2.3.4:443", "target-1"] and isinstance(tk["targets"], list)


def test_vanilla_tor_success_and_error() -> None:
    assert normalize_test_keys("vanilla_tor", {"success": True, "error": None})["failure"] is None
    assert normalize_test_keys("vanilla_tor", {"success": False, "error": "timeout-reached"})["failure"] == \
        "generic_timeout_error"
    today = {"success": False, "error": "timeout-reached", "failure": "generic_timeout_error"}
    assert normalize_test_keys("vanilla_tor", today) is today
