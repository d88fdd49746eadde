"""``analyze``'s verdicts stage: only missing or stale verdicts are re-derived from the stored raw bytes.

Staleness is per family (analysis/registry.py): a second ``analyze`` rewrites nothing, a family whose
version changes is re-judged alone, and a new fingerprint set re-judges only the families that read
fingerprints.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from censorwatch.analysis import registry as reg_mod
from censorwatch.analysis.fingerprints import builtin_fingerprints, load_fingerprints
from censorwatch.analysis.registry import Registry, registry
from censorwatch.pipeline import run_analysis, verdicts
from censorwatch.pipeline.ingest import ingest
from censorwatch.store.db import Store
from censorwatch.store.reader import read_paths


def _ours(i: int, test: str, tk: dict[str, Any]) -> dict[str, Any]:
    return {"test_name": test, "input": tk.get("endpoint") or tk.get("target") or None, "test_keys": tk,
            "measurement_start_time": f"2024-02-17 10:00:{i:02d}", "probe_cc": "PK", "probe_asn": "AS17557",
            "report_id": f"r{i}", "annotations": {}}


#: censorwatch's own measurement shapes (the families that stamped their own versions before)
OURS = [
    _ours(1, "wireguard", {"protocol": "wireguard", "endpoint": "198.51.100.1:51820",
                           "handshake": {"success": True, "failure": None}}),
    _ours(2, "openvpn", {"protocol": "openvpn", "endpoint": "198.51.100.2:1194",
                         "handshake": {"success": False, "failure": "connection_refused"}}),
    _ours(3, "throughput", {"target": "https://video.example/", "samples": []}),
    _ours(4, "platform", {"platform": "x", "endpoints": [
        {"id": "web", "part": "web", "kind": "tcp", "target": "x.com:443",
         "test_keys": {"tcp_connect": [{"ip": "198.51.100.3", "port": 443,
                                        "status": {"success": True, "failure": None}}]}}]}),
    _ours(5, "whatsapp", {"platform": "whatsapp", "endpoints": []}),
]


@pytest.fixture
def store(samples: Path, tmp_path: Path) -> Store:
    ours = tmp_path / "ours.jsonl"
    ours.write_text("".join(json.dumps(m) + "\n" for m in OURS))
    s = Store(tmp_path / "db.duckdb")
    ingest(s, read_paths([samples, ours]))
    return s


def _versions(store: Store) -> dict[str, int]:
    return dict(store.con.execute("SELECT rules_version, count(*) FROM verdicts GROUP BY 1").fetchall())


def _stamps(store: Store) -> dict[str, str]:
    return dict(store.con.execute("SELECT measurement_uid, rules_version FROM verdicts").fetchall())


def test_every_verdict_carries_its_familys_stamp(store: Store) -> None:
    reg = registry()
    rows = store.con.execute("SELECT test_name, rules_version, fingerprints FROM verdicts").fetchall()
    assert {r[1] for r in rows} <= set(reg.stamps)
    fp_stamps = set(reg.fingerprint_stamps)
    for test, stamp, fps in rows:
        assert (fps is not None) == (stamp in fp_stamps), (test, stamp, fps)
    ours = {test: stamp for test, stamp, _ in rows if test in ("wireguard", "throughput", "platform")}
    assert ours == {"wireguard": "vpn-3", "throughput": "throughput-2", "platform": "platform-2"}


def test_a_second_analyze_rewrites_nothing(store: Store) -> None:
    before = store.con.execute("SELECT * FROM verdicts ORDER BY measurement_uid").fetchall()
    for _ in range(2):
        res = run_analysis(store)["verdicts"]
        assert (res["stale"], res["classified"], res["errors"]) == (0, 0, 0)
    assert store.con.execute("SELECT * FROM verdicts ORDER BY measurement_uid").fetchall() == before


def test_old_and_missing_verdicts_are_reclassified(store: Store) -> None:
    n = store.counts()["measurements"]
    before = dict(store.con.execute("SELECT measurement_uid, status FROM verdicts").fetchall())
    stamps = _stamps(store)
    store.con.execute(
        "UPDATE verdicts SET rules_version = '0-old', status = 'failure' WHERE test_name = 'web_connectivity'"
    ).fetchall()
    store.con.execute("DELETE FROM verdicts WHERE test_name = 'tor'").fetchall()
    old = _versions(store)["0-old"]
    missing = n - sum(_versions(store).values())
    assert old > 10 and missing == 2
    res = run_analysis(store)["verdicts"]
    assert (res["stale"], res["classified"], res["errors"]) == (old + missing, old + missing, 0)
    assert _stamps(store) == stamps
    # re-derived from the raw bytes: the same verdicts as at ingest time
    assert dict(store.con.execute("SELECT measurement_uid, status FROM verdicts").fetchall()) == before
    assert run_analysis(store)["verdicts"]["classified"] == 0


@pytest.mark.parametrize("family", ["web_connectivity", "vpn", "bootstrap"])
def test_a_new_family_version_rejudges_that_family_alone(store: Store, monkeypatch: pytest.MonkeyPatch,
                                                         family: str) -> None:
    reg = registry()
    bumped = [dataclasses.replace(f, version=f.version + "+next") if f.name == family else f for f in reg.families]
    monkeypatch.setattr(reg_mod, "_registry", Registry(bumped))
    old = _stamps(store)
    theirs = {uid for uid, stamp in old.items() if stamp.startswith(family + "-")}
    assert theirs
    done: list[tuple[str, int, int]] = []
    res = verdicts.run(store, batch_size=7, on_progress=lambda *a: done.append(a))
    assert res["stale"] == res["classified"] == len(theirs)
    assert done[0] == ("verdicts", 0, len(theirs)) and done[-1] == ("verdicts", len(theirs), len(theirs))
    new = _stamps(store)
    assert {uid for uid in new if new[uid] != old[uid]} == theirs
    assert all(new[uid].endswith("+next") for uid in theirs)
    assert verdicts.run(store)["classified"] == 0


def test_a_new_fingerprint_set_rejudges_only_the_families_that_read_fingerprints(
    store: Store, shared: Path
) -> None:
    readers = set(registry().fingerprint_stamps)
    rows = store.con.execute("SELECT rules_version FROM verdicts").fetchall()
    expected = sum(1 for (stamp,) in rows if stamp in readers)
    assert 0 < expected < len(rows)
    full = load_fingerprints(shared / "data" / "fingerprints")
    res = verdicts.run(store, fingerprints=full)
    assert res["stale"] == res["classified"] == expected
    assert verdicts.run(store, fingerprints=full)["classified"] == 0
    # back to the built-in set: stale again, the same ones
    assert verdicts.run(store, fingerprints=builtin_fingerprints())["classified"] == expected


def test_unknown_engine_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="unknown engine"):
        run_analysis(store, "hadoop")
