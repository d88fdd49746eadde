"""Atom feed validity (RFC 4287 required elements, strict XML parse) and admin token enforcement."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import web_fixture_db as fixture_db
from fastapi.testclient import TestClient

from conftest import ADMIN

A = "{http://www.w3.org/2005/Atom}"
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def _check_atom(xml: bytes) -> ET.Element:
    feed = ET.fromstring(xml)  # strict: raises on malformed XML
    assert feed.tag == f"{A}feed"
    for name in ("id", "title", "updated"):
        assert len(feed.findall(f"{A}{name}")) == 1, f"feed needs exactly one {name}"
    assert RFC3339.match(feed.findtext(f"{A}updated") or "")
    feed_author = feed.find(f"{A}author")
    assert feed_author is not None and feed_author.findtext(f"{A}name")
    assert any(link.get("rel") == "self" for link in feed.findall(f"{A}link"))
    ids = set()
    for e in feed.findall(f"{A}entry"):
        for name in ("id", "title", "updated"):
            assert len(e.findall(f"{A}{name}")) == 1, f"entry needs exactly one {name}"
        assert RFC3339.match(e.findtext(f"{A}updated") or "")
        assert RFC3339.match(e.findtext(f"{A}published") or "")
        idv = e.findtext(f"{A}id") or ""
        assert re.match(r"^[a-z][a-z0-9+.-]*:", idv), "atom:id must be an IRI"
        assert idv not in ids
        ids.add(idv)
        alt = [link for link in e.findall(f"{A}link") if link.get("rel", "alternate") == "alternate"]
        assert len(alt) == 1 and alt[0].get("href")
        assert e.find(f"{A}summary") is not None or e.find(f"{A}content") is not None
    return feed


def test_feed_is_valid_atom_and_filters(client: TestClient) -> None:
    r = client.get("/feeds/incidents.atom")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/atom+xml")
    feed = _check_atom(r.content)
    assert len(feed.findall(f"{A}entry")) == 3
    pk = _check_atom(client.get("/feeds/incidents.atom?cc=pk").content)
    entries = pk.findall(f"{A}entry")
    assert [e.findtext(f"{A}id", "").rsplit("/", 1)[1] for e in entries] == [fixture_db.INCIDENT_PK, fixture_db.INCIDENT_OUTAGE]
    assert "Network outage in PK" in (entries[1].findtext(f"{A}title") or "")
    # measurement-derived text is escaped, not markup
    assert "<b>fingerprint</b>" in (entries[0].findtext(f"{A}summary") or "")
    assert len(_check_atom(client.get("/feeds/incidents.atom?target=example.org").content).findall(f"{A}entry")) == 1
    assert not _check_atom(client.get("/feeds/incidents.atom?cc=DE").content).findall(f"{A}entry")
    assert client.get("/feeds/incidents.atom?cc=Germany").status_code == 400


def _annotate(client: TestClient, token: str | None, body: dict[str, object]) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post(f"/api/v1/incidents/{fixture_db.INCIDENT_PK}/annotations", json=body, headers=headers).status_code


def test_admin_needs_the_token(client: TestClient) -> None:
    body = {"kind": "statement", "text": "Ministry order 12/2024", "url": "https://example.gov/order"}
    assert _annotate(client, None, body) == 401
    assert _annotate(client, "wrong", body) == 401
    assert client.post(f"/api/v1/incidents/{fixture_db.INCIDENT_PK}/annotations", json=body,
                       headers={"Authorization": f"Basic {ADMIN}"}).status_code == 401
    assert _annotate(client, ADMIN, body) == 201
    assert _annotate(client, ADMIN, {"kind": "link", "url": "javascript:alert(1)"}) == 400
    assert _annotate(client, ADMIN, {"kind": "hack", "text": "x"}) == 400
    assert client.post("/api/v1/incidents/nope/annotations", json=body,
                       headers={"Authorization": f"Bearer {ADMIN}"}).status_code == 404
    inc = client.get(f"/api/v1/incidents/{fixture_db.INCIDENT_PK}").json()
    assert [(a["kind"], a["url"]) for a in inc["annotations"]] == [("statement", "https://example.gov/order")]
    page = client.get(f"/incident/{fixture_db.INCIDENT_PK}").text
    assert 'href="https://example.gov/order"' in page


def test_false_positive_hides_an_incident(client: TestClient) -> None:
    url = f"/api/v1/incidents/{fixture_db.INCIDENT_PK}/false-positive"
    # pages are cached: the admin write must clear the cache so the change shows at once
    assert fixture_db.INCIDENT_PK in [i["id"] for i in client.get("/api/v1/home").json()["active"]]
    assert fixture_db.INCIDENT_PK in client.get("/").text
    assert client.post(url, json={"false_positive": True}).status_code == 401
    assert client.post(url, json={"false_positive": True, "reason": "test"},
                       headers={"Authorization": f"Bearer {ADMIN}"}).status_code == 200
    home = client.get("/api/v1/home").json()
    assert fixture_db.INCIDENT_PK not in [i["id"] for i in home["active"]]
    assert fixture_db.INCIDENT_PK not in client.get("/").text
    assert client.get(f"/api/v1/incidents/{fixture_db.INCIDENT_PK}").json()["false_positive"] is True
    assert fixture_db.INCIDENT_PK.encode() not in client.get("/feeds/incidents.atom").content
    client.post(url, json={"false_positive": False}, headers={"Authorization": f"Bearer {ADMIN}"})
    assert fixture_db.INCIDENT_PK in [i["id"] for i in client.get("/api/v1/home").json()["active"]]


def test_admin_disabled_without_a_configured_token(store) -> None:  # type: ignore[no-untyped-def]
    from censorwatch.web.app import create_app

    path, con = store
    with TestClient(create_app(con, db_path=path, admin_token=None)) as c:
        r = c.post(f"/api/v1/incidents/{fixture_db.INCIDENT_PK}/annotations",
                   json={"kind": "note", "text": "x"}, headers={"Authorization": "Bearer anything"})
        assert r.status_code == 403 and "CENSORWATCH_ADMIN_TOKEN" in r.json()["detail"]
