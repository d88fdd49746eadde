"""Fingerprint loading and matching: every pattern type and location, false positives first,
Censored Planet DOTALL, scope/country logic, the shipped lab fingerprints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from wc_builder import control, query, request, tcp, wc

from censorwatch.analysis import classify
from censorwatch.analysis.fingerprints import (
    FingerprintError,
    FingerprintRule,
    Fingerprints,
    builtin_fingerprints,
    load_fingerprints,
)
from censorwatch.analysis.fingerprints.patterns import required_literal
from censorwatch.model.observations import HTTPResponse

HEADER = "name,scope,other_names,location_found,pattern_type,pattern,confidence_no_fp,expected_countries,source,exp_url,notes\n"


def rule(fid: str, ptype: str, pattern: str, location: str = "body", scope: str = "nat",
         countries: tuple[str, ...] = ()) -> FingerprintRule:
    return FingerprintRule(id=fid, scope=scope, location=location, pattern_type=ptype, pattern=pattern,
                           expected_countries=countries)


def resp(body: str = "", **headers: str) -> HTTPResponse:
    return HTTPResponse(code=200, headers=dict(headers), headers_list=list(headers.items()), body=body)


@pytest.mark.parametrize(
    ("ptype", "pattern", "body", "hit"),
    [
        ("full", "BLOCKED", "BLOCKED", True), ("full", "BLOCKED", "BLOCKED!", False),
        ("prefix", "<html>Blocked", "<html>Blocked by order", True), ("prefix", "Blocked", "x Blocked", False),
        ("contains", "access denied", "<p>access denied</p>", True), ("contains", "access denied", "Access Denied", False),
        ("regexp", r"blocked.*order \d+", "blocked\nby order 42", True),  # DOTALL: . crosses lines
        ("regexp", r"blocked.*order \d+", "blocked by order x", False),
    ],
)
def test_every_pattern_type_on_bodies(ptype: str, pattern: str, body: str, hit: bool) -> None:
    fps = Fingerprints.from_rules([rule("t.1", ptype, pattern)])
    assert bool(fps.match_response(resp(body)).blockpages) is hit


def test_regexp_without_literal_anchor_still_runs() -> None:
    fps = Fingerprints.from_rules([rule("t.rx", "regexp", r"[0-9]{3}-[a-z]{3}")])
    assert fps.match_response(resp("code 123-abc")).blockpages


def test_required_literal_extraction() -> None:
    assert required_literal(r"URL .* Sp.*er Gate") in ("URL ", "er Gate")
    assert required_literal(r"Barracuda NextGen Firewall:") == "Barracuda NextGen Firewall:"
    assert required_literal(r"(?i)blocked") is None
    assert required_literal(r"a|b") is None


def test_header_locations() -> None:
    fps = Fingerprints.from_rules([
        rule("t.loc", "prefix", "http://blockpage.example/", "header:location"),
        rule("t.srv", "full", "Protected by WireFilter", "header:server"),
    ])
    assert [r.id for r in fps.match_response(resp(Location="http://blockpage.example/?u=x")).blockpages] == ["t.loc"]
    assert [r.id for r in fps.match_response(resp(Server="Protected by WireFilter")).blockpages] == ["t.srv"]
    assert not fps.match_response(resp(Server="Protected by WireFilter 2")).blockpages
    assert not fps.match_response(resp("http://blockpage.example/")).blockpages  # body is not the header


def test_dns_location_and_lab_only_address() -> None:
    fps = Fingerprints.from_rules([rule("t.dns", "full", "10.10.34.36", "dns")])
    assert fps.match_dns("10.10.34.36") and not fps.match_dns("10.10.34.35")
    lab = builtin_fingerprints()
    assert lab.match_dns("198.18.66.66", lab=True)[0].id == "censorwatch.lab_blockpage_ip"
    assert lab.match_dns("198.18.66.66", lab=False) == []


def test_false_positive_checked_first_and_prevents_confirmation() -> None:
    fps = Fingerprints.from_rules([
        rule("t.block", "contains", "Access to this site is blocked"),
        rule("t.fp", "contains", "Thank you for using nginx", scope="fp"),
    ])
    res = fps.match_response(resp("Access to this site is blocked. Thank you for using nginx"))
    assert res.false_positive is not None and res.false_positive.id == "t.fp"
    assert res.blockpages == () and [r.id for r in res.suppressed] == ["t.block"]
    m = wc(requests=[request("http://example.org/", body="Access to this site is blocked. Thank you for using nginx",
                             headers={"Server": "x"})])
    assert classify(m, fps).status == "anomaly"
    assert classify(m, Fingerprints.from_rules([rule("t.block", "contains", "Access to this site is blocked")])).status \
        == "confirmed"


@pytest.mark.parametrize(
    ("scope", "countries", "cc", "confirms"),
    [("nat", (), "IT", True), ("isp", ("RU",), "IT", True),
     # methodology §5: confirmed only for a national/ISP scope or an expected country of the probe's.
     # A filtering product (opt-in CleanBrowsing DNS, an office's Fortinet) is not proof of censorship.
     ("prod", (), "IT", False), ("prod", ("IT",), "IT", True), ("prod", ("ZZ",), "IT", False),
     ("prod", ("ZZ",), "ZZ", False),
     ("vbw", ("IT",), "IT", False), ("inst", (), "IT", False), ("fp", (), "IT", False),
     ("injb", ("IT",), "IT", True), ("injb", ("RU",), "IT", False)],
)
def test_scope_and_country_logic(scope: str, countries: tuple[str, ...], cc: str, confirms: bool) -> None:
    r = rule("t.s", "contains", "BLOCKPAGE-MARKER", scope=scope, countries=countries)
    assert r.confirms(cc) is confirms
    m = wc(cc=cc, requests=[request("http://example.org/", body="<html>BLOCKPAGE-MARKER</html>",
                                    headers={"Server": "x"})])
    verdict = classify(m, Fingerprints.from_rules([r]))
    assert (verdict.status == "confirmed") is (confirms and scope != "fp")
    if scope != "fp":
        assert verdict.fingerprint is not None and verdict.fingerprint.id == "t.s"
        assert verdict.method == "http.blockpage"


def test_lab_blockpage_confirms_in_lab() -> None:
    page = '<html><head><meta name="censorwatch-blockpage" content="lab"><title>Blocked by the lab censor</title>'
    m = wc(lab=True, queries=[query("example.org", "198.18.66.66")], tcp_connect=[tcp("198.18.66.66", 80)],
           requests=[request("http://example.org/", body=page, headers={"Server": "lab"})],
           ctrl=control(addrs=["198.18.5.5"], tcp_ok={"198.18.5.5:80": True}))
    v = classify(m, builtin_fingerprints())
    assert v.status == "confirmed" and v.fingerprint is not None
    assert v.fingerprint.id == "censorwatch.lab_blockpage_ip" and v.method == "dns.blockpage"
    m2 = wc(lab=True, requests=[request("http://example.org/", body=page, headers={"Server": "lab"})])
    v2 = classify(m2, builtin_fingerprints())
    assert (v2.status, v2.method, v2.fingerprint.id if v2.fingerprint else None) == (
        "confirmed", "http.blockpage", "censorwatch.lab_blockpage")


def test_load_flat_and_nested_directories(tmp_path: Path) -> None:
    (tmp_path / "ooni").mkdir()
    (tmp_path / "ooni" / "fingerprints_http.csv").write_text(
        HEADER + "x.rx,nat,,body,regexp,blocked.*here,5,RU,ooni,,\n"
                 "x.bad,nat,,body,wildcard,zzz,5,,ooni,,\n", encoding="utf-8")
    (tmp_path / "censoredplanet").mkdir()
    (tmp_path / "censoredplanet" / "blockpage_signatures.json").write_text(
        json.dumps({"fingerprint": "b_nat_xx", "pattern": "national.*block"}) + "\n\nnot json\n", encoding="utf-8")
    (tmp_path / "censoredplanet" / "false_positive_signatures.json").write_text(
        json.dumps({"fingerprint": "x_fp_a", "pattern": "harmless"}) + "\n", encoding="utf-8")
    fps = load_fingerprints(tmp_path)
    ids = {r.id for r in fps.rules}
    assert {"x.rx", "cp.b_nat_xx", "cp.x_fp_a", "censorwatch.lab_blockpage"} <= ids
    assert any("unknown pattern_type" in e and "fingerprints_http.csv:3" in e for e in fps.errors)
    assert any("blockpage_signatures.json:3" in e for e in fps.errors)
    cp = next(r for r in fps.rules if r.id == "cp.b_nat_xx")
    assert cp.scope == "nat" and cp.source == "censoredplanet"
    assert fps.match_response(resp("national\nblock")).blockpages  # DOTALL
    assert fps.match_response(resp("national block harmless")).false_positive is not None
    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / "fingerprints_dns.csv").write_text(HEADER + "x.d,isp,,dns,full,1.2.3.4,5,,ooni,,\n", encoding="utf-8")
    assert load_fingerprints(flat).match_dns("1.2.3.4")[0].id == "x.d"


def test_env_var_and_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(FingerprintError, match="does not exist"):
        load_fingerprints(tmp_path / "nope")
    with pytest.raises(FingerprintError, match="no fingerprint files"):
        load_fingerprints(tmp_path)
    (tmp_path / "fingerprints_dns.csv").write_text(HEADER + "x.e,isp,,dns,full,5.6.7.8,5,,ooni,,\n", encoding="utf-8")
    monkeypatch.setenv("CENSORWATCH_FINGERPRINTS", str(tmp_path))
    assert load_fingerprints().match_dns("5.6.7.8")


def test_real_files_load_cleanly(shared: Path) -> None:
    fps = load_fingerprints(shared / "data" / "fingerprints")
    assert fps.errors == []
    assert sum(r.source == "ooni" for r in fps.rules) > 1900
    assert sum(r.source == "censoredplanet" for r in fps.rules) == 622 + 460
    assert any(r.pattern_type == "regexp" and r.source == "ooni" for r in fps.rules)
    # An OONI regexp fingerprint (ignored by OONI's own matcher) matches here.
    rx = next(r for r in fps.rules if r.id == "cp.b_nat_sa_national_2")
    body = "If you believe the requested page should not be blocked please\n visit http://www.internet.gov.sa"
    assert rx in fps.match_response(resp(body)).blockpages


def test_lab_dns_blockpage_confirms_an_https_url_whose_connect_is_refused() -> None:
    m = wc("https://example.org/", lab=True, queries=[query("example.org", "198.18.66.66")],
           tcp_connect=[tcp("198.18.66.66", 443, "connection_refused")],
           requests=[request("https://example.org/", failure="connection_refused")],
           ctrl=control(addrs=["198.18.5.5"], tcp_ok={"198.18.5.5:443": True}))
    v = classify(m, builtin_fingerprints())
    assert (v.status, v.method, v.blocking) == ("confirmed", "dns.blockpage", "dns")
    # the same answer outside the lab is a bogon, and no lab fingerprint applies
    outside = wc("https://example.org/", queries=[query("example.org", "198.18.66.66")],
                 tcp_connect=[tcp("198.18.66.66", 443, "connection_refused")],
                 requests=[request("https://example.org/", failure="connection_refused")])
    assert (classify(outside, builtin_fingerprints()).status, classify(outside, builtin_fingerprints()).method) == (
        "anomaly", "dns.bogon")


def test_real_product_fingerprints_confirm_only_in_their_expected_countries(shared: Path) -> None:
    """Methodology §5: *confirmed* needs a national/ISP scope or the probe's country among the expected
    ones. OONI's `prod` DNS rows include opt-in filters (CleanBrowsing, `ZZ`) and FortiDNS (no country):
    a match is evidence (anomaly, fingerprint named), never proof; a national one confirms."""
    fps = load_fingerprints(shared / "data" / "fingerprints")
    for addr, fid in (("185.228.168.254", "ooni.zz_4"), ("208.91.112.55", "cl.dns_prod_fortidns")):
        m = wc(cc="US", queries=[query("example.org", addr, asn=64999)], tcp_connect=[tcp(addr, 80)],
               requests=[request("http://example.org/", body="<title>Filtered</title>", headers={"Server": "x"})])
        v = classify(m, fps)
        assert (v.status, v.blocking) == ("anomaly", "dns"), v.explanation
        assert v.fingerprint is not None and v.fingerprint.id == fid and v.fingerprint.scope == "prod"
    ru = wc(cc="RU", queries=[query("example.org", "159.255.26.69", asn=64999)], tcp_connect=[],
            requests=[])  # ooni.ru_83: an RKN filtering product, expected in RU
    assert (classify(ru, fps).status, classify(ru, fps).rule) == ("confirmed", "wc.fingerprint.dns")
    ir = wc(cc="IR", queries=[query("example.org", "10.10.34.35")], tcp_connect=[], requests=[])
    assert (classify(ir, fps).status, classify(ir, fps).fingerprint.scope) == ("confirmed", "nat")  # type: ignore[union-attr]
