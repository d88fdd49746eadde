"""The one address policy: which IP addresses are on the public internet, for probe, control and analysis.

``TABLE`` is derived from the IANA IPv4 and IPv6 Special-Purpose Address Registries (RFC 6890), the
IPv4 multicast and IPv6 address-space registries, row by row: the prefix, IANA's name, the RFC, our
decision and why. The most specific row that contains an address decides. A decision is either
``public`` or the *kind* of non-public address (``loopback``, ``private``, ...), which is what
``why_not_public`` answers and what callers show.

Addresses that embed an IPv4 address are judged by the address they embed (``EMBEDDED``):
IPv4-mapped ``::ffff:0:0/96``, IPv4-compatible ``::/96``, 6to4 ``2002::/16``, NAT64
``64:ff9b::/96`` and the local-use ``64:ff9b:1::/48`` (read in the /96 format), Teredo ``2001::/32``
(server and client: either one non-public makes it non-public) and ISATAP interface identifiers
(``::0:5efe:a.b.c.d`` and ``::200:5efe:a.b.c.d`` under any prefix). So ``2002:7f00:1::`` is
``loopback`` and ``2002:a9fe:a9fe::`` is ``link-local`` (169.254.169.254), whatever the wrapper.

Lab mode: the lab's simulated internet lives in 198.18.0.0/15 (benchmarking space); with ``lab=True``
that range, and every address embedding it, is public. Nothing else changes with ``lab``.

``AddressPolicy`` says where a caller may connect: the control server never anything non-public
outside lab mode; the probe (``allow_private``) also private, shared, reserved, documentation,
benchmarking and deprecated ranges, because censors serve blockpages from such addresses (Iran's
10.10.34.34), but never the ``NEVER`` kinds (loopback only with ``allow_loopback``, for tests).

Speed: the analysis asks ``is_bogon`` about every DNS answer of every measurement, so the table is
flattened once into sorted integer intervals (``bisect``), an address is parsed with ``inet_pton``
(no ``ipaddress`` object per call) and answers are cached per spelling (``lru_cache``).
"""

from __future__ import annotations

import socket
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

PUBLIC: Final = "public"
EMBEDDED: Final = "embedded"  # judged by the IPv4 address inside
#: kinds that no caller may ever connect to (loopback only with ``allow_loopback``)
NEVER: Final = frozenset({"loopback", "link-local", "multicast", "unspecified", "broadcast", "not an IP address"})
LAB_NET: Final = (0xC6120000, 0xC613FFFF)  # 198.18.0.0/15


@dataclass(frozen=True, slots=True)
class Block:
    """One row: ``decision`` is ``public``, ``embedded`` or the kind of non-public address."""

    prefix: str
    name: str
    rfc: str
    decision: str
    why: str


