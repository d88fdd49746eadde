"""Circumvention endpoints the user gives: ``wireguard://``, ``openvpn://`` and ``tor://`` URIs.

censorwatch ships no list of real third-party servers: probing someone's VPN server without consent
is not ours to decide, so every endpoint comes from the user (a file, or the command line), or from
the lab (``lab/vpn_servers.LAB_ENDPOINTS``).

    wireguard://IP:PORT?public_key=B64[&private_key=B64]   server key; client key if the server knows it
    openvpn://IP:PORT?transport=udp|tcp                   no tls-auth/tls-crypt (see openvpn.py)
    tor://IP:PORT                                         a relay's OR port

A real WireGuard server only answers initiators it knows, so against real servers give the
``private_key`` of a peer configured there; without it a fresh key is used (the lab server accepts
any peer). Hosts must be IP addresses: resolving a VPN's name is a DNS measurement of its own.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final
from urllib.parse import unquote, urlsplit

from censorwatch.probe.circumvention import wireguard

PROTOCOLS: Final = ("wireguard", "openvpn", "tor")
_DEFAULT_TRANSPORT: Final = {"wireguard": "udp", "openvpn": "udp", "tor": "tcp"}
_ALLOWED_PARAMS: Final = {
    "wireguard": {"public_key", "private_key"},
    "openvpn": {"transport"},
    "tor": set(),
}


class EndpointError(ValueError):
    """A bad endpoint; the message names where (``file:line``) and why."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    protocol: str
    ip: str
    port: int
    transport: str
    params: dict[str, str] = field(default_factory=dict, hash=False)
    uri: str = ""

    @property
    def public_uri(self) -> str:
        """The URI without the client's ``private_key``: what measurements record as ``input``."""
        if "private_key" not in self.params:
            return self.uri
        u = urlsplit(self.uri)
        query = "&".join(p for p in u.query.split("&") if not p.startswith("private_key="))
        return u._replace(query=query).geturl()

    @property
    def address(self) -> str:
        return f"[{self.ip}]:{self.port}" if ":" in self.ip else f"{self.ip}:{self.port}"


def _query(q: str) -> dict[str, str]:
    # not parse_qs: base64 keys contain '+', which must not become a space
    out: dict[str, str] = {}
    for part in filter(None, q.split("&")):
        k, _, v = part.partition("=")
        out[unquote(k)] = unquote(v)
    return out


def parse(uri: str, where: str = "endpoint") -> Endpoint:
    """Parse one endpoint URI; ``EndpointError`` names ``where`` and the reason."""
    text = uri.strip()
    try:
        u = urlsplit(text)
        host, port = u.hostname, u.port
    except ValueError as e:
        raise EndpointError(f"{where}: {text!r}: {e}") from None
    if u.scheme not in PROTOCOLS:
        raise EndpointError(f"{where}: {text!r}: scheme must be one of {', '.join(PROTOCOLS)}")
    if not host or port is None:
        raise EndpointError(f"{where}: {text!r}: expected {u.scheme}://IP:PORT")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise EndpointError(f"{where}: {text!r}: host must be an IP address, got {host!r}") from None
    params = _query(u.query)
    unknown = set(params) - _ALLOWED_PARAMS[u.scheme]
    if unknown:
        raise EndpointError(f"{where}: {text!r}: unknown parameter(s) {', '.join(sorted(unknown))}")
    transport = params.pop("transport", _DEFAULT_TRANSPORT[u.scheme])
    if transport not in ("udp", "tcp"):
        raise EndpointError(f"{where}: {text!r}: transport must be udp or tcp")
    if u.scheme == "wireguard":
        if "public_key" not in params:
            raise EndpointError(f"{where}: {text!r}: wireguard needs public_key=<server key, base64>")
        try:
            wireguard.load_public(params["public_key"])
            if "private_key" in params:
                wireguard.load_private(params["private_key"])
        except ValueError as e:
            raise EndpointError(f"{where}: {text!r}: {e}") from None
    return Endpoint(u.scheme, host, port, transport, params, text)


def load(path: Path) -> list[Endpoint]:
    """One URI per line; blank lines and ``#`` comments ignored."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise EndpointError(f"{path}: cannot read: {e}") from None
    out = []
    for n, line in enumerate(lines, 1):
        s = line.split("#", 1)[0].strip()
        if s:
            out.append(parse(s, f"{path}:{n}"))
    if not out:
        raise EndpointError(f"{path}: no endpoints")
    return out
