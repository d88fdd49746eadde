"""The control server never connects to a non-public address hidden in another form: IPv4-mapped,
IPv4-compatible, 6to4, NAT64 (well-known and local-use), Teredo and ISATAP addresses embedding
loopback or the cloud metadata address, site-local fec0::/10 and the deprecated 6to4 relay anycast
192.88.99.0/24; whether they come from a DNS answer, from the probe's endpoints or from a redirect."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import jsonschema
from controlnet import running_control
from probenet import HTTP_SITE, Net

from censorwatch.control.protocol import RESPONSE_SCHEMA

#: every form embedding 127.0.0.2 (HTTP_SITE: the test site listens there), with the kind it is
LOOPBACK_FORMS = {
    "::ffff:127.0.0.2": "loopback",  # Linux connects this to 127.0.0.2 on a dual-stack socket
    "::127.0.0.2": "loopback",  # IPv4-compatible
    "2002:7f00:2::": "loopback",  # 6to4
    "2002:7f00:2:1:2:3:4:5": "loopback",
    "64:ff9b::7f00:2": "loopback",  # NAT64 well-known prefix
    "64:ff9b:1::7f00:2": "loopback",  # NAT64 local-use prefix
    "2001:0:808:808::80ff:fffd": "loopback",  # Teredo, client address 127.0.0.2 (inverted bits)
    "2a00:1::5efe:7f00:2": "loopback",  # ISATAP interface id under a global prefix
}
#: the same forms around 169.254.169.254, refused even in lab mode
METADATA_FORMS = {
    "::ffff:169.254.169.254": "link-local",
    "2002:a9fe:a9fe::": "link-local",
    "64:ff9b::a9fe:a9fe": "link-local",
    "2001:0:808:808::5601:5601": "link-local",
    "2a00:1::200:5efe:a9fe:a9fe": "link-local",
}
OTHER = {"fec0::1": "private", "192.88.99.1": "deprecated", "2002:c058:6301::": "deprecated",
         "2002:a00:1::": "private"}
ALL = {**LOOPBACK_FORMS, **METADATA_FORMS, **OTHER}


def _ep(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


async def _post(url: str, ca: Path, body: dict[str, Any]) -> httpx.Response:
    async with httpx.AsyncClient(verify=ssl.create_default_context(cafile=str(ca)), timeout=30) as c:
        return await c.post(url, json=body)


async def test_dns_answers_in_embedded_forms_are_refused(net: Net) -> None:
    assert net.th_dns is not None
    net.th_dns.zone["embedded.test"] = list(ALL)
    before = dict(net.accepted)
    async with running_control(net, lab=False) as ctl:
        r = await _post(ctl.url, ctl.ca_file, {"http_request": net.url("embedded.test"), "tcp_connect": []})
    assert r.status_code == 200, r.text
    out = r.json()
    jsonschema.validate(out, RESPONSE_SCHEMA)
    assert out["tcp_connect"] == {}
    assert out["x_refused"] == {_ep(ip, net.http_port): why for ip, why in ALL.items()}
    assert "destination refused" in out["http_request"]["failure"]
    assert net.accepted == before  # nothing was reached


async def test_probe_endpoints_in_embedded_forms_are_refused(net: Net) -> None:
    before = dict(net.accepted)
    endpoints = [_ep(ip, net.http_port) for ip in ALL]
    async with running_control(net, lab=False) as ctl:
        r = await _post(ctl.url, ctl.ca_file, {"http_request": net.url("nx.test"), "tcp_connect": endpoints})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["tcp_connect"] == {}
    assert out["x_refused"] == {_ep(ip, net.http_port): why for ip, why in ALL.items()}
    assert net.accepted == before


async def test_literal_targets_in_embedded_forms_get_403(net: Net) -> None:
    async with running_control(net, lab=False) as ctl:
        for ip, why in ALL.items():
            host = f"[{ip}]" if ":" in ip else ip
            r = await _post(ctl.url, ctl.ca_file, {"http_request": f"http://{host}:{net.http_port}/"})
            assert r.status_code == 403, (ip, r.text)
            assert r.json()["error"] == "destination_refused" and why in r.json()["reason"], r.text


async def test_redirects_to_embedded_metadata_forms_are_refused_even_in_lab_mode(net: Net) -> None:
    async with running_control(net, lab=True) as ctl:
        for ip, why in METADATA_FORMS.items():
            target = f"http://[{ip}]/latest/meta-data/" if ":" in ip else f"http://{ip}/latest/meta-data/"
            before = dict(net.accepted)
            r = await _post(ctl.url, ctl.ca_file, {"http_request": net.url("ok.test", "/to/" + quote(target, safe=""))})
            assert r.status_code == 200, r.text
            failure = r.json()["http_request"]["failure"]
            assert failure is not None and "destination refused" in failure and why in failure, (ip, failure)
            assert net.accepted.get(HTTP_SITE, 0) == before.get(HTTP_SITE, 0) + 1  # the first hop only