V4: Final[tuple[Block, ...]] = (
    Block("0.0.0.0/8", "This network", "RFC 791 §3.2", "unspecified",
          "a source address only; connecting to 0.0.0.0 reaches this very host on Linux"),
    Block("0.0.0.0/32", "This host on this network", "RFC 1122 §3.2.1.3", "unspecified", "never a destination"),
    Block("10.0.0.0/8", "Private-Use", "RFC 1918", "private", "inside someone's network, not the internet"),
    Block("100.64.0.0/10", "Shared Address Space", "RFC 6598", "shared address space",
          "carrier-grade NAT inside an ISP"),
    Block("127.0.0.0/8", "Loopback", "RFC 1122 §3.2.1.3", "loopback", "the host itself"),
    Block("169.254.0.0/16", "Link Local", "RFC 3927", "link-local",
          "the local link; cloud metadata services (169.254.169.254) answer here"),
    Block("172.16.0.0/12", "Private-Use", "RFC 1918", "private", "inside someone's network"),
    Block("192.0.0.0/24", "IETF Protocol Assignments", "RFC 6890 §2.1", "reserved", "not globally reachable"),
    Block("192.0.0.0/29", "IPv4 Service Continuity Prefix", "RFC 7335", "reserved", "DS-Lite endpoints, local"),
    Block("192.0.0.8/32", "IPv4 dummy address", "RFC 7600", "reserved", "a placeholder source address"),
    Block("192.0.0.9/32", "Port Control Protocol Anycast", "RFC 7723", PUBLIC, "globally reachable anycast"),
    Block("192.0.0.10/32", "Traversal Using Relays around NAT Anycast", "RFC 8155", PUBLIC,
          "globally reachable anycast"),
    Block("192.0.0.170/32", "NAT64/DNS64 Discovery", "RFC 8880, RFC 7050", "reserved", "a well-known name's answer, local"),
    Block("192.0.0.171/32", "NAT64/DNS64 Discovery", "RFC 8880, RFC 7050", "reserved", "a well-known name's answer, local"),
    Block("192.0.2.0/24", "Documentation (TEST-NET-1)", "RFC 5737", "documentation", "examples only, never routed"),
    Block("192.31.196.0/24", "AS112-v4", "RFC 7535", PUBLIC, "globally reachable anycast"),
    Block("192.52.193.0/24", "AMT", "RFC 7450", PUBLIC, "globally reachable anycast"),
    Block("192.88.99.0/24", "Deprecated (6to4 Relay Anycast)", "RFC 7526", "deprecated",
          "the relays are gone; what answers here is not the site asked for"),
    Block("192.168.0.0/16", "Private-Use", "RFC 1918", "private", "inside someone's network"),
    Block("192.175.48.0/24", "Direct Delegation AS112 Service", "RFC 7534", PUBLIC, "globally reachable anycast"),
    Block("198.18.0.0/15", "Benchmarking", "RFC 2544", "benchmarking",
          "test networks only; the lab's simulated internet, public in lab mode"),
    Block("198.51.100.0/24", "Documentation (TEST-NET-2)", "RFC 5737", "documentation", "examples only"),
    Block("203.0.113.0/24", "Documentation (TEST-NET-3)", "RFC 5737", "documentation", "examples only"),
    Block("224.0.0.0/4", "Multicast", "RFC 5771", "multicast", "not one host: never a web server"),
    Block("240.0.0.0/4", "Reserved", "RFC 1112 §4", "reserved", "unallocated, not routed"),
    Block("255.255.255.255/32", "Limited Broadcast", "RFC 8190, RFC 919 §7", "broadcast", "every host on the link"),
)

V6: Final[tuple[Block, ...]] = (
    Block("::/0", "Reserved by IETF (outside the allocated blocks)", "RFC 4291", "reserved",
          "not allocated for unicast: only 2000::/3 is global unicast"),
    Block("2000::/3", "Global Unicast", "RFC 4291", PUBLIC, "the public IPv6 internet"),
    Block("::/128", "Unspecified Address", "RFC 4291", "unspecified", "never a destination"),
    Block("::1/128", "Loopback Address", "RFC 4291", "loopback", "the host itself"),
    Block("::/96", "IPv4-compatible (deprecated)", "RFC 4291 §2.5.5.1", EMBEDDED, "embeds an IPv4 address"),
    Block("::ffff:0:0/96", "IPv4-mapped Address", "RFC 4291", EMBEDDED,
          "a dual-stack socket connects to the IPv4 address inside"),
    Block("64:ff9b::/96", "IPv4-IPv6 Translat.", "RFC 6052", EMBEDDED, "NAT64 reaches the IPv4 address inside"),
    Block("64:ff9b:1::/48", "Local-use IPv4/IPv6 Translation", "RFC 8215", EMBEDDED,
          "local NAT64 reaches the IPv4 address inside (read in the /96 format)"),
    Block("100::/64", "Discard-Only Address Block", "RFC 6666", "reserved", "traffic here is dropped"),
    Block("2001::/23", "IETF Protocol Assignments", "RFC 2928", "reserved", "not globally reachable"),
    Block("2001::/32", "TEREDO", "RFC 4380, RFC 8190", EMBEDDED,
          "tunnels to the IPv4 server and client addresses inside"),
    Block("2001:1::1/128", "Port Control Protocol Anycast", "RFC 7723", PUBLIC, "globally reachable anycast"),
    Block("2001:1::2/128", "TURN Anycast", "RFC 8155", PUBLIC, "globally reachable anycast"),
    Block("2001:1::3/128", "DNS-SD Service Registration Protocol Anycast", "RFC 9665", PUBLIC,
          "globally reachable anycast"),
    Block("2001:2::/48", "Benchmarking", "RFC 5180", "benchmarking", "test networks only"),
    Block("2001:3::/32", "AMT", "RFC 7450", PUBLIC, "globally reachable anycast"),
    Block("2001:4:112::/48", "AS112-v6", "RFC 7535", PUBLIC, "globally reachable anycast"),
    Block("2001:10::/28", "Deprecated (previously ORCHID)", "RFC 4843", "deprecated", "never a locator"),
    Block("2001:20::/28", "ORCHIDv2", "RFC 7343", "reserved",
          "IANA: globally reachable, but these are identifiers, not routable locators (RFC 7343 §2)"),
    Block("2001:30::/28", "Drone Remote ID Protocol Entity Tags (DETs) Prefix", "RFC 9374", "reserved",
          "identifiers, not routable locators"),
    Block("2001:db8::/32", "Documentation", "RFC 3849", "documentation", "examples only, never routed"),
    Block("2002::/16", "6to4", "RFC 3056", EMBEDDED, "tunnels to the IPv4 address inside"),
    Block("2620:4f:8000::/48", "Direct Delegation AS112 Service", "RFC 7534", PUBLIC, "globally reachable anycast"),
    Block("3fff::/20", "Documentation", "RFC 9637", "documentation", "examples only, never routed"),
    Block("5f00::/16", "Segment Routing (SRv6) SIDs", "RFC 9602", "reserved", "not globally reachable"),
    Block("fc00::/7", "Unique-Local", "RFC 4193, RFC 8190", "private", "inside someone's network"),
    Block("fe80::/10", "Link-Local Unicast", "RFC 4291", "link-local", "the local link"),
    Block("fec0::/10", "Site-local (deprecated)", "RFC 3879", "private",
          "deprecated, but old stacks still route it inside a site"),
    Block("ff00::/8", "Multicast", "RFC 4291", "multicast", "not one host: never a web server"),
)

