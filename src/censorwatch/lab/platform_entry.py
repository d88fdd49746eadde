"""The platform area's probe entry inside a lab ISP namespace (sibling of ``lab/probe_entry.py``).

Reads one JSON request on stdin, prints one measurement per line (or ``{"error": ...}``):

    {"test": "platform" | "wireguard" | "openvpn" | "tor" | "throughput",
     "input": ...,                      # see below; optional for every test but platform
     "control_url": ..., "ca_file": ..., "cc": ..., "asn": ..., "system_resolver": ...,  # as for probe_entry
     "reference": URL, "samples": N, "duration": S}                # throughput only

- ``platform``: ``input`` is a catalogue name (``x``, ``whatsapp``, ... or ``all``). Telegram's real
  data-centre addresses are mapped onto the lab's (``world.TELEGRAM_DCS``), recorded in
  ``x_address_map``.
- ``wireguard`` / ``openvpn`` / ``tor``: ``input`` is an endpoint URI (``probe/circumvention/endpoints.py``);
  default: the lab's own server (``vpn_servers.LAB_ENDPOINTS``; OpenVPN over UDP).
- ``throughput``: ``input`` the target URL (default ``https://video.twimg.com/``), ``reference`` the
  same-network reference (default ``https://largefile.com/``).
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from censorwatch.lab import vpn_servers, world
from censorwatch.lab.entries import PLATFORM_TESTS, named
from censorwatch.model.addresses import AddressPolicy
from censorwatch.probe import ProbeConfig, build_context, dns, throughput, vpn
from censorwatch.probe import platforms as catalogue
from censorwatch.probe.circumvention import endpoints
from censorwatch.probe.netpolicy import parse_ip
from censorwatch.probe.platforms import experiment
from censorwatch.probe.trace import Trace

TESTS = PLATFORM_TESTS
#: Telegram's data centres as the catalogue lists them (OONI ts-020), in the lab's TELEGRAM_DCS order.
TELEGRAM_REAL = ("149.154.175.50", "149.154.167.51", "149.154.175.100", "149.154.167.91", "149.154.171.5",
                 "95.161.76.100")
DEFAULT_TARGET = "https://video.twimg.com/"
DEFAULT_REFERENCE = "https://largefile.com/"


async def measure(req: dict[str, Any]) -> list[dict[str, Any]]:

    test = req.get("test")
    if test not in TESTS:
        raise ValueError(f"test {test!r} is not one of {', '.join(TESTS)}")
    inp = req.get("input")
    ann = {"censorwatch_lab": True}
    if test in ("wireguard", "openvpn", "tor"):
        uri = await _endpoint_uri(test, inp, req.get("system_resolver"))
        ep = endpoints.parse(uri, "probe.input")
        if ep.protocol != test:
            raise ValueError(f"probe.input: a {ep.protocol} endpoint given to the {test} test")
        m = await vpn.run(ep, timeout=float(req.get("timeout", 4.0)), policy=AddressPolicy(lab=True, allow_private=True),
                          annotations=ann, probe_cc=req.get("cc") or "ZZ", probe_asn=req.get("asn") or "AS0")
        return [m]
    config = ProbeConfig(control_url=req.get("control_url"),
                         ca_files=[Path(req["ca_file"])] if req.get("ca_file") else [],
                         trust_system=False, lab=True, probe_cc=req.get("cc"), probe_asn=req.get("asn"),
                         system_resolver=req.get("system_resolver"))
    ctx = build_context(config)
    if test == "throughput":
        target = inp or DEFAULT_TARGET
        target = target if "://" in target else f"https://{target}/"
        return [await throughput.run(ctx, target, req.get("reference") or DEFAULT_REFERENCE,
                                     samples=int(req.get("samples", 3)), duration=float(req.get("duration", 3.0)))]
    cat = catalogue.load()
    names = list(cat) if inp in (None, "all") else [str(inp).strip().lower()]
    unknown = [n for n in names if n not in cat]
    if unknown:
        raise ValueError(f"probe.input: unknown platform {unknown[0]!r} (known: {', '.join(cat)}, all)")
    # the lab world serves Telegram's data centres at its own addresses, in the same order
    amap = dict(zip(TELEGRAM_REAL, world.TELEGRAM_DCS, strict=True))
    deadline = float(req.get("url_deadline", 60.0))  # per endpoint, as for web_connectivity's URLs
    return [await experiment.run(cat[n], ctx, endpoint_deadline=deadline, address_map=amap) for n in names]


async def _endpoint_uri(test: str, inp: str | None, resolver: str | None) -> str:
    """The endpoint URI for a VPN test: the lab server by default; ``IP:PORT`` or ``host:port`` accepted
    (names resolved with the ISP's resolver); the lab WireGuard server's key added when omitted."""
    if not inp:
        return vpn_servers.LAB_ENDPOINTS[test]
    uri = inp.strip() if "://" in inp else f"{test}://{inp.strip()}"
    u = urlsplit(uri)
    host = u.hostname or ""
    if host and parse_ip(host) is None and resolver:
        _, addrs, failure = await dns.lookup(Trace(), host, timeout=4.0, server=dns.split_hostport(resolver))
        if failure is not None or not addrs:
            raise ValueError(f"probe.input: {host} does not resolve ({failure})")
        uri = uri.replace(host, addrs[0], 1)
        host = addrs[0]
    if test == "wireguard" and "public_key=" not in uri and host == vpn_servers.LAB_WIREGUARD[0]:
        uri += ("&" if "?" in uri else "?") + f"public_key={vpn_servers.LAB_WG_PUBLIC}"
    return uri


def main() -> int:
    try:
        req = json.loads(sys.stdin.read())
        if not isinstance(req, dict):
            raise ValueError("the request must be a JSON object")
        from censorwatch.lab.submission import Submission

        async def measure_and_submit() -> Submission:
            async with Submission(req) as sub:
                for m in await measure(req):
                    await sub.put(named(m, req))
                    print(json.dumps(m), flush=True)
            return sub

        summary = asyncio.run(measure_and_submit()).summary()
        if summary is not None:
            print(json.dumps(summary), flush=True)
    except (ValueError, KeyError) as exc:
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}), flush=True)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
