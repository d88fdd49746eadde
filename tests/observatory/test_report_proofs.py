"""Measurements that came through the collector: the incident report carries the signed tree head and
an inclusion proof per evidence measurement, and ``censorwatch verify report`` checks them offline."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import httpx

from observatory.helpers import TOKEN, ObservatoryProcess, cli, wait_for
from observatory.test_cli_while_running import SCENARIO


def test_report_proofs_verify_offline_and_tampering_fails(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(SCENARIO)
    sim = tmp_path / "m.jsonl.gz"
    assert cli("simulate", "--scenario", str(tmp_path / "s.yaml"), "--out", str(sim)).returncode == 0
    lines = gzip.decompress(sim.read_bytes()).splitlines()
    mine = tmp_path / "mine.jsonl"
    mine.write_bytes(b"\n".join(lines) + b"\n")
    obs = ObservatoryProcess(tmp_path / "cw.duckdb", "--analyze-every", "60", "--collector-workers", "1").start()
    try:
        with httpx.Client(base_url=obs.collector, timeout=30) as c:
            for line in lines:
                assert c.post("/api/v1/measurements", content=line).status_code == 201
            (tmp_path / "key.json").write_bytes(c.get("/api/v1/log/key").content)
        wait_for(lambda: obs.metrics()["stored_leaves"] == len(lines), 60, "every leaf stored")
        assert cli("analyze", "--db", str(obs.db), token=TOKEN).returncode == 0
        incs = json.loads(cli("incidents", "--db", str(obs.db), "--format", "json").stdout)
        (x,) = [i for i in incs if i["target"] == "x.com"]
        report = tmp_path / "r.json"
        assert cli("report", x["id"], "--format", "json", "--out", str(report), "--db", str(obs.db)).returncode == 0
    finally:
        obs.stop()
        obs.kill()
    doc = json.loads(report.read_text())
    assert doc["log"]["sth"]["tree_size"] == len(lines)
    assert {p["measurement_uid"] for p in doc["log"]["proofs"]} == {e["measurement_uid"] for e in doc["evidence"]}
    res = cli("verify", "report", str(report), "--key", str(tmp_path / "key.json"), "--measurements", str(mine))
    assert res.returncode == 0 and "verified" in res.stdout, res.stdout + res.stderr
    assert f"{len(doc['evidence'])} evidence measurements are in the signed log" in res.stdout
    # measurements other than the logged ones do not match the proven leaves
    others = tmp_path / "others.jsonl"
    others.write_bytes(b"\n".join(x for x in lines if b"x.com" not in x) + b"\n")
    res = cli("verify", "report", str(report), "--key", str(tmp_path / "key.json"), "--measurements", str(others))
    assert res.returncode == 1 and "are not in others.jsonl" in res.stdout, res.stdout
    # a proof altered after the fact fails
    p0 = doc["log"]["proofs"][0]
    p0["audit_path"][0] = ("0" if p0["audit_path"][0][0] != "0" else "1") + p0["audit_path"][0][1:]
    report.write_text(json.dumps(doc))
    res = cli("verify", "report", str(report), "--key", str(tmp_path / "key.json"))
    assert res.returncode == 1 and "do not lead to the signed root" in res.stdout, res.stdout