TABLE: Final = V4 + V6


def _range(prefix: str) -> tuple[int, int, int]:
    """(version, first, last) of a CIDR prefix."""
    net, bits = prefix.split("/")
    family, width = (socket.AF_INET6, 128) if ":" in net else (socket.AF_INET, 32)
    first = int.from_bytes(socket.inet_pton(family, net), "big")
    size = 1 << (width - int(bits))
    if first % size:
        raise ValueError(f"{prefix}: host bits set")
    return (6 if width == 128 else 4), first, first + size - 1


def _flatten(rows: tuple[Block, ...], version: int, default: int) -> tuple[list[int], list[int]]:
    """Sorted interval starts and, for each, the index of the most specific row covering it
    (``default`` where no row does)."""
    spans = []
    for i, row in enumerate(rows):
        v, first, last = _range(row.prefix)
        if v != version:
            raise ValueError(f"{row.prefix}: not IPv{version}")
        spans.append((first, last, i))
    cuts = sorted({s for s, _, _ in spans} | {e + 1 for _, e, _ in spans} | {0})
    starts: list[int] = []
    owners: list[int] = []
    for cut in cuts:
        covering = [(e - s, i) for s, e, i in spans if s <= cut <= e]
        owner = min(covering)[1] if covering else default
        if not owners or owners[-1] != owner:
            starts.append(cut)
            owners.append(owner)
    return starts, owners


_V4_STARTS, _V4_OWNERS = _flatten(V4, 4, -1)
_V6_STARTS, _V6_OWNERS = _flatten(V6, 6, -1)
_M32 = 0xFFFFFFFF
#: where each embedded form keeps its IPv4 address(es), by the row's prefix
_INNER: Final[dict[str, Callable[[int], list[int]]]] = {
    "::/96": lambda v: [v & _M32],
    "::ffff:0:0/96": lambda v: [v & _M32],
    "64:ff9b::/96": lambda v: [v & _M32],
    "64:ff9b:1::/48": lambda v: [v & _M32],
    "2002::/16": lambda v: [(v >> 80) & _M32],
    "2001::/32": lambda v: [(v >> 64) & _M32, ~v & _M32],  # Teredo: server, then the client (inverted)
}
_ISATAP_MASK, _ISATAP_ID = 0xFCFFFFFF, 0x00005EFE  # interface id 0?00:5efe (u/g bits free) + IPv4


