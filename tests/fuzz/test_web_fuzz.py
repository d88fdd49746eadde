"""Hostile and random values in every parameter of every dashboard, API and feed route, over a store
full of hostile strings: never a 500, every response with the security headers, every 4xx with a
reason, and no raw bidi control in anything shown to people."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from censorwatch.model.display import BIDI_CONTROLS
from censorwatch.web import api, feeds, pages
from fuzz import hostile_store
from fuzz.hostile import HOSTILE_QUERY_VALUES

SECURITY = ("content-security-policy", "x-content-type-options", "referrer-policy", "x-frame-options")
ROUTES = [(r.path, [p.name for p in r.dependant.query_params], [p.name for p in r.dependant.path_params])
          for router in (api.router, pages.router, feeds.router) for r in router.routes if "GET" in r.methods]
GOOD = {"cc": "PK", "domain": "x.com", "incident_id": hostile_store.INCIDENT, "uid": hostile_store.fixture_db.HOSTILE_UID,
        "what": "verdicts", "fmt": "csv"}
values = st.one_of(st.sampled_from(HOSTILE_QUERY_VALUES), st.text(max_size=60),
                   st.text(alphabet=sorted(BIDI_CONTROLS) + list("x.com=+-@<>'\"/:%"), max_size=20))


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with hostile_store.serve(tmp_path_factory.mktemp("hostile-web") / "h.duckdb") as c:
        yield c


def _check(r: object, what: str) -> None:
    status = r.status_code  # type: ignore[attr-defined]
    headers = r.headers  # type: ignore[attr-defined]
    assert status < 500, f"{what}: {status} {r.text[:300]}"  # type: ignore[attr-defined]
    assert all(h in headers for h in SECURITY), f"{what}: security headers missing"
    if status >= 400:
        assert r.text.strip(), f"{what}: {status} without a reason"  # type: ignore[attr-defined]
    ctype = headers.get("content-type", "")
    if not ctype.startswith("application/json") and "parquet" not in ctype:
        raw = {f"U+{ord(c):04X}" for c in r.text if c in BIDI_CONTROLS}  # type: ignore[attr-defined]
        assert not raw, f"{what}: shows raw bidi controls {sorted(raw)}"


@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(route=st.sampled_from(ROUTES), data=st.data())
def test_query_values(client: TestClient, route: tuple[str, list[str], list[str]], data: st.DataObject) -> None:
    path, query, path_params = route
    for name in path_params:
        path = path.replace("{" + name + "}", "html" if name == "fmt" and "report" in path else GOOD[name])
    chosen = data.draw(st.lists(st.sampled_from(query), max_size=3, unique=True)) if query else []
    params = {name: data.draw(values) for name in chosen}
    _check(client.get(path, params=params), f"{path} {params!r}")


@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(route=st.sampled_from([r for r in ROUTES if r[2]]), value=values)
def test_path_values(client: TestClient, route: tuple[str, list[str], list[str]], value: str) -> None:
    from urllib.parse import quote

    path, _query, path_params = route
    hit = path_params[0]
    for name in path_params:
        fill = quote(value, safe="") if name == hit else GOOD[name]
        path = path.replace("{" + name + "}", "html" if name == "fmt" and "report" in path and name != hit else fill)
    _check(client.get(path), f"{path}")
