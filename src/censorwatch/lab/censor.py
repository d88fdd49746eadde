"""The censor's rules compiled for the kernel (iptables in the censor namespace) and for the user-space
proxy (close, blockpage, throttle, protocol). First match wins in both, in the scenario's order.

Kernel side: chain CW (jumped to from FORWARD and INPUT for packets from the ISP) holds one entry per
rule: ``reset`` -> REJECT tcp-reset on the matching data packet, ``drop`` -> DROP, ``refuse`` -> REJECT
tcp-reset on the SYN; UDP that user space decides (forged DNS answers, ``protocol:`` rules) goes to
NFQUEUE, judged per packet (``nfqueue.py``); TCP rules the proxy implements ACCEPT their packets
(stopping the chain) and the nat table REDIRECTs their candidate connections to the proxy.

Everything but the proxy's REDIRECT is decided per packet, so a rule change holds from the next packet
of every flow; REDIRECT (NAT) is decided when a connection opens, so proxy rules hold from the next
connection, and connections the proxy already carries keep going through it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from censorwatch.lab import addresses as A
from censorwatch.lab import protocols
from censorwatch.lab.errors import ScenarioError
from censorwatch.lab.scenario import Rule
from censorwatch.lab.world import CONTROL_NAMES, World, lookup

PROXY_PORT = 15001
PROXY_ACTIONS = ("close", "blockpage", "throttle")
#: no --queue-bypass: a packet no judge is bound to decide is dropped (fail closed)
QUEUE = "NFQUEUE --queue-num 0"
#: Rules without a target whose conntrack match keeps connection tracking on in the censor namespace
#: from its first rule set. The kernel tracks flows only while some rule needs it; a flow opened
#: untracked would be picked up mid-stream by the first rule set that needs tracking, as a new
#: connection, and the proxy's REDIRECT would send its next segment to a socket that never saw it
#: (a reset of a flow no rule matches).
TRACK = ("-A INPUT -m conntrack --ctstate NEW", "-A FORWARD -m conntrack --ctstate NEW")


@dataclass(frozen=True, slots=True)
class Compiled:
    iptables: str  # the namespace's whole ruleset (iptables-restore), installed when the world is built
    chains: str  # only chains CW and CWNAT (iptables-restore --noflush), installed on every change
    #: every rule, resolved, for the proxy's and the packet judge's own first match
    proxy_rules: list[dict[str, Any]]

    @property
    def queues(self) -> bool:
        """Whether these rules send packets to the NFQUEUE judge."""
        return "-j NFQUEUE" in self.iptables


def names_of(target: str) -> list[str]:
    return list(CONTROL_NAMES) if target == "@control" else [target]


def endpoint_addrs(target: str, world: World, network: int, where: str) -> tuple[list[str], int, str]:
    hostport, _, proto = target.partition("/")
    host, _, port = hostport.rpartition(":")
    if host == "@isp_proxy":
        addrs = [A.isp_proxy(network)]
    elif host.startswith("@"):
        addrs = [world.aliases()[host]]
    elif host.replace(".", "").isdigit():
        addrs = [host]
    else:
        found = lookup(world.base_zone(), host)
        if not found:
            raise ScenarioError(where, f"endpoint host {host!r} is not a host of the world")
        addrs = list(found)
    return addrs, int(port), proto


def answer_addrs(answer: tuple[str, ...], world: World, network: int, where: str) -> list[str]:
    out: list[str] = []
    aliases = world.aliases()
    for a in answer:
        if a == "@isp_proxy":
            out.append(A.isp_proxy(network))
        elif a.startswith("@"):
            out.append(aliases[a])
        elif a.replace(".", "").isdigit():
            out.append(a)
        else:
            found = lookup(world.base_zone(), a)
            if not found:
                raise ScenarioError(where, f"answer {a!r} is not a host of the world")
            out += found
    return out


def _hex(b: bytes) -> str:
    return "|" + " ".join(f"{x:02x}" for x in b) + "|"


def qname_wire(name: str) -> bytes:
    return b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\x00"


def _string_matches(r: Rule) -> list[str]:
    """iptables match fragments (one per name) for sni/host/dns rules."""
    out = []
    for name in names_of(r.target):
        if r.matcher == "sni":  # server_name entry: type 0, 2-byte length, name
            pat = b"\x00" + len(name).to_bytes(2, "big") + name.encode()
            out.append(f"-m string --algo bm --icase --hex-string \"{_hex(pat)}\"")
        elif r.matcher == "host":
            pat = f"\r\nHost: {name}\r\n".encode()
            out.append(f"-m string --algo bm --icase --hex-string \"{_hex(pat)}\"")
        elif r.matcher == "dns":  # the question name right after the 12-byte header (IP 20 + UDP 8 + 12)
            pat = qname_wire(name)
            out.append(f"-m string --algo bm --icase --from 40 --to {40 + len(pat)} --hex-string \"{_hex(pat)}\"")
    return out


def compile_rules(rules: tuple[Rule, ...], world: World, network: int, isp_if: str) -> Compiled:
    filt: list[str] = []
    nat: list[str] = [f"-A CWNAT -d 198.19.{network}.0/24 -j RETURN"]
    proxy: list[dict[str, Any]] = []
    for i, r in enumerate(rules):
        where = f"censor[{i}]"
        d = r.to_dict()
        if r.matcher == "shutdown":
            filt.append("-A CW -j DROP")
        elif r.matcher == "dns":
            d["names"] = names_of(r.target)
            if r.action != "drop":
                d["addrs"] = answer_addrs(r.answer or (), world, network, f"{where}.answer")
            for m in _string_matches(r):  # queries: the judge drops them and forges the answer
                filt.append(f"-A CW -p udp --dport 53 {m} -j " + ("DROP" if r.action == "drop" else QUEUE))
        elif r.matcher == "endpoint":
            addrs, port, proto = endpoint_addrs(r.target, world, network, f"{where}.endpoint")
            d["addrs"], d["port"], d["proto"] = addrs, port, proto
            for a in addrs:
                sel = f"-p {proto} -m conntrack --ctorigdst {a} --ctorigdstport {port}"
                filt.append(_endpoint_action(sel, proto, r.action or ""))
                if r.action in PROXY_ACTIONS:
                    nat.append(f"-A CWNAT -p tcp -d {a} --dport {port} --syn -j REDIRECT --to-ports {PROXY_PORT}")
        elif r.matcher in ("sni", "host"):
            sel = "-p tcp" + (f" -m conntrack --ctorigdstport {r.port}" if r.port else "")
            d["names"] = names_of(r.target)
            for m in _string_matches(r):
                filt.append(f"-A CW {sel} {m} " + _payload_action(r.action or ""))
            if r.action in PROXY_ACTIONS:
                nat.append("-A CWNAT -p tcp" + (f" --dport {r.port}" if r.port else "")
                           + f" --syn -j REDIRECT --to-ports {PROXY_PORT}")
        elif r.matcher == "protocol":
            if r.target not in protocols.PROTOCOLS:
                raise ScenarioError(f"{where}.protocol", f"unknown protocol {r.target!r} "
                                    f"(known: {', '.join(sorted(protocols.PROTOCOLS))})")
            nat.append("-A CWNAT -p tcp" + (f" --dport {r.port}" if r.port else "")
                       + f" --syn -j REDIRECT --to-ports {PROXY_PORT}")
            sel = " -m conntrack --ctorigdstport " + str(r.port) if r.port else ""
            filt.append(f"-A CW -p tcp{sel} -j ACCEPT")  # TCP: the proxy decides
            filt.append(f"-A CW -p udp{sel} -j {QUEUE}")  # UDP: the packet judge
        proxy.append(d)
    chains = "\n".join(["*nat", ":CWNAT - [0:0]", *nat, "COMMIT", "*filter", ":CW - [0:0]", *filt, "COMMIT", ""])
    text = "\n".join([
        "*nat", ":PREROUTING ACCEPT [0:0]", ":INPUT ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]",
        ":POSTROUTING ACCEPT [0:0]", ":CWNAT - [0:0]", f"-A PREROUTING -i {isp_if} -j CWNAT", *nat, "COMMIT",
        "*filter", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]", ":CW - [0:0]",
        *TRACK, f"-A INPUT -i {isp_if} -j CW", f"-A FORWARD -i {isp_if} -j CW", *filt, "COMMIT", "",
    ])
    return Compiled(text, chains, proxy)


def _payload_action(action: str) -> str:
    if action == "reset":
        return "-j REJECT --reject-with tcp-reset"
    if action == "drop":
        return "-j DROP"
    return "-j ACCEPT"  # the proxy decides


def _endpoint_action(sel: str, proto: str, action: str) -> str:
    if proto == "udp":
        if action in ("reset", "refuse"):
            return f"-A CW {sel} -j REJECT --reject-with icmp-port-unreachable"
        return f"-A CW {sel} -j DROP"
    if action == "refuse":
        return f"-A CW {sel} --syn -j REJECT --reject-with tcp-reset"
    if action == "reset":  # let the handshake finish, reset the first data segment
        return f"-A CW {sel} ! --syn -m length --length 53:65535 -j REJECT --reject-with tcp-reset"
    if action == "drop":
        return f"-A CW {sel} -j DROP"
    return f"-A CW {sel} -j ACCEPT"


# -- the proxy's view -----------------------------------------------------------------------------------
def parse_sni(data: bytes) -> str | None:
    """The server_name of a TLS ClientHello (None if ``data`` is not one or has no SNI)."""
    try:
        if len(data) < 43 or data[0] != 0x16 or data[5] != 0x01:
            return None
        p = 9 + 2 + 32  # record(5) + handshake header(4) + version(2) + random(32)
        p += 1 + data[p]  # session id
        p += 2 + int.from_bytes(data[p:p + 2], "big")  # cipher suites
        p += 1 + data[p]  # compression
        end = p + 2 + int.from_bytes(data[p:p + 2], "big")
        p += 2
        while p + 4 <= min(end, len(data)):
            etype, elen = int.from_bytes(data[p:p + 2], "big"), int.from_bytes(data[p + 2:p + 4], "big")
            if etype == 0:
                q = p + 4 + 2
                if data[q] == 0:
                    n = int.from_bytes(data[q + 1:q + 3], "big")
                    return data[q + 3:q + 3 + n].decode("ascii", "replace").lower()
            p += 4 + elen
    except IndexError:
        return None
    return None


def parse_host(data: bytes) -> str | None:
    head = data.split(b"\r\n\r\n", 1)[0]
    for line in head.split(b"\r\n")[1:]:
        name, sep, value = line.partition(b":")
        if sep and name.strip().lower() == b"host":
            return value.strip().decode("latin-1").split(":")[0].lower()
    return None


def match(rules: list[dict[str, Any]], dst: str, port: int, first: bytes) -> dict[str, Any] | None:
    """The first rule that applies to a TCP connection to ``dst:port`` whose first bytes are ``first``."""
    sni = parse_sni(first)
    host = parse_host(first) if sni is None else None
    for r in rules:
        m = r["matcher"]
        if m == "shutdown":
            return r
        if r.get("port") and m in ("sni", "host", "protocol") and r["port"] != port:
            continue
        if (m == "sni" and sni in r["names"]) or (m == "host" and host in r["names"]):
            return r
        if m == "endpoint" and r["proto"] == "tcp" and dst in r["addrs"] and r["port"] == port:
            return r
        if m == "protocol" and _protocol_matches(r["target"], first):
            return r
    return None


def _protocol_matches(name: str, payload: bytes) -> bool:
    try:
        return protocols.matches(name, payload, "tcp")
    except (ValueError, IndexError):
        return False


def check_scenario(sc: Any, world: World) -> None:
    """Compile every rule set of a scenario (networks and timeline) against ``world`` without building
    anything, so unknown endpoint hosts, answers and protocols are reported before a world exists."""
    for n, net in enumerate(sc.networks):
        sets = [(f"networks[{n}].censor" if len(sc.networks) > 1 or net.name != "isp" else "censor", net.censor)]
        sets += [(f"timeline[{i}].censor", e.censor) for i, e in enumerate(sc.timeline)
                 if e.censor is not None and e.network in (None, net.name)]
        for where, rules in sets:
            try:
                compile_rules(rules, world, n, "check")
            except ScenarioError as exc:
                loc = exc.location.removeprefix("censor")
                raise ScenarioError(f"{sc.source}: {where}{loc}", exc.reason) from None
