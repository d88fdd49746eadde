"""End to end in real headless Chromium: navigation, charts, screenshot, and hostile measurements."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
import web_fixture_db as fixture_db
from live_server import CHROMIUM, CHROMIUM_ARGS, serve

from censorwatch.web.app import create_app

pytestmark = pytest.mark.browser


@pytest.fixture()
def server(store: tuple[Path, duckdb.DuckDBPyConnection]) -> Iterator[str]:
    path, con = store
    with serve(create_app(con, db_path=path)) as url:
        yield url


@pytest.fixture()
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def test_follow_an_incident_to_its_evidence(server: str, browser: Any, tmp_path: Path) -> None:
    page = browser.new_page()
    page.goto(server + "/")
    assert page.locator("#active a.incident-link").count() == 1
    assert int(page.locator("svg.strip").get_attribute("data-points") or 0) == 4
    page.locator("#active a.incident-link").first.click()
    page.wait_for_url(f"**/incident/{fixture_db.INCIDENT_PK}")
    chart = page.locator("svg.evidence")
    assert chart.is_visible() and int(chart.get_attribute("data-points") or 0) > 10
    assert chart.locator("rect").count() > 20 and chart.bounding_box()["height"] > 100
    shot = tmp_path / "incident.png"
    page.screenshot(path=str(shot), full_page=False)
    assert shot.stat().st_size > 10_000
    page.locator("#evidence a.measurement-link").first.click()
    page.wait_for_url("**/measurement/**")
    assert page.locator("#verdict .badge").first.inner_text() in {"anomaly", "confirmed"}
    assert page.locator("#raw pre").inner_text().lstrip().startswith("{")
    page.goto(server + "/country/PK")
    assert page.locator("svg.heatmap").count() == 2
    assert page.locator('svg.heatmap rect[fill="#c62828"]').count() > 0


HOOK = """
window.__dialogs = 0;
for (const f of ['alert', 'confirm', 'prompt', 'print', 'open']) {
  window[f] = function () { window.__dialogs += 1; };
}
document.addEventListener('securitypolicyviolation', (e) => { window.__csp = (window.__csp || 0) + 1; });
"""


def test_hostile_measurement_never_executes(server: str, browser: Any) -> None:
    ctx = browser.new_context()
    ctx.add_init_script(HOOK)
    dialogs: list[str] = []
    console: list[str] = []
    page = ctx.new_page()
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("console", lambda m: console.append(m.text))
    uid, inc = fixture_db.HOSTILE_UID, fixture_db.INCIDENT_PK
    urls = [f"/measurement/{uid}", f"/incident/{inc}", "/", "/country/PK", "/target/x.com",
            "/search?cc=PK&status=confirmed", f"/api/v1/measurements/{uid}", f"/incident/{inc}/report.html"]
    for u in urls:
        page.goto(server + u) if not u.endswith("report.html") else None
        if u.endswith("report.html"):  # served as a download: render it the way a user opening it would
            body = page.request.get(server + u)
            assert "<script" not in body.text().lower()
            page.set_content(body.text())
        page.wait_for_timeout(150)
        state = page.evaluate("() => [window.__xss === undefined, window.__dialogs || 0]")
        assert state == [True, 0], (u, state)
        assert page.locator("script").count() == 0, u
        for a in page.locator("a[href]").all():
            assert not (a.get_attribute("href") or "").strip().lower().startswith("javascript:"), u
        assert page.locator("img[onerror], [onload], [onerror]").count() == 0, u
    page.goto(server + f"/measurement/{uid}")
    text = page.locator("pre.body").first.inner_text()
    assert "<script>window.__xss = 1" in text and 'onerror="window.__xss = 2' in text  # shown as text
    assert "href=\"javascript:" in text
    # the raw download is JSON, not a page
    assert "application/json" in page.request.get(server + f"/api/v1/measurements/{uid}/raw").headers["content-type"]
    assert dialogs == [] and not [c for c in console if "xss" in c.lower()]


def test_ingested_hostile_blockpage_never_executes(samples: Path, browser: Any, tmp_path: Path) -> None:
    """The real pipeline: a blockpage carrying script, onerror and javascript: is ingested and analysed."""
    import json
    import os
    import subprocess
    import sys

    from censorwatch.store.views import open_db

    m = json.loads((samples / "fastpath" / "report1blocked.json").read_text())
    m["measurement_uid"] = "20240301000000.000001_PK_webconnectivity_hostilecafe0001"
    m["probe_cc"] = "PK"
    m["test_keys"]["requests"][0]["response"]["body"] = fixture_db.XSS_BODY
    m["test_keys"]["requests"][0]["response"]["headers"] = {"Content-Type": "text/html", "X-Evil": "<script>x</script>"}
    m["input"] = "javascript:window.__xss=5//http://x.com/"
    src = tmp_path / "hostile.json"
    src.write_text(json.dumps(m))
    db = tmp_path / "ingested.duckdb"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    for args in (["ingest", str(src), "--db", str(db)], ["analyze", "--db", str(db)]):
        r = subprocess.run([sys.executable, "-m", "censorwatch", *args], capture_output=True, text=True,
                           env=env, timeout=300, check=False)
        assert r.returncode == 0, r.stderr[-2000:]
    con = open_db(db)
    uid = con.execute("SELECT measurement_uid FROM measurements").fetchone()[0]  # type: ignore[index]
    try:
        with serve(create_app(con, db_path=db)) as base:
            ctx = browser.new_context()
            ctx.add_init_script(HOOK)
            page = ctx.new_page()
            dialogs: list[str] = []
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            for u in (f"/measurement/{uid}", "/search?cc=PK", "/", f"/api/v1/measurements/{uid}"):
                page.goto(base + u)
                page.wait_for_timeout(150)
                assert page.evaluate("() => [window.__xss === undefined, window.__dialogs || 0]") == [True, 0], u
                for a in page.locator("a[href]").all():
                    assert not (a.get_attribute("href") or "").strip().lower().startswith("javascript:"), u
            page.goto(base + f"/measurement/{uid}")
            assert "<script>window.__xss = 1" in page.locator("pre.body").first.inner_text()
            assert page.locator("script").count() == 0 and dialogs == []
    finally:
        con.close()
