"""whatsapp, telegram, signal, facebook_messenger: every rule, on hand-built test keys."""

from __future__ import annotations

import json

import pytest
from msmt_builder import q, req, run, tcp, tls


def test_whatsapp_all_endpoints_failing_is_anomaly_but_one_working_is_ok() -> None:
    queries = [q("e1.whatsapp.net", "3.33.221.48"), q("e2.whatsapp.net", "3.33.252.61")]
    dead = [tcp("3.33.221.48", 5222, "generic_timeout_error"), tcp("3.33.252.61", 443, "generic_timeout_error")]
    v = run("whatsapp", {"queries": queries, "tcp_connect": dead, "whatsapp_endpoints_status": "ok"})
    assert (v.status, v.rule, v.method) == ("anomaly", "whatsapp.blocked", "tcp.timeout")
    v = run("whatsapp", {"queries": queries, "tcp_connect": [*dead, tcp("3.33.221.48", 443)],
                         "whatsapp_endpoints_status": "blocked"})
    assert (v.status, v.rule) == ("ok", "whatsapp.ok")
    assert v.rules_version == "whatsapp-2"


def test_whatsapp_registration_failure() -> None:
    v = run("whatsapp", {"tcp_connect": [tcp("1.2.3.4", 5222)],
                         "requests": [req("https://v.whatsapp.net/v2/register", "connection_reset")]})
    assert (v.status, v.details["blocked_parts"]) == ("anomaly", ["registration"])


def test_whatsapp_names_answered_with_unspecified_addresses_are_dns_blocking() -> None:
    """A resolver answering 0.0.0.0 for every WhatsApp name: the HTTPS failures that follow are its doing."""
    queries = [q("v.whatsapp.net", "0.0.0.0"), q("web.whatsapp.com", "0.0.0.0"), q("e1.whatsapp.net", "0.0.0.0")]
    v = run("whatsapp", {"queries": queries, "tcp_connect": [tcp("0.0.0.0", 5222, "connection_refused")],
                         "requests": [req("https://v.whatsapp.net/v2/register", "ssl_invalid_hostname"),
                                      req("https://web.whatsapp.com/", "ssl_invalid_hostname")]})
    assert (v.status, v.rule, v.method) == ("anomaly", "whatsapp.blocked", "dns.bogon")
    assert "non-public" in v.explanation


def test_measurement_kit_false_failures_are_successes() -> None:
    """measurement-kit wrote a working connect as {"success": true, "failure": false}."""
    ok = {"status": {"success": True, "failure": False}}
    v = run("whatsapp", {"queries": [q("e1.whatsapp.net", "3.33.221.48")],
                         "tcp_connect": [{"ip": "3.33.221.48", "port": 443, **ok}],
                         "requests": [req("https://web.whatsapp.com/") | {"failure": False}]},
            software_name="ooniprobe-android", annotations={"engine_name": "libmeasurement_kit"})
    assert (v.status, v.rule) == ("ok", "whatsapp.ok")
    fb = run("facebook_messenger", {"queries": [q("b-api.facebook.com", "157.240.1.1", asn=32934)],
                                    "tcp_connect": [{"ip": "157.240.1.1", "port": 443, **ok}]})
    assert (fb.status, fb.rule) == ("ok", "facebook_messenger.ok")
    tg = run("telegram", {"tcp_connect": [{"ip": "149.154.175.50", "port": 443, **ok}]})
    assert (tg.status, tg.rule) == ("ok", "telegram.ok") and "1 of 1 connections worked" in tg.explanation


