"""Speed tests and diagnostics (status ``measured``) on the pages and in the API after ingest + analyze."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient

from censorwatch.store.views import open_db
from censorwatch.web.app import create_app

REPO = Path(__file__).resolve().parents[2]
NDT = {"failure": None, "protocol": 7, "server": {"hostname": "ndt.test.example"},
       "summary": {"download": 31250.0, "upload": 8000.0, "ping": 24.0, "min_rtt": 24.0}}


def _cli(*args: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    r = subprocess.run([sys.executable, "-m", "censorwatch", *args], capture_output=True, text=True, env=env,
                       timeout=300, check=False)
    assert r.returncode == 0, r.stderr[-2000:]


def test_measured_verdicts_are_shown_and_filterable(tmp_path: Path) -> None:
    lines = [{"test_name": "ndt", "probe_cc": "PK", "probe_asn": "AS17557", "report_id": f"r{i}", "input": None,
              "measurement_start_time": f"2024-02-17 10:0{i}:00", "test_keys": NDT} for i in range(3)]
    src = tmp_path / "ndt.jsonl"
    src.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    db = tmp_path / "m.duckdb"
    _cli("ingest", str(src), "--db", str(db))
    _cli("analyze", "--db", str(db))
    con = open_db(db)
    try:
        with TestClient(create_app(con, db_path=db), raise_server_exceptions=False) as c:
            items = c.get("/api/v1/measurements?status=measured").json()["items"]
            assert len(items) == 3 and {i["status"] for i in items} == {"measured"}
            uid = items[0]["measurement_uid"]
            detail = c.get(f"/api/v1/measurements/{uid}").json()["verdict"]
            assert (detail["status"], detail["rule"], detail["details"]["download_kbps"]) == ("measured", "ndt.measured",
                                                                                            31250.0)
            page = c.get(f"/measurement/{uid}").text
            assert "s-measured" in page and "download_kbps 31250.0" in page
            search = c.get("/search?status=measured").text
            assert "<option selected>measured</option>" in search
            bad = c.get("/api/v1/measurements?status=fast")
            assert bad.status_code == 400 and "measured" in bad.text
            home = c.get("/api/v1/home").json()
            row = next(r for r in home["countries"] if r["cc"] == "PK")
            assert (row["total"], row["measured"], row["ok"], row["anomaly"]) == (3, 3, 0, 0)
            agg = c.get("/api/v1/aggregates").json()["items"]
            assert agg and all(a["measured"] == a["total"] for a in agg)
    finally:
        con.close()
