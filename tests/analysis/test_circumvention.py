"""openvpn (today's and the YAML-era tunnel tests, shadowsocks), riseupvpn, meek: every rule."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from msmt_builder import q, req, run, tcp, tls


def test_openvpn_stages() -> None:
    assert run("openvpn", {"tcp_connect": tcp("1.2.3.4", 1194, "connection_refused")}).rule == "openvpn.tcp"
    assert run("openvpn", {"tcp_connect": tcp("1.2.3.4", 1194), "failure": "generic_timeout_error",
                           "success_handshake": True}).rule == "openvpn.handshake"
    v = run("openvpn", {"tcp_connect": [tcp("1.2.3.4", 1194)], "failure": None,
                        "requests": [req("https://example.org/", "generic_timeout_error")]})
    assert (v.rule, v.method) == ("openvpn.tunnel", "vpn.blocked")
    assert run("openvpn", {"x": 1}).rule == "openvpn.no_data"


def test_openvpn_handshake_list() -> None:
    """Today's probe records the handshake in ``openvpn_handshake[]``."""
    hs = {"endpoint": "openvpn://1.2.3.4:1194/tcp", "failure": None, "bootstrap_time": 0.2}
    ok = run("openvpn", {"success": True, "tcp_connect": [tcp("1.2.3.4", 1194)], "openvpn_handshake": [hs]})
    assert (ok.status, ok.rule) == ("ok", "openvpn.ok")
    bad = run("openvpn", {"success": True, "tcp_connect": [tcp("1.2.3.4", 1194)],
                          "openvpn_handshake": [hs | {"failure": "connection_reset"}]})
    assert (bad.status, bad.rule, bad.method) == ("anomaly", "openvpn.handshake", "vpn.blocked")


def test_yaml_era_tunnel_tests() -> None:
    page = "<html><body>through the tunnel</body></html>"
    ok = run("openvpn_client_test", {"success": True, "body": page,
                                     "failure": "unknown_failure openvpn_exited_unexpectedly"})
    assert (ok.status, ok.rule) == ("ok", "openvpn.legacy_ok") and "afterwards" in ok.explanation
    crash = run("lantern_circumvention_tool_test", {"success": False, "failure": "unknown_failure lantern crashed"})
    assert (crash.status, crash.rule) == ("failure", "openvpn.tool_error")
    cut = run("psiphon_test", {"success": False, "failure": "connection_reset"})
    assert (cut.status, cut.rule, cut.method) == ("anomaly", "openvpn.legacy_failed", "vpn.blocked")
    ss = run("shadowsocks", {"failure": None, "requests": [req("https://example.org/", code=200, body="hi")]})
    assert (ss.status, ss.rule) == ("ok", "openvpn.legacy_ok")
    quiet = run("shadowsocks", {"failure": None})
    assert (quiet.status, quiet.rule) == ("ok", "openvpn.legacy_ok") and "no failure" in quiet.explanation
    dead = run("shadowsocks", {"failure": None, "success": False})
    assert (dead.status, dead.rule) == ("anomaly", "openvpn.legacy_failed")


def _cert(name: str, not_before: datetime, not_after: datetime) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test Public CA")])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
            .serial_number(7).not_valid_before(not_before).not_valid_after(not_after)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .sign(key, hashes.SHA256()))
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()


def _riseup(cert: str, failure: str = "ssl_invalid_certificate") -> dict[str, object]:
    return {"api_failure": None, "queries": [q("api.black.riseup.net", "198.252.153.107")],
            "tcp_connect": [tcp("198.252.153.107", 443)],
            "tls_handshakes": [tls("api.black.riseup.net", failure, peer_certificates=[
                {"format": "base64", "data": cert}])],
            "requests": [req("https://api.black.riseup.net/ca.crt", failure)]}


def test_riseup_expired_but_genuine_certificate_is_not_interception() -> None:
    now = datetime(2024, 2, 17, 10, tzinfo=UTC)
    expired = _cert("api.black.riseup.net", now - timedelta(days=120), now - timedelta(days=30))
    v = run("riseupvpn", _riseup(expired))
    assert (v.status, v.rule) == ("down", "riseupvpn.expired_certificate")
    assert "expired on" in v.explanation and "not interception" in v.explanation


def test_riseup_certificate_for_another_name_or_valid_now_is_still_suspect() -> None:
    now = datetime(2024, 2, 17, 10, tzinfo=UTC)
    other = _cert("blockpage.example", now - timedelta(days=120), now - timedelta(days=30))
    v = run("riseupvpn", _riseup(other))
    assert (v.status, v.rule, v.method) == ("anomaly", "riseupvpn.api", "tls.mitm")
    fresh = _cert("api.black.riseup.net", now - timedelta(days=1), now + timedelta(days=60))
    v = run("riseupvpn", _riseup(fresh, "ssl_unknown_authority"))
    assert (v.status, v.rule, v.method) == ("anomaly", "riseupvpn.api", "tls.mitm")


def test_riseup_other_rules() -> None:
    ok = run("riseupvpn", {"tcp_connect": [tcp("198.252.153.107", 443)], "requests": [req("https://x/ca.crt")]})
    assert (ok.status, ok.rule) == ("ok", "riseupvpn.ok")
    gw = run("riseupvpn", {"tcp_connect": [tcp("198.252.153.107", 443)], "failing_gateways": [{"ip": "1.2.3.4"}]})
    assert (gw.status, gw.rule) == ("anomaly", "riseupvpn.gateways")
    assert run("riseupvpn", {}).rule == "riseupvpn.no_data"


def test_meek() -> None:
    v = run("meek_fronted_requests_test", {"requests": [req("https://ajax.aspnetcdn.com", "connection_reset")]})
    assert (v.status, v.rule) == ("anomaly", "meek.failed")
    greeting = "I’m just a happy little web server.\n"
    ok = run("meek_fronted_requests_test", {"requests": [req("https://ajax.aspnetcdn.com", body=greeting)]})
    assert (ok.status, ok.rule) == ("ok", "meek.ok")
    gone = run("meek_fronted_requests_test", {"requests": [req("https://a0.awsstatic.com", code=403, body="no")]})
    assert (gone.status, gone.rule) == ("down", "meek.front_refused")
    assert run("meek_fronted_requests_test", {"requests": []}).rule == "meek.no_data"
