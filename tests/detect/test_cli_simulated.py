"""End to end through the CLI: simulate -> ingest -> analyze -> events/incidents, scored against truth."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from censorwatch.pipeline.simulate.score import score

REPO = Path(__file__).resolve().parents[2]

SCENARIO: dict[str, Any] = {
    "name": "cli-week", "start": "2024-02-10T00:00:00Z", "days": 6, "seed": 11, "noise": 0.04,
    "failure": 0.02, "diurnal": 0.4,
    "targets": ["x.com", "dawn.com", "example.org", "wikipedia.org"],
    "countries": [
        {"cc": "PK", "networks": [{"asn": "AS17557", "rate": 1.5},
                                  {"asn": "AS59257", "rate": 1.0, "bursty": True}]},
        {"cc": "IT", "networks": [{"asn": "AS30722", "rate": 1.2}]},
    ],
    "blocks": [
        {"cc": "PK", "target": "x.com", "method": "tls.reset", "start": "2024-02-11T10:20:00Z", "end": None,
         "restorations": [["2024-02-12T20:00:00Z", "2024-02-13T12:00:00Z"]]},
        {"cc": "PK", "target": "dawn.com", "method": "dns.nxdomain", "asns": ["AS17557"],
         "start": "2024-02-13T15:40:00Z", "end": "2024-02-15T03:00:00Z"},
    ],
    "outages": [{"cc": "PK", "asn": "AS59257", "start": "2024-02-14T04:00:00Z", "end": "2024-02-14T16:00:00Z"}],
    "site_outages": [{"target": "example.org", "start": "2024-02-12T06:00:00Z", "end": "2024-02-12T18:00:00Z"}],
}


def cw(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    p = subprocess.run([sys.executable, "-m", "censorwatch", *args], env=env, capture_output=True, text=True,
                       timeout=600, check=False)
    if check:
        assert p.returncode == 0, p.stderr
    return p


@pytest.fixture(scope="module")
def analysed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    d = tmp_path_factory.mktemp("cli")
    (d / "s.yaml").write_text(yaml.safe_dump(SCENARIO), encoding="utf-8")
    cw("simulate", "--scenario", str(d / "s.yaml"), "--out", str(d / "m.jsonl.gz"))
    truth = orjson.loads((d / "m.truth.json").read_bytes())
    db = d / "db.duckdb"
    cw("ingest", str(d / "m.jsonl.gz"), "--db", str(db))
    cw("analyze", "--db", str(db))
    return db, truth


def _events(db: Path, *extra: str) -> list[dict[str, Any]]:
    return orjson.loads(cw("events", "--db", str(db), "--format", "json", *extra).stdout)


def _t(s: str) -> datetime:
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def test_every_onset_and_outage_is_found_with_no_false_events(analysed: tuple[Path, dict[str, Any]]) -> None:
    db, truth = analysed
    evs = _events(db)
    s = score(truth, evs)
    assert s["found"] == s["truth_blocks"] == 5, s["missed"]
    assert s["false_events"] == 0, s["false_event_list"]
    assert s["events_in_uncensored_countries"] == 0
    assert s["outages_found"] == 1 and s["false_outages"] == 0
    assert s["median_onset_error_h"] is not None and abs(s["median_onset_error_h"]) <= 1.5
    # ends: the dawn.com block and the x.com restoration end within [-2 h, +6 h]
    assert s["median_end_error_h"] is not None and -2 <= s["median_end_error_h"] <= 6
    # the global site outage of example.org is no blocking event anywhere
    assert not [e for e in evs if e["kind"] == "blocking" and e["target"] == "example.org"]
    for e in evs:
        assert set(e) >= {"kind", "cc", "asn", "asns", "target", "start", "end", "method", "confidence",
                          "measurements", "evidence"}
        assert e["start"].endswith("Z") and (e["end"] is None or e["end"].endswith("Z"))
    ongoing = [e for e in evs if e["kind"] == "blocking" and e["target"] == "x.com" and e["end"] is None]
    assert ongoing and all(e["method"] == "tls.reset" for e in ongoing)
    outage = next(e for e in evs if e["kind"] == "outage")
    assert outage["target"] is None and outage["asn"] == "AS59257"
    assert abs((_t(outage["start"]) - _t("2024-02-14T04:00:00Z")) / timedelta(hours=1)) <= 3


def test_filters_cusum_and_incidents(analysed: tuple[Path, dict[str, Any]]) -> None:
    db, _ = analysed
    assert {e["cc"] for e in _events(db, "--cc", "it")} <= {"IT"}
    late = _events(db, "--since", "2024-02-15")
    assert late and all(e["end"] is None or e["end"] >= "2024-02-15" for e in late)
    cusum = _events(db, "--detector", "cusum")
    assert cusum and {e["detector"] for e in cusum} == {"cusum"}
    # the baseline fires hours after ours on the same onsets
    ours = [e for e in _events(db, "--kind", "blocking") if e["asn"]]
    lags = []
    for c in cusum:
        before = [_t(e["start"]) for e in ours if (e["asn"], e["target"]) == (c["asn"], c["target"])
                  and _t(e["start"]) <= _t(c["start"])]
        assert before, c
        lags.append((_t(c["start"]) - max(before)) / timedelta(hours=1))
    assert min(lags) >= 0 and sorted(lags)[len(lags) // 2] >= 2
    incs = orjson.loads(cw("incidents", "--db", str(db), "--format", "json").stdout)
    x = [i for i in incs if i["target"] == "x.com"]
    assert len(x) == 2 and x[0]["end"] is not None and x[1]["end"] is None
    assert x[0]["asns"] == ["AS17557", "AS59257"]
    assert x[0]["confidence"] == "confirmed" and x[0]["confidence_rule"] == "inc.blocking.networks_agree"
    assert all(i["confidence_rule"] and i["confidence_reason"] for i in incs)
    assert [i["kind"] for i in incs if i["kind"] == "outage"] == ["outage"]
    text = cw("incidents", "--db", str(db)).stdout
    assert "x.com" in text


def test_reanalysing_changes_nothing(analysed: tuple[Path, dict[str, Any]]) -> None:
    db, _ = analysed
    before = _events(db, "--detector", "all")
    out = cw("analyze", "--db", str(db)).stdout
    assert "changed_hours=0" in out.replace(",", "")
    assert _events(db, "--detector", "all") == before


def test_bad_options_and_scenarios_fail_clearly(tmp_path: Path) -> None:
    p = cw("events", "--db", str(tmp_path / "none.duckdb"), "--since", "yesterday", check=False)
    assert p.returncode == 2 and "--since" in p.stderr
    for cmd in ("events", "incidents"):  # in range as written, out of range once in UTC: no traceback
        p = cw(cmd, "--db", str(tmp_path / "none.duckdb"), "--since", "0001-01-01T00:00:00+01:00", check=False)
        assert p.returncode == 2 and "--since" in p.stderr and "1-9999" in p.stderr and "Traceback" not in p.stderr
    p = cw("events", "--db", str(tmp_path / "none.duckdb"), "--format", "json", check=False)
    assert p.returncode == 3 and "none.duckdb" in p.stderr
    bad = dict(SCENARIO, blocks=[dict(SCENARIO["blocks"][0], asns=["AS1"])])
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(bad), encoding="utf-8")
    p = cw("simulate", "--scenario", str(tmp_path / "bad.yaml"), "--out", str(tmp_path / "x.jsonl.gz"), check=False)
    assert p.returncode == 2 and "blocks[0].asns" in p.stderr and "AS1" in p.stderr
    (tmp_path / "broken.yaml").write_text("name: [unclosed\n", encoding="utf-8")
    p = cw("simulate", "--scenario", str(tmp_path / "broken.yaml"), "--out", str(tmp_path / "x.jsonl.gz"),
           check=False)
    assert p.returncode == 2 and "broken.yaml:" in p.stderr