def parse(text: str) -> tuple[int, int] | None:
    """``(version, integer)`` of an IP literal (brackets and an IPv6 zone tolerated), else None.

    Only the canonical spellings ``inet_pton`` accepts: no ``127.1``, no octal, no hex IPv4."""
    s = text.strip()
    if s.startswith("[") and s.endswith("]"):
        s = s[1:-1]
    try:
        if ":" in s:
            return 6, int.from_bytes(socket.inet_pton(socket.AF_INET6, s.split("%", 1)[0]), "big")
        return 4, int.from_bytes(socket.inet_pton(socket.AF_INET, s), "big")
    except (OSError, ValueError):
        return None


def _v4_row(value: int) -> Block | None:
    i = _V4_OWNERS[bisect_right(_V4_STARTS, value) - 1]
    return V4[i] if i >= 0 else None


def _judge_v4(value: int) -> str:
    row = _v4_row(value)
    return PUBLIC if row is None else row.decision


def _v6_row(value: int) -> Block:
    return V6[_V6_OWNERS[bisect_right(_V6_STARTS, value) - 1]]


def embedded_ipv4(value: int) -> list[int]:
    """The IPv4 addresses an IPv6 address (as an integer) embeds: none, one, or Teredo's two.
    ISATAP interface ids count only under a public prefix (elsewhere the prefix decides already)."""
    row = _v6_row(value)
    if row.decision == EMBEDDED:
        return _INNER[row.prefix](value)
    if row.decision == PUBLIC and (value >> 32) & _ISATAP_MASK == _ISATAP_ID:
        return [value & _M32]
    return []


def _judge(version: int, value: int) -> tuple[str, bool]:
    """(decision, whether the judged address lies in the lab net) for a parsed address."""
    if version == 4:
        return _judge_v4(value), LAB_NET[0] <= value <= LAB_NET[1]
    inner = embedded_ipv4(value)
    if not inner:
        return _v6_row(value).decision, False
    # any non-public embedded address makes it non-public; lab-net ones only outside lab mode
    judged = [(_judge_v4(v4), LAB_NET[0] <= v4 <= LAB_NET[1]) for v4 in inner]
    outside_lab = [(d, lab) for d, lab in judged if d != PUBLIC and not lab]
    in_lab = [(d, lab) for d, lab in judged if d != PUBLIC and lab]
    return (outside_lab or in_lab or [(PUBLIC, False)])[0]


@lru_cache(maxsize=1 << 16)
def _judged(text: str) -> tuple[str | None, bool]:
    parsed = parse(text)
    if parsed is None:
        return "not an IP address", False
    decision, in_lab = _judge(*parsed)
    return (None if decision == PUBLIC else decision), in_lab


def why_not_public(ip: str, *, lab: bool = False) -> str | None:
    """None when ``ip`` is a public address, else its kind (``"loopback"``, ``"private"``, ...)."""
    why, in_lab = _judged(ip)
    return None if lab and in_lab else why


def is_bogon(ip: str, *, lab: bool = False) -> bool:
    """True when ``ip`` is an IP literal that is not public (text that is no IP address is not a bogon)."""
    why, in_lab = _judged(ip)
    return why is not None and why != "not an IP address" and not (lab and in_lab)


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """Destinations a caller may connect to.

    ``allow_loopback`` (tests only) permits loopback. ``allow_private`` permits every non-public kind
    but the ``NEVER`` ones: a probe needs it because censors serve blockpages from RFC 1918 addresses;
    the control server never sets it outside lab mode. ``lab`` makes 198.18.0.0/15 public.
    """

    lab: bool = False
    allow_loopback: bool = False
    allow_private: bool = False

    def refusal(self, ip: str) -> str | None:
        """None when allowed, else the reason the address is refused."""
        why = why_not_public(ip, lab=self.lab)
        if why is None:
            return None
        if why == "loopback" and self.allow_loopback:
            return None
        if self.allow_private and why not in NEVER:
            return None
        return why


def table_markdown() -> str:
    """The table as Markdown rows (docs/addresses.md shows it)."""
    lines = ["| prefix | IANA name | RFC | our decision | why |", "|---|---|---|---|---|"]
    lines += [f"| `{b.prefix}` | {b.name} | {b.rfc} | {b.decision} | {b.why} |" for b in TABLE]
    return "\n".join(lines)
