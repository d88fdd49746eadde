"""End to end on a store built by the real pipeline: `simulate` -> `ingest` -> `analyze` -> `serve`.

Chromium opens home, follows the detected incident to an evidence measurement, checks the chart, and
the report is produced from the same store.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from censorwatch.store.views import open_db
from censorwatch.web.app import create_app

REPO = Path(__file__).resolve().parents[2]
SCENARIO = """
name: web-e2e
start: 2024-02-10T00:00:00Z
days: 5
seed: 11
noise: 0.02
failure: 0.01
diurnal: 0.3
targets: [x.com, wikipedia.org]
countries:
  - cc: PK
    networks:
      - {asn: AS17557, rate: 2.0}
      - {asn: AS59257, rate: 1.5}
  - cc: IT
    networks:
      - {asn: AS30722, rate: 1.0}
blocks:
  - {cc: PK, target: x.com, method: tls.reset, start: 2024-02-12T10:00:00Z, end: null}
"""


def _cli(*args: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    r = subprocess.run([sys.executable, "-m", "censorwatch", *args], capture_output=True, text=True, env=env,
                       timeout=600, check=False)
    assert r.returncode == 0, (args, r.stdout[-1000:], r.stderr[-2000:])
    return r.stdout


@pytest.fixture(scope="module")
def pipeline_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("pipeline")
    (d / "scenario.yaml").write_text(SCENARIO)
    _cli("simulate", "--scenario", str(d / "scenario.yaml"), "--out", str(d / "m.jsonl.gz"))
    _cli("ingest", str(d / "m.jsonl.gz"), "--db", str(d / "p.duckdb"))
    _cli("analyze", "--db", str(d / "p.duckdb"))
    return d / "p.duckdb"


@pytest.mark.browser
def test_pipeline_incident_in_the_browser(pipeline_db: Path, tmp_path: Path) -> None:
    from live_server import CHROMIUM, CHROMIUM_ARGS, serve
    from playwright.sync_api import sync_playwright

    con = open_db(pipeline_db)
    incidents = con.execute("SELECT id FROM incidents WHERE cc = 'PK' AND target = 'x.com'").fetchall()
    assert incidents, "the pipeline detected no incident for the simulated block"
    try:
        with serve(create_app(con, db_path=pipeline_db)) as base, sync_playwright() as p:
            b: Any = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = b.new_page()
            page.goto(base + "/")
            link = page.locator("a.incident-link", has_text="x.com").first
            link.click()
            page.wait_for_url("**/incident/**")
            chart = page.locator("svg.evidence")
            assert int(chart.get_attribute("data-points") or 0) > 10
            assert chart.locator('rect[fill="#f0a500"], rect[fill="#c62828"]').count() > 0
            page.screenshot(path=str(tmp_path / "pipeline-incident.png"))
            page.locator("#evidence a.measurement-link").first.click()
            page.wait_for_url("**/measurement/**")
            assert page.locator("#verdict .badge").first.inner_text() in {"anomaly", "confirmed"}
            assert page.locator("#steps table").count() >= 1
            b.close()
    finally:
        con.close()


def test_pipeline_store_through_the_api(pipeline_db: Path) -> None:
    con = open_db(pipeline_db)
    try:
        with TestClient(create_app(con, db_path=pipeline_db), raise_server_exceptions=False) as c:
            home = c.get("/api/v1/home").json()
            pk = [i for i in home["active"] + home["recent"] if i["cc"] == "PK" and i["target"] == "x.com"]
            assert pk and pk[0]["start"] >= "2024-02-12T00:00:00Z"
            inc = c.get(f"/api/v1/incidents/{pk[0]['id']}").json()
            assert inc["evidence_count"] > 0 and sum(p["anomaly"] + p["confirmed"] for p in inc["series"]) > 0
            ev = c.get(f"/api/v1/incidents/{pk[0]['id']}/evidence?limit=5").json()["items"]
            assert ev and all(e["status"] in {"anomaly", "confirmed", "down", "failure"} for e in ev)
            country = c.get("/api/v1/countries/PK").json()
            assert "x.com" in country["shown_targets"]
            assert any(cell["status"] in {"anomaly", "confirmed"} for cell in country["cells"] if cell["domain"] == "x.com")
            for url in ("/", "/country/PK", "/target/x.com", f"/incident/{pk[0]['id']}", "/feeds/incidents.atom"):
                assert c.get(url).status_code == 200, url
            assert c.get(f"/incident/{pk[0]['id']}/report.md").status_code == 200
    finally:
        con.close()
