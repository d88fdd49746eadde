"""censorwatch's own fingerprints: written by us, each with a source note, each doing what it says."""

from __future__ import annotations

import csv
from importlib import resources
from pathlib import Path

import pytest

from censorwatch.analysis.fingerprints import builtin_fingerprints, load_fingerprints
from censorwatch.model.observations import HTTPResponse


def _rows() -> list[dict[str, str]]:
    base = resources.files("censorwatch.analysis.fingerprints") / "data"
    out: list[dict[str, str]] = []
    for name in ("censorwatch_dns.csv", "censorwatch_http.csv"):
        with resources.as_file(base / name) as p, Path(p).open(encoding="utf-8", newline="") as fh:
            out.extend(csv.DictReader(fh))
    return out


def test_every_row_is_ours_with_a_source_note() -> None:
    rows = _rows()
    assert len(rows) >= 10 and not builtin_fingerprints().errors
    for r in rows:
        assert r["name"].startswith("censorwatch.") and r["source"] == "censorwatch", r
        assert len(r["notes"]) > 40, f"{r['name']}: a source note says where the fingerprint is known from"
        if r["scope"] in ("nat", "isp") and not r["name"].startswith("censorwatch.lab_"):
            assert r["expected_countries"], r["name"]


def test_our_patterns_are_not_copies_of_oonis_or_censored_planets(shared: Path) -> None:
    """Page and redirect patterns are our own choice of string; a DNS answer's address is a fact that any
    list of the same filter spells the same way, so those are left out of the comparison."""
    theirs = load_fingerprints(shared / "data" / "fingerprints")
    others = {(r.location, r.pattern_type, r.pattern) for r in theirs.rules if r.source != "censorwatch"}
    ours = {(r.location, r.pattern_type, r.pattern) for r in builtin_fingerprints().rules if r.location != "dns"}
    assert len(ours) >= 10 and not ours & others


@pytest.mark.parametrize(("headers", "body", "cc", "expected"), [
    ({"Location": "http://lamanlabuh.aduankonten.id/"}, "", "ID", "censorwatch.id_kominfo_landing"),
    ({"Location": "https://internetpositif.example-isp.net.id/?u=x"}, "", "ID", "censorwatch.id_internetpositif_redirect"),
    ({"Location": "http://trustpositif.kominfo.go.id/"}, "", "ID", "censorwatch.id_trustpositif_redirect"),
    ({"Location": "http://www.warning.or.kr"}, "", "KR", "censorwatch.kr_kcsc_warning"),
    ({}, '<iframe src="http://peyvandha.ir/1-2.html"></iframe>', "IR", "censorwatch.ir_peyvandha_frame"),
    ({}, 'see <a href="https://eais.rkn.gov.ru/">the registry</a>', "RU", "censorwatch.ru_rkn_registry_link"),
    ({}, "Your requested URL has been blocked as per the directions received from Department of "
         "Telecommunications, Government of India.", "IN", "censorwatch.in_dot_directions"),
])
def test_each_blockpage_fingerprint_matches_its_page(headers: dict[str, str], body: str, cc: str,
                                                     expected: str) -> None:
    resp = HTTPResponse(code=302 if headers else 200, headers=headers, headers_list=list(headers.items()), body=body)
    hits = builtin_fingerprints().match_response(resp).blockpages
    assert [h.id for h in hits] == [expected]
    assert hits[0].confirms(cc)


def test_dns_fingerprints() -> None:
    fps = builtin_fingerprints()
    assert [r.id for r in fps.match_dns("195.175.254.2")] == ["censorwatch.tr_poisoned_answer"]
    assert fps.match_dns("198.18.66.66") == [] and fps.match_dns("198.18.66.66", lab=True)
    assert fps.identity.startswith("censorwatch@") and "+" not in fps.identity
