"""The JSON API against its own OpenAPI schema, keyset pagination, exports, and bad input."""

from __future__ import annotations

import csv
import io
from typing import Any

import pyarrow.parquet as pq
import pytest
import web_fixture_db as fixture_db
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

PK = fixture_db.INCIDENT_PK


def _validator(spec: dict[str, Any], path: str, method: str = "get", status: str = "200") -> Draft202012Validator:
    schema = spec["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]
    root = Resource.from_contents({**spec, "$schema": "https://json-schema.org/draft/2020-12/schema"})
    registry: Registry = Registry().with_resource("urn:openapi", root)
    return Draft202012Validator({"$ref": "urn:openapi#" + schema["$ref"][1:]} if "$ref" in schema else schema,
                                registry=registry)


CASES = [
    ("/api/v1/home", "/api/v1/home"),
    ("/api/v1/countries/PK", "/api/v1/countries/{cc}"),
    ("/api/v1/targets/x.com", "/api/v1/targets/{domain}"),
    ("/api/v1/incidents", "/api/v1/incidents"),
    (f"/api/v1/incidents/{PK}", "/api/v1/incidents/{incident_id}"),
    (f"/api/v1/incidents/{PK}/evidence?limit=5", "/api/v1/incidents/{incident_id}/evidence"),
    (f"/api/v1/incidents/{fixture_db.INCIDENT_OUTAGE}", "/api/v1/incidents/{incident_id}"),
    ("/api/v1/events", "/api/v1/events"),
    ("/api/v1/aggregates?granularity=hourly&cc=PK", "/api/v1/aggregates"),
    ("/api/v1/measurements?cc=PK&status=confirmed", "/api/v1/measurements"),
    (f"/api/v1/measurements/{fixture_db.HOSTILE_UID}", "/api/v1/measurements/{uid}"),
]


@pytest.mark.parametrize(("url", "path"), CASES)
def test_responses_match_the_openapi_schema(ro_client: TestClient, url: str, path: str) -> None:
    spec = ro_client.get("/openapi.json").json()
    r = ro_client.get(url)
    assert r.status_code == 200, r.text
    errors = list(_validator(spec, path).iter_errors(r.json()))
    assert not errors, [e.message for e in errors[:3]]


def test_schema_rejects_a_wrong_shape(ro_client: TestClient) -> None:
    spec = ro_client.get("/openapi.json").json()
    body = ro_client.get("/api/v1/incidents").json()
    del body["items"][0]["confidence"]
    assert list(_validator(spec, "/api/v1/incidents").iter_errors(body))


def test_outage_incident_shows_volume(ro_client: TestClient) -> None:
    inc = ro_client.get(f"/api/v1/incidents/{fixture_db.INCIDENT_OUTAGE}").json()
    assert inc["target"] is None and inc["kind"] == "outage"
    assert sum(p["total"] for p in inc["series"]) > 0 and [n["probe_asn"] for n in inc["networks"]] == ["AS1002"]
    page = ro_client.get(f"/incident/{fixture_db.INCIDENT_OUTAGE}")
    assert page.status_code == 200 and "Network outage in PK" in page.text and 'data-points="' in page.text
    md = ro_client.get(f"/incident/{fixture_db.INCIDENT_OUTAGE}/report.md")
    assert md.status_code == 200 and "Network outage in PK" in md.text


def test_measurements_pages_cover_everything_newest_first(ro_client: TestClient) -> None:
    seen: list[dict[str, Any]] = []
    url = "/api/v1/measurements?cc=PK&limit=7"
    cursor = None
    for _ in range(100):
        r = ro_client.get(url + (f"&cursor={cursor}" if cursor else ""))
        assert r.status_code == 200
        page = r.json()
        seen += page["items"]
        cursor = page["next"]
        if cursor is None:
            break
    uids = [m["measurement_uid"] for m in seen]
    assert len(uids) == len(set(uids)) == 2 * 2 * 48  # PK: 2 networks x 2 targets x 48 measurements
    keys = [(m["measurement_start_time"], m["measurement_uid"]) for m in seen]
    assert keys == sorted(keys, reverse=True)
    assert all(m["status"] in {"ok", "anomaly", "confirmed"} for m in seen)


def test_measurement_filters(ro_client: TestClient) -> None:
    items = ro_client.get("/api/v1/measurements?cc=PK&asn=AS1001&target=https://x.com/&status=confirmed&limit=500").json()["items"]
    assert items and {(m["probe_asn"], m["domain"], m["status"]) for m in items} == {("AS1001", "x.com", "confirmed")}
    since = ro_client.get("/api/v1/measurements?since=2024-02-17T00:00Z&until=2024-02-17T06:00:00Z&limit=500").json()["items"]
    assert since and all("2024-02-17T00:00:00Z" <= m["measurement_start_time"] < "2024-02-17T06:00:00Z" for m in since)


def test_incident_detail_and_evidence_paging(ro_client: TestClient) -> None:
    inc = ro_client.get(f"/api/v1/incidents/{PK}").json()
    assert inc["start"] == "2024-02-16T00:00:00Z" and inc["end"] is None
    assert sum(p["confirmed"] for p in inc["series"]) == 24 and inc["networks"]
    uids: list[str] = []
    cursor = ""
    while True:
        page = ro_client.get(f"/api/v1/incidents/{PK}/evidence?limit=10&cursor={cursor}").json()
        uids += [e["measurement_uid"] for e in page["items"]]
        if not page["next"]:
            break
        cursor = page["next"]
    assert len(uids) == len(set(uids)) == inc["evidence_count"] == 48
    assert uids == sorted(uids, reverse=True)


BAD = [
    "/api/v1/measurements?cc=Pakistan", "/api/v1/measurements?asn=ASX", "/api/v1/measurements?since=yesterday",
    "/api/v1/measurements?status=blocked", "/api/v1/measurements?limit=100000", "/api/v1/measurements?limit=abc",
    "/api/v1/measurements?cursor=%%%", "/api/v1/measurements?cursor=WyJ4Il0", "/api/v1/incidents?active=maybe",
    "/api/v1/incidents?kind=weird", "/api/v1/aggregates?granularity=weekly", "/api/v1/events?until=2024-13-01",
    "/api/v1/countries/P1", "/api/v1/targets/..", "/api/v1/measurements?target=<script>",
    "/api/v1/countries/PK?since=2024-02-10&until=2024-02-01", "/api/v1/export/verdicts.csv?since=nope",
    "/country/123", "/search?asn=nope", "/incident/x/report.html?",
]


@pytest.mark.parametrize("url", BAD)
def test_bad_parameters_are_400_with_a_reason(ro_client: TestClient, url: str) -> None:
    r = ro_client.get(url)
    assert r.status_code in (400, 404), (r.status_code, r.text[:200])
    if url.startswith("/api/"):
        assert r.json()["detail"]


def test_unknown_things_are_404(ro_client: TestClient) -> None:
    assert ro_client.get("/api/v1/incidents/nope").status_code == 404
    assert ro_client.get("/api/v1/measurements/nope").json() == {"detail": "measurement 'nope' not found"}
    assert ro_client.get("/measurement/nope").status_code == 404
    assert ro_client.get("/api/v1/export/secrets.csv").status_code == 404


def test_security_headers_on_every_response(ro_client: TestClient) -> None:
    for url in ["/", "/api/v1/home", "/feeds/incidents.atom", "/static/style.css", "/nope", "/docs",
                f"/measurement/{fixture_db.HOSTILE_UID}", "/api/v1/measurements?cc=bad"]:
        r = ro_client.get(url)
        csp = r.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "unsafe-inline" not in csp, url
        assert r.headers["x-content-type-options"] == "nosniff"
    html = ro_client.get(f"/incident/{PK}/report.html")
    assert "style-src 'sha256-" in html.headers["content-security-policy"]


def test_docs_are_local(ro_client: TestClient) -> None:
    page = ro_client.get("/docs").text
    assert "/api/v1/measurements" in page and "/openapi.json" in page
    assert "cdn" not in page.lower() and "<script" not in page


def test_exports(ro_client: TestClient) -> None:
    r = ro_client.get("/api/v1/export/verdicts.csv?cc=IR")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert len(rows) == 2 * 48 and {row["probe_cc"] for row in rows} == {"IR"}
    r = ro_client.get("/api/v1/export/aggregates.parquet?granularity=hourly&cc=PK&target=x.com")
    table = pq.read_table(io.BytesIO(r.content))
    assert table.num_rows == 2 * 48 and sum(table.column("confirmed").to_pylist()) == 24
