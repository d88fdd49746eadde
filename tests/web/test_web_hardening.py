"""Dashboard and API over a store full of hostile strings: out-of-range dates and bad values are a 400
with a reason on every route, every response (500s included) carries the security headers, and text
from measurements is shown neutralised: bidi controls visible, spreadsheet formulas inert, feed links
never taken from the Host header. The JSON API returns the data as stored."""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from censorwatch.model.display import BIDI_CONTROLS
from censorwatch.store.views import open_db
from censorwatch.web import api, feeds, pages
from censorwatch.web.app import create_app
from fuzz import hostile_store

SECURITY = ("content-security-policy", "x-content-type-options", "referrer-policy", "x-frame-options")
OUT_OF_RANGE = "0001-01-01T00:00:00+01:00"


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with hostile_store.serve(tmp_path_factory.mktemp("hostile-web") / "h.duckdb") as c:
        yield c


def get_routes() -> list[tuple[str, list[str]]]:
    """Every GET route of the dashboard, API and feeds: (path with its parameters filled, query names)."""
    fill = {"cc": "PK", "domain": "x.com", "incident_id": hostile_store.fixture_db.INCIDENT_PK,
            "uid": hostile_store.fixture_db.HOSTILE_UID, "what": "verdicts", "fmt": "csv"}
    out = []
    for router in (api.router, pages.router, feeds.router):
        for r in router.routes:
            if "GET" not in r.methods:  # type: ignore[attr-defined]
                continue
            path = r.path  # type: ignore[attr-defined]
            for name, value in fill.items():
                path = path.replace("{" + name + "}", "html" if name == "fmt" and "report" in path else value)
            out.append((path, [p.name for p in r.dependant.query_params]))  # type: ignore[attr-defined]
    return out


def assert_headers(r: object, where: str) -> None:
    headers = r.headers  # type: ignore[attr-defined]
    missing = [h for h in SECURITY if h not in headers]
    assert not missing, f"{where}: no {missing}"


@pytest.mark.parametrize("path,query", get_routes())
def test_out_of_range_dates_are_a_400_with_a_reason(hostile: TestClient, path: str, query: list[str]) -> None:
    for name in ("since", "until"):
        r = hostile.get(path, params={name: OUT_OF_RANGE})
        assert_headers(r, f"{path}?{name}")
        if name in query:
            assert r.status_code == 400, (path, r.status_code, r.text[:300])
            assert name in r.text and "1-9999" in r.text
        else:
            assert r.status_code < 500, (path, r.text[:300])


@pytest.mark.parametrize("param,value", [
    ("asn", "4294967296"), ("asn", "AS99999999999"), ("target", "javascript:alert(1)"), ("target", "data:text/html,x"),
    ("target", "ftp://x.com/"), ("target", "a..b"), ("target", "x.com\u202egoogle"), ("cc", "ÄÖ"),
    ("cursor", "WyIwMDAxLTAxLTAxVDAwOjAwOjAwKzAxOjAwIiwieCJd"),  # a cursor holding year 1 at +01:00
])
def test_bad_values_are_a_400(hostile: TestClient, param: str, value: str) -> None:
    for path, query in get_routes():
        if param not in query:
            continue
        r = hostile.get(path, params={param: value})
        assert r.status_code == 400, (path, param, value, r.status_code, r.text[:200])
        assert_headers(r, path)


def test_a_500_carries_the_security_headers(hostile: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_a: object, **_k: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(api.views, "incidents", broken)
    r = hostile.get("/api/v1/incidents")
    assert r.status_code == 500 and r.json()["detail"]
    assert_headers(r, "500")


def _no_raw_bidi(text: str, where: str) -> None:
    raw = sorted(f"U+{ord(c):04X}" for c in set(text) if c in BIDI_CONTROLS)
    assert not raw, f"{where} shows raw bidi controls {raw}"


def test_pages_reports_feed_and_csv_show_bidi_controls_visibly(hostile: TestClient) -> None:
    inc = hostile_store.INCIDENT
    shown = {
        "incident page": hostile.get(f"/incident/{inc}"),
        "html report": hostile.get(f"/incident/{inc}/report.html"),
        "md report": hostile.get(f"/incident/{inc}/report.md"),
        "country page": hostile.get("/country/IR"),
        "search page": hostile.get("/search", params={"cc": "IR"}),
        "home page": hostile.get("/"),
        "feed": hostile.get("/feeds/incidents.atom"),
        "csv": hostile.get("/api/v1/export/verdicts.csv", params={"cc": "IR"}),
    }
    for where, r in shown.items():
        assert r.status_code == 200, (where, r.text[:300])
        _no_raw_bidi(r.text, where)
        unescaped = r.text.replace("\\[", "[").replace("\\]", "]")  # (Markdown escapes the brackets)
        assert "[U+202E]" in unescaped, f"{where} does not show the hostile target at all"
    # the JSON API returns the data as stored (documented): the raw control is there
    assert hostile_store.SPOOF_TARGET in hostile.get(f"/api/v1/incidents/{inc}").json()["target"]


def test_csv_cells_never_start_a_formula(hostile: TestClient) -> None:
    r = hostile.get("/api/v1/export/verdicts.csv", params={"cc": "IR"})
    rows = list(csv.reader(io.StringIO(r.text)))
    cells = [c for row in rows[1:] for c in row]
    assert any(c.startswith("'=HYPERLINK") for c in cells)
    assert not [c for c in cells if c[:1] in ("=", "+", "@", "\t", "\r") or (c[:1] == "-" and not c[1:2].isdigit())]


def test_the_feed_never_reflects_the_host_header(hostile: TestClient, tmp_path: Path) -> None:
    r = hostile.get("/feeds/incidents.atom", headers={"Host": "attacker.invalid"})
    assert r.status_code == 200 and "attacker.invalid" not in r.text
    assert 'href="/incident/' in r.text and "<id>tag:censorwatch.invalid,2024:" in r.text


def test_the_feed_uses_the_configured_public_url(tmp_path: Path) -> None:
    path = tmp_path / "h.duckdb"
    hostile_store.fixture_db.build(path)
    con = open_db(path)
    with TestClient(create_app(con, db_path=path, cache_ttl=0, base_url="https://watch.example.org/")) as c:
        r = c.get("/feeds/incidents.atom", headers={"Host": "attacker.invalid"})
    con.close()
    assert "attacker.invalid" not in r.text and 'href="https://watch.example.org/incident/' in r.text
    assert "<id>https://watch.example.org/feeds/incidents.atom</id>" in r.text
