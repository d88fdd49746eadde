"""What a journalist sees: networks by name beside their numbers, platforms and VPN endpoints as people
know them, and a country view whose time axis fits its data; in real headless Chromium, in the API, the
reports, the Atom feed and the webhook payloads. The store is built by the real pipeline
(``names_fixture``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import names_fixture
import orjson
import pytest
from fastapi.testclient import TestClient
from live_server import CHROMIUM, CHROMIUM_ARGS, serve

from censorwatch.store.views import open_db
from censorwatch.web.app import create_app

PTCL, SEEN = "PTCL (AS17557)", f"{names_fixture.SEEN_NAME} ({names_fixture.SEEN_ASN})"
WG = "WireGuard 198.18.5.1:51820"


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, duckdb.DuckDBPyConnection]]:
    path = tmp_path_factory.mktemp("names") / "names.duckdb"
    names_fixture.build(path)
    con = open_db(path)
    yield path, con
    con.close()


@pytest.fixture(scope="module")
def client(db: tuple[Path, duckdb.DuckDBPyConnection]) -> Iterator[TestClient]:
    path, con = db
    with TestClient(create_app(con, db_path=path), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(scope="module")
def incident_id(db: tuple[Path, duckdb.DuckDBPyConnection]) -> str:
    row = db[1].execute("SELECT id FROM incidents WHERE target = 'x.com'").fetchone()
    assert row is not None, "the pipeline found no incident in the simulated day"
    return str(row[0])


# -- the API, reports, feed and webhooks ----------------------------------------------------------------
def test_api_puts_names_beside_the_numbers(client: TestClient, incident_id: str) -> None:
    inc = client.get(f"/api/v1/incidents/{incident_id}").json()
    assert dict(zip(inc["asns"], inc["network_names"], strict=True)) == {
        "AS17557": "PTCL", names_fixture.SEEN_ASN: names_fixture.SEEN_NAME}
    assert {n["probe_asn"]: n["network_name"] for n in inc["networks"]}["AS17557"] == "PTCL"
    assert inc["target_name"] == "x.com"
    country = client.get("/api/v1/countries/PK").json()
    assert {c["row"]: c["row_name"] for c in country["cells"]}[names_fixture.SEEN_ASN] == names_fixture.SEEN_NAME
    targets = {t["domain"]: t["target_name"] for t in country["targets"]}
    assert (targets["x"], targets["198.18.5.1"], targets["x.com"]) == ("X", WG, "x.com")
    items = client.get("/api/v1/measurements", params={"cc": "PK", "limit": 500}).json()["items"]
    named = {m["test_name"]: (m["target_name"], m["network_name"]) for m in items}
    assert named["platform"] == ("X", "PTCL") and named["wireguard"] == (WG, "PTCL")
    listed = client.get("/api/v1/incidents", params={"cc": "PK"}).json()["items"]
    assert listed[0]["network_names"] == inc["network_names"]


def test_reports_and_feed_name_the_networks(client: TestClient, incident_id: str) -> None:
    md = client.get(f"/incident/{incident_id}/report.md").text
    assert f"| Networks | {PTCL}, {SEEN} |" in md and f"| {PTCL} | " in md
    html = client.get(f"/incident/{incident_id}/report.html").text
    assert PTCL in html and SEEN in html
    atom = client.get("/feeds/incidents.atom?cc=PK").text
    assert f"on {PTCL}, {SEEN} since" in atom


def test_webhook_payload_names_the_networks(db: tuple[Path, duckdb.DuckDBPyConnection]) -> None:
    from censorwatch.pipeline import alerts
    from censorwatch.store import alerts as store_alerts

    con = db[1].cursor()
    store_alerts.add_webhook(con, "http://127.0.0.1:9/hook", None, None, secret="k")
    assert alerts.collect(con) >= 1
    body = orjson.loads(con.execute("SELECT payload FROM webhook_deliveries ORDER BY id LIMIT 1").fetchone()[0])
    assert body["incident"]["network_names"] == ["PTCL", names_fixture.SEEN_NAME]
    assert body["incident"]["target_name"] == "x.com"


# -- in the browser ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server(db: tuple[Path, duckdb.DuckDBPyConnection]) -> Iterator[str]:
    path, con = db
    with serve(create_app(con, db_path=path)) as url:
        yield url


@pytest.fixture(scope="module")
def page(server: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b.new_page()
        b.close()


@pytest.mark.browser
def test_country_view_is_drawn_by_the_hour_with_named_rows(server: str, page: Any) -> None:
    """A one-day incident in a country with one day of data: 24 hourly columns with hour labels, not
    two cells of a 14-day strip; rows are networks by name; targets by the names people use."""
    page.goto(server + "/country/PK")
    heat = page.locator("svg.heatmap").first
    assert heat.get_attribute("data-bucket") == "hour"
    assert heat.get_attribute("data-columns") == "24"
    axis = heat.locator("text").all_text_contents()
    assert "02-17 00:00" in axis and "06:00" in axis and "12:00" in axis and "18:00" in axis
    assert PTCL in axis and SEEN in axis and "AS17557" not in axis
    assert "per hour" in page.locator("p.meta").first.inner_text()
    headings = page.locator("#heatmaps h3").all_inner_texts()
    assert "X" in headings and WG in headings and "x" not in headings and "198.18.5.1" not in headings
    assert PTCL in page.locator("#incidents").inner_text()


@pytest.mark.browser
def test_incident_home_and_search_pages_show_names(server: str, page: Any, incident_id: str) -> None:
    page.goto(server + f"/incident/{incident_id}")
    assert page.locator(".facts").inner_text().count(PTCL) == 1
    assert SEEN in page.locator(".facts").inner_text()
    rows = page.locator("#networks td a").all_inner_texts()
    assert PTCL in rows and SEEN in rows
    assert PTCL in page.locator("#evidence").inner_text()
    page.goto(server + "/")
    assert f"{PTCL}, {SEEN}" in " ".join(page.locator("#active, #recent").all_inner_texts())
    page.goto(server + "/search?cc=PK&asn=AS17557&since=2024-02-17T11:00:00Z&until=2024-02-17T13:00:00Z")
    measured = page.locator("#measurements").inner_text()
    assert "X" in measured.split() and WG in measured and PTCL in measured
    page.locator("#measurements a.measurement-link").first.click()
    page.wait_for_url("**/measurement/**")
    assert PTCL in page.locator("#envelope").inner_text()
