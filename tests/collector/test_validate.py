"""What the collector accepts and refuses (pure checks; no server)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from censorwatch.collector.canonical import canonical_bytes, decode
from censorwatch.collector.validate import Rejection, check
from censorwatch.model.measurement import Measurement
from censorwatch.store.uid import stable_uid
from collector.helpers import make_measurement


def _objects(path: Path) -> list[dict]:
    data = path.read_bytes()
    try:
        return [orjson.loads(data)]
    except orjson.JSONDecodeError:
        return [orjson.loads(line) for line in data.splitlines() if line.strip()]


def test_every_real_ooni_sample_is_accepted(samples: Path) -> None:
    files = sorted(p for p in samples.rglob("*.json") if p.is_file())
    assert len(files) >= 40
    for f in files:
        for obj in _objects(f):
            acc = check(orjson.dumps(obj))
            assert acc.canonical == canonical_bytes(decode(acc.canonical)), f
            assert orjson.loads(acc.canonical) == obj, f
            # the collector's uid is the one the store gives the same measurement read from a file
            assert acc.measurement_uid == stable_uid(Measurement.from_raw(orjson.loads(acc.canonical))), f


def _reject(body: bytes) -> Rejection:
    with pytest.raises(Rejection) as info:
        check(body)
    rej = info.value
    assert 400 <= rej.status < 500
    doc = orjson.loads(rej.body())
    assert doc["error"] == rej.code and doc["reason"]
    return rej


@pytest.mark.parametrize(
    ("mutate", "code", "location"),
    [
        (lambda m: m.pop("test_name"), "missing_key", "$.test_name"),
        (lambda m: m.update(test_name=7), "wrong_type", "$.test_name"),
        (lambda m: m.pop("measurement_start_time") and m.pop("test_start_time"), "missing_key",
         "$.measurement_start_time"),
        (lambda m: m.update(measurement_start_time="yesterday"), "bad_value", "$.measurement_start_time"),
        (lambda m: m.update(measurement_start_time="2999-01-01 00:00:00"), "bad_value", "$.measurement_start_time"),
        (lambda m: m.pop("test_keys"), "missing_key", "$.test_keys"),
        (lambda m: m.update(test_keys=[1, 2]), "wrong_type", "$.test_keys"),
        (lambda m: m.update(probe_cc=5), "wrong_type", "$.probe_cc"),
        (lambda m: m.update(probe_cc="Pakistan"), "bad_value", "$.probe_cc"),
        (lambda m: m.update(probe_asn=[64500]), "wrong_type", "$.probe_asn"),
        (lambda m: m.update(input={"url": "x"}), "wrong_type", "$.input"),
        (lambda m: m.update(input=["a", 3]), "wrong_type", "$.input[1]"),
        (lambda m: m.update(input=None), "missing_input", "$.input"),
        (lambda m: m.update(test_name="brand_new_test", input=None), "unknown_test", "$.test_name"),
        (lambda m: m.update(measurement_uid="../../etc/passwd"), "bad_value", "$.measurement_uid"),
        (lambda m: m.update(annotations="x"), "wrong_type", "$.annotations"),
        (lambda m: m.update(report_id=12), "wrong_type", "$.report_id"),
    ],
)
def test_envelope_errors_name_the_key(mutate, code: str, location: str) -> None:
    m = make_measurement(1)
    mutate(m)
    rej = _reject(orjson.dumps(m))
    assert (rej.code, rej.location) == (code, location)
    assert rej.status == 422


def test_unknown_test_with_input_is_accepted() -> None:
    m = make_measurement(2)
    m["test_name"] = "brand_new_test"
    acc = check(orjson.dumps(m))
    assert "_brandnewtest_" in acc.measurement_uid and orjson.loads(acc.canonical)["test_name"] == "brand_new_test"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"", "empty_body"),
        (b"   \n", "empty_body"),
        (b"{", "invalid_json"),
        (b"\xff\xfe{}", "invalid_json"),
        (b'{"a": NaN}', "invalid_json"),
        (b"[1, 2]", "wrong_type"),
        (b'"hello"', "wrong_type"),
        (b"[" * 5000 + b"]" * 5000, "invalid_json"),
    ],
)
def test_malformed_bodies(body: bytes, code: str) -> None:
    assert _reject(body).code == code


def test_numbers_that_cannot_be_stored_exactly_are_refused() -> None:
    m = make_measurement(3)
    raw = orjson.dumps(m).replace(b'"blocking":false', b'"blocking":123456789012345678901234567890')
    assert _reject(raw).code == "not_canonical"
    ok = orjson.dumps(m).replace(b'"blocking":false', b'"blocking":18446744073709551615')
    assert orjson.loads(check(ok).canonical)["test_keys"]["blocking"] == 18446744073709551615


def test_nesting_beyond_what_can_be_canonicalised_is_refused() -> None:
    # 400 levels: orjson decodes it (limit 1024) but cannot encode it (limit 254)
    assert _reject(_deep_json(make_measurement(4))).code == "not_canonical"


def _deep_json(m: dict) -> bytes:
    marker = b'"__deep__"'
    m["test_keys"]["deep"] = "__deep__"
    return orjson.dumps(m).replace(marker, b"[" * 400 + b'"x"' + b"]" * 400)


def test_uid_is_stable_and_derived_from_content() -> None:
    a = check(orjson.dumps(make_measurement(5)))
    b = check(orjson.dumps(make_measurement(5), option=orjson.OPT_INDENT_2))
    c = check(orjson.dumps(make_measurement(6)))
    assert a.measurement_uid == b.measurement_uid and a.leaf_hash == b.leaf_hash
    assert a.measurement_uid != c.measurement_uid
    assert a.measurement_uid.startswith("20260301100000.") and "_PK_webconnectivity_" in a.measurement_uid
