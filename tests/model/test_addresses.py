"""The one address policy against an independent reading of its own table.

The reference below evaluates ``TABLE`` with the standard library's ``ipaddress`` (network
membership, the most specific row wins; ``ipv4_mapped``, ``sixtofour`` and ``teredo`` for the embedded
forms), not with the module's flattened integer intervals; hypothesis draws addresses from every row
of the table, around its edges, from every embedded form, and at random.
"""

from __future__ import annotations

import ipaddress
from ipaddress import IPv4Address, IPv6Address

from hypothesis import given
from hypothesis import strategies as st

from censorwatch.model import addresses as A

NETS = [(ipaddress.ip_network(b.prefix), b) for b in A.TABLE]


def ref_row(addr: IPv4Address | IPv6Address) -> A.Block | None:
    rows = [(net.prefixlen, b) for net, b in NETS if net.version == addr.version and addr in net]
    return max(rows, key=lambda r: r[0])[1] if rows else None


def ref_inner(addr: IPv6Address) -> list[IPv4Address]:
    row = ref_row(addr)
    assert row is not None
    if row.decision == A.EMBEDDED:
        if addr.ipv4_mapped is not None:
            return [addr.ipv4_mapped]
        if addr.sixtofour is not None:
            return [addr.sixtofour]
        if addr.teredo is not None:
            return list(addr.teredo)
        return [IPv4Address(addr.packed[12:])]  # IPv4-compatible, NAT64
    iid = addr.packed[8:12]
    if row.decision == A.PUBLIC and iid[0] & 0xFC == 0 and iid[1:] == b"\x00\x5e\xfe":  # ISATAP
        return [IPv4Address(addr.packed[12:])]
    return []


LAB = ipaddress.ip_network("198.18.0.0/15")


def ref_why(text: str, lab: bool) -> str | None:
    addr = ipaddress.ip_address(text)
    if isinstance(addr, IPv4Address):
        row = ref_row(addr)
        if lab and addr in LAB:
            return None
        return None if row is None or row.decision == A.PUBLIC else row.decision
    inner = ref_inner(addr)
    if not inner:
        row = ref_row(addr)
        assert row is not None
        return None if row.decision == A.PUBLIC else row.decision
    judged = [ref_why(str(v4), lab) for v4 in inner]
    return next((w for w in judged if w is not None), None)


def _host_in(prefix: str) -> st.SearchStrategy[str]:
    net = ipaddress.ip_network(prefix)
    first, last = int(net.network_address), int(net.broadcast_address)
    cls = IPv4Address if net.version == 4 else IPv6Address
    edges = sorted({first, last, min(first + 1, last), max(first, last - 1)})
    return st.one_of(st.sampled_from(edges), st.integers(first, last)).map(lambda i: str(cls(i)))


def _around(prefix: str) -> st.SearchStrategy[str]:
    """Just outside a row: the addresses before and after it."""
    net = ipaddress.ip_network(prefix)
    top = 2**32 - 1 if net.version == 4 else 2**128 - 1
    cls = IPv4Address if net.version == 4 else IPv6Address
    edges = [str(cls(e)) for e in (int(net.network_address) - 1, int(net.broadcast_address) + 1) if 0 <= e <= top]
    return st.sampled_from(edges) if edges else _host_in(prefix)


any_v4 = st.integers(0, 2**32 - 1).map(lambda i: str(IPv4Address(i)))
any_v6 = st.integers(0, 2**128 - 1).map(lambda i: str(IPv6Address(i)))
from_table = st.sampled_from([b.prefix for b in A.TABLE]).flatmap(lambda p: st.one_of(_host_in(p), _around(p)))
special_v4 = st.sampled_from([b.prefix for b in A.V4]).flatmap(_host_in)
v4_for_embedding = st.one_of(special_v4, any_v4)
addresses = st.one_of(any_v4, any_v6, from_table)


def mapped(v4: str) -> str:
    return f"::ffff:{v4}"


def compat(v4: str) -> str:
    return str(IPv6Address(int(IPv4Address(v4))))


def six_to_four(v4: str) -> str:
    return str(IPv6Address((0x2002 << 112) | (int(IPv4Address(v4)) << 80) | 0x1234))


def nat64(v4: str) -> str:
    return str(IPv6Address(int(IPv6Address("64:ff9b::")) | int(IPv4Address(v4))))


def nat64_local(v4: str) -> str:
    return str(IPv6Address(int(IPv6Address("64:ff9b:1::")) | int(IPv4Address(v4))))


def teredo_client(v4: str) -> str:  # a public server (8.8.8.8), the client address inverted
    return str(IPv6Address((0x20010000 << 96) | (0x08080808 << 64) | (~int(IPv4Address(v4)) & 0xFFFFFFFF)))


