"""Names for people (model.networks, model.targets, model.names) and the time axis's ticks: pure parts."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from censorwatch.model import networks, targets
from censorwatch.model.names import Names, add_names
from censorwatch.report.charts import ticks


def test_the_table_of_known_networks() -> None:
    for asn, n in networks.KNOWN.items():
        assert asn == n.asn and re.fullmatch(r"AS\d+", asn), n
        assert re.fullmatch(r"[A-Z]{2}", n.cc) and n.name.strip() == n.name and n.name
        assert n.source == f"https://rdap.org/autnum/{asn[2:]}"  # the registry record, per row
    pk = {a: n.name for a, n in networks.KNOWN.items() if n.cc == "PK"}
    assert pk["AS17557"] == "PTCL" and pk["AS45669"] == "Jazz" and pk["AS23674"] == "Nayatel"
    assert pk["AS59257"] == "Zong" and pk["AS24499"] == "Telenor Pakistan" and pk["AS38264"] == "Wateen"
    assert len({n.cc for n in networks.KNOWN.values()}) >= 10  # not only Pakistan


def test_a_network_is_named_by_the_table_then_by_its_measurements() -> None:
    assert networks.network_label("AS17557") == "PTCL (AS17557)"
    assert networks.network_label("as17557", "Pakistan Telecommunication Company Limited") == "PTCL (AS17557)"
    assert networks.network_label(64512, "ptcl-lab") == "ptcl-lab (AS64512)"  # a lab network's name
    assert networks.network_label("AS64512") == "AS64512"
    assert networks.network_label("AS64512", "AS64512") == "AS64512"  # a number is not a name
    assert networks.network_label("AS64512", " Evil\u202e\nName\x00 ") == "Evil Name (AS64512)"
    long = networks.network_label("AS64512", "N" * 100)
    assert long.startswith("N" * 39 + "…") and long.endswith("(AS64512)")
    assert networks.network_label(None) == "" and networks.network_label("not a number") == "not a number"


def test_targets_are_named_as_people_know_them() -> None:
    t = targets.target_label
    assert t("x", "platform", "x") == "X" and t("tiktok") == "TikTok" and t("whatsapp", "whatsapp") == "WhatsApp"
    assert t("x", "web_connectivity", "http://x/") == "x"  # a host that happens to be called x
    assert t("198.18.5.1", "wireguard", "wireguard://198.18.5.1:51820?public_key=abc") == "WireGuard 198.18.5.1:51820"
    assert t("198.18.5.2", "openvpn", "openvpn://198.18.5.2:1194?transport=tcp") == "OpenVPN 198.18.5.2:1194 (TCP)"
    assert t("198.18.5.2", "openvpn", "openvpn://198.18.5.2:1194?transport=udp") == "OpenVPN 198.18.5.2:1194"
    assert t("198.18.5.3", "tor", "tor://198.18.5.3:9001") == "Tor 198.18.5.3:9001"
    assert t("192.0.2.1", "tor", "tor://192.0.2.1:443?transport=obfs4") == "Tor (obfs4) 192.0.2.1:443"
    assert t("2001:db8::1", "wireguard", "wireguard://[2001:db8::1]:51820") == "WireGuard [2001:db8::1]:51820"
    assert t("www.example.com", "web_connectivity", "https://www.example.com/") == "www.example.com"
    assert t("198.18.5.1", "wireguard", "wireguard://[bad") == "198.18.5.1" and t(None) == ""


def test_every_platform_of_the_catalogue_has_a_name() -> None:
    from censorwatch.probe.platforms import load

    assert set(load()) <= set(targets.PLATFORMS)


def test_names_are_put_beside_the_numbers() -> None:
    names = Names({"AS9": "Nine"}, {"198.18.5.1": ("wireguard", "wireguard://198.18.5.1:51820")})
    page = {"asns": ["AS17557", "AS9", "AS10"], "target": "x.com",
            "cells": [{"probe_asn": "AS9", "domain": "198.18.5.1"}],
            "events": [{"asn": None, "asns": ["AS9"], "target": None}],
            "details": {"asn": "AS1"}}
    add_names(page, names)
    assert page["network_names"] == ["PTCL", "Nine", None] and page["target_name"] == "x.com"
    assert page["cells"][0] == {"probe_asn": "AS9", "domain": "198.18.5.1", "network_name": "Nine",
                                     "target_name": "WireGuard 198.18.5.1:51820"}
    assert page["events"][0]["network_name"] is None and page["events"][0]["target_name"] is None
    assert page["details"] == {"asn": "AS1"}  # recorded data is left as it is


def test_time_axis_ticks_at_round_hours_and_days() -> None:
    day = [datetime(2024, 2, 17) + timedelta(hours=h) for h in range(24)]
    assert [t for _, t in ticks(day, True)] == ["02-17 00:00", "03:00", "06:00", "09:00", "12:00", "15:00",
                                                 "18:00", "21:00"]
    six = [datetime(2024, 2, 17, 21) + timedelta(hours=h) for h in range(6)]
    assert [t for _, t in ticks(six, True)] == ["02-17 21:00", "22:00", "23:00", "02-18 00:00", "01:00", "02:00"]
    fortnight = [datetime(2024, 2, 10) + timedelta(days=d) for d in range(14)]
    assert [t for _, t in ticks(fortnight, False)] == ["2024-02-10", "02-12", "02-14", "02-16", "02-18",
                                                        "02-20", "02-22"]
    assert len(ticks([datetime(2024, 1, 1) + timedelta(days=d) for d in range(400)], False)) <= 8
    assert ticks([], True) == []