def test_telegram_dcs() -> None:
    dcs = ["149.154.175.50", "149.154.167.51"]
    v = run("telegram", {"tcp_connect": [tcp(ip, 443, "connection_reset") for ip in dcs], "telegram_tcp_blocking": False})
    assert (v.status, v.rule, v.method) == ("anomaly", "telegram.blocked", "tcp.reset")
    v = run("telegram", {"tcp_connect": [tcp(dcs[0], 443), tcp(dcs[1], 80, "connection_reset")],
                         "requests": [req("https://web.telegram.org/", "ssl_invalid_hostname")]})
    assert v.status == "anomaly" and "web.telegram.org" in v.explanation
    v = run("telegram", {"tcp_connect": [tcp(dcs[0], 443)], "requests": [req("https://web.telegram.org/")]})
    assert v.status == "ok"
    # OONI's telegram_web_status: any failed fetch of web.telegram.org (older probes fetch http and https)
    v = run("telegram", {"tcp_connect": [tcp(dcs[0], 443)],
                         "requests": [req("https://web.telegram.org/"), req("http://web.telegram.org/", "connection_reset")]})
    assert (v.status, v.rule, v.method) == ("anomaly", "telegram.blocked", "http.failure")
    assert "http://web.telegram.org/" in v.explanation


def test_signal_first_failing_step_and_expected_localhost() -> None:
    base = [q("uptime.signal.org", "127.0.0.1"), q("chat.signal.org", "76.223.92.165")]
    ok = run("signal", {"queries": base, "tcp_connect": [tcp("76.223.92.165", 443)],
                        "tls_handshakes": [tls("chat.signal.org")]}, software_version="3.20.0")
    assert (ok.status, ok.rule) == ("ok", "signal.ok")
    bad = run("signal", {"queries": base, "tcp_connect": [tcp("76.223.92.165", 443)],
                         "tls_handshakes": [tls("chat.signal.org", "connection_reset")]}, software_version="3.20.0")
    assert (bad.status, bad.rule, bad.method) == ("anomaly", "signal.blocked", "tls.reset")
    bogon = run("signal", {"queries": [q("chat.signal.org", "10.0.0.1")]}, software_version="3.20.0")
    assert bogon.method == "dns.bogon"
    pin = run("signal", {"queries": base, "tls_handshakes": [tls("chat.signal.org", "ssl_unknown_authority")]},
              software_version="3.20.0")
    assert (pin.status, pin.method) == ("anomaly", "tls.mitm")  # a current probe: not the outdated pin
    old = run("signal", {"queries": base, "tls_handshakes": [tls("chat.signal.org", "ssl_unknown_authority")]},
              software_version="3.14.1", start="2022-11-01 10:00:00")
    assert (old.status, old.rule) == ("failure", "signal.outdated_pin")


def test_facebook_messenger() -> None:
    good = run("facebook_messenger", {"queries": [q("b-api.facebook.com", "157.240.1.1", asn=32934)],
                                      "tcp_connect": [tcp("157.240.1.1", 443)]})
    assert good.status == "ok"
    other = run("facebook_messenger", {"queries": [q("b-api.facebook.com", "1.2.3.4", asn=4837)],
                                       "tcp_connect": [tcp("1.2.3.4", 443)]})
    assert (other.status, other.rule, other.method) == ("anomaly", "facebook_messenger.dns", "dns.injection")
    down = run("facebook_messenger", {"queries": [q("b-api.facebook.com", "157.240.1.1", asn=32934)],
                                      "tcp_connect": [tcp("157.240.1.1", 443, "generic_timeout_error")]})
    assert (down.status, down.rule, down.method) == ("anomaly", "facebook_messenger.tcp", "tcp.timeout")


def test_facebook_answers_without_asn_are_checked_against_facebooks_address_blocks() -> None:
    """measurement-kit recorded no ASN: Facebook's announced blocks decide instead."""
    own = run("facebook_messenger", {"queries": [q("star.c10r.facebook.com", "157.240.194.18")]})
    assert (own.status, own.rule) == ("ok", "facebook_messenger.ok")
    assert "no connection was attempted" in own.explanation
    foreign = run("facebook_messenger", {"queries": [q("star.c10r.facebook.com", "5.5.5.5")]})
    assert (foreign.status, foreign.method) == ("anomaly", "dns.injection")


@pytest.mark.parametrize("rule", ["whatsapp.no_data", "telegram.no_data", "signal.no_data",
                                  "facebook_messenger.no_data"])
def test_no_steps_is_no_data(rule: str) -> None:
    for tk in (None, {}, {"queries": []}):
        v = run(rule.removesuffix(".no_data"), tk)
        assert (v.status, v.rule) == ("failure", rule), json.dumps(tk)