def isatap(v4: str) -> str:  # under a public prefix
    return str(IPv6Address(int(IPv6Address("2a00:1:2:3::")) | (0x02005EFE << 32) | int(IPv4Address(v4))))


FORMS = [mapped, compat, six_to_four, nat64, nat64_local, teredo_client, isatap]


@given(addresses, st.booleans())
def test_agrees_with_the_table_read_independently(ip: str, lab: bool) -> None:
    assert A.why_not_public(ip, lab=lab) == ref_why(ip, lab)
    assert A.is_bogon(ip, lab=lab) == (ref_why(ip, lab) is not None)


@given(v4_for_embedding, st.sampled_from(FORMS), st.booleans())
def test_embedded_forms_are_judged_as_the_address_they_embed(v4: str, form: object, lab: bool) -> None:
    wrapped = form(v4)  # type: ignore[operator]
    if form is compat and int(IPv4Address(v4)) <= 1:
        return  # ::/128 and ::1/128 are rows of their own
    assert A.why_not_public(wrapped, lab=lab) == A.why_not_public(v4, lab=lab), (v4, wrapped)


@given(addresses)
def test_lab_mode_changes_only_the_lab_net(ip: str) -> None:
    outside, inside = A.why_not_public(ip), A.why_not_public(ip, lab=True)
    if outside == inside:
        return
    assert inside is None and outside == "benchmarking"
    addr = ipaddress.ip_address(ip)
    judged = [addr] if isinstance(addr, IPv4Address) else ref_inner(addr)
    assert any(a in LAB for a in judged), ip


@given(addresses, st.booleans(), st.booleans(), st.booleans())
def test_policy_semantics(ip: str, lab: bool, allow_loopback: bool, allow_private: bool) -> None:
    why = A.why_not_public(ip, lab=lab)
    refusal = A.AddressPolicy(lab=lab, allow_loopback=allow_loopback, allow_private=allow_private).refusal(ip)
    if why is None:
        assert refusal is None
    elif why == "loopback":
        assert (refusal is None) == allow_loopback
    elif why in A.NEVER:
        assert refusal == why  # link-local, multicast, unspecified, broadcast: never
    else:
        assert (refusal is None) == allow_private


@given(st.text(max_size=40))
def test_text_that_is_no_address(text: str) -> None:
    try:
        ipaddress.ip_address(text.strip().strip("[]").split("%", 1)[0])
        return
    except ValueError:
        pass
    assert A.why_not_public(text) in (None, "not an IP address") or A.parse(text) is not None
    if A.parse(text) is None:
        assert A.why_not_public(text) == "not an IP address" and not A.is_bogon(text)


def test_known_answers() -> None:
    cases = {
        "8.8.8.8": None, "2001:4860:4860::8888": None, "10.10.34.34": "private", "127.0.0.1": "loopback",
        "169.254.169.254": "link-local", "0.0.0.0": "unspecified", "0.1.2.3": "unspecified",
        "100.64.0.1": "shared address space", "192.88.99.1": "deprecated", "192.0.0.9": None,
        "198.18.0.1": "benchmarking", "203.0.113.5": "documentation", "255.255.255.255": "broadcast",
        "240.0.0.1": "reserved", "224.0.0.251": "multicast", "::": "unspecified", "::1": "loopback",
        "fec0::1": "private", "fc00::1": "private", "fe80::1%eth0": "link-local", "ff02::1": "multicast",
        "2002:7f00:1::": "loopback", "2002:a9fe:a9fe::": "link-local", "2002:808:808::": None,
        "4000::1": "reserved", "3fff::1": "documentation", "2001:20::1": "reserved", "[::1]": "loopback",
        "127.1": "not an IP address", "0x7f000001": "not an IP address",
    }
    for ip, why in cases.items():
        assert A.why_not_public(ip) == why, ip


def test_every_row_is_a_clean_prefix_with_a_known_decision() -> None:
    kinds = {A.PUBLIC, A.EMBEDDED, "private", "shared address space", "reserved", "documentation",
             "benchmarking", "deprecated"} | A.NEVER
    for b in A.TABLE:
        ipaddress.ip_network(b.prefix)  # strict: no host bits
        assert b.decision in kinds and b.name and b.rfc.startswith("RFC") and b.why, b
    assert "2002::/16" in A.table_markdown() and "192.88.99.0/24" in A.table_markdown()


def test_the_docs_show_the_table_as_it_is() -> None:
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "addresses.md").read_text(encoding="utf-8")
    assert A.table_markdown() in doc
