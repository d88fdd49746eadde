"""A censor rule is in force when ``up()`` or a timeline step returns, from the first packet; and a rule
change never disturbs flows the rules do not match.

Every action is checked with real packets sent the moment the call returns, on a fresh socket and on a
socket that already talked before the change (the same 5-tuple: nothing may depend on connection
tracking state), many times over, from one thread per network at once.
"""

from __future__ import annotations

import os
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import dns.exception
import dns.message
import dns.query
import dns.rcode
import pytest
from labclient import client_for
from test_censor_rules import client_hello

from censorwatch.lab import addresses as A
from censorwatch.lab import netns, scenario
from censorwatch.lab.instance import LabInstance
from censorwatch.lab.scenario import TimelineEntry
from censorwatch.probe.circumvention import openvpn, tor, wireguard

pytestmark = pytest.mark.lab

EX_COM, EX_ORG, X = "198.18.1.1", "198.18.1.2", "198.18.2.1"
ECHO = (EX_COM, 7)  # the tests' own TCP and UDP echo servers, in the internet namespace
SILENCE = 0.5  # a blocked exchange stays unanswered this long (an unblocked one answers in milliseconds)
PATIENCE = 15.0  # an unblocked exchange may take this long on a loaded machine
STEPS = int(os.environ.get("CENSORWATCH_RULE_STEPS", "20"))
UPS = int(os.environ.get("CENSORWATCH_RULE_UPS", "4"))


class Echo:
    """TCP and UDP echo servers on one address of the lab's internet (threads in this process)."""

    def __init__(self, ns: str, addr: str, port: int) -> None:
        with netns.netns(ns):
            self.tcp = socket.socket()
            self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind((addr, port))
        self.tcp.listen(128)
        self.udp.bind((addr, port))
        self.stopped = threading.Event()
        self.threads = [threading.Thread(target=t, daemon=True) for t in (self._accept, self._datagrams)]
        for s in (self.tcp, self.udp):
            s.settimeout(0.2)
        for t in self.threads:
            t.start()

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.tcp.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(None)
            threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    @staticmethod
    def _echo(conn: socket.socket) -> None:
        with conn:
            try:
                while data := conn.recv(65536):
                    conn.sendall(data)
            except OSError:
                pass

    def _datagrams(self) -> None:
        while not self.stopped.is_set():
            try:
                data, peer = self.udp.recvfrom(65536)
                self.udp.sendto(data, peer)
            except TimeoutError:
                continue
            except OSError:
                return

    def close(self) -> None:
        self.stopped.set()
        for t in self.threads:
            t.join()
        self.tcp.close()
        self.udp.close()


def wg_initiation() -> bytes:
    server, client = wireguard.X25519PrivateKey.generate(), wireguard.X25519PrivateKey.generate()
    return wireguard.initiation(client, wireguard.public_bytes(server))[0]


WG = wg_initiation()
OVPN = openvpn.client_hard_reset(openvpn.new_session_id())
TOR_HELLO = client_hello(tor.random_server_name())


# -- the exchanges: each returns normally when its expectation holds ----------------------------------
class Net:
    """One network's client, with a UDP socket kept across steps (the same 5-tuple every time)."""

    def __init__(self, lab: LabInstance, name: str) -> None:
        self.name, self.client = name, client_for(lab, name)
        self.resolver = A.isp_resolver(lab.topo.index(name))
        with netns.netns(self.client.ns):
            self.kept = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.kept.bind(("0.0.0.0", 0))

    def udp(self, payload: bytes, to: tuple[str, int], timeout: float, fresh: bool) -> bytes:
        """Send one datagram; its answer (TimeoutError when none comes)."""
        if fresh:
            with netns.netns(self.client.ns):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        else:
            s = self.kept
        try:
            s.settimeout(timeout)
            s.connect(to)
            s.send(payload)
            while True:  # skip late answers to earlier questions of a kept socket
                data = s.recv(65536)
                if data == payload or (to[1] == 53 and data[:2] == payload[:2]):
                    return data
        finally:
            if fresh:
                s.close()
            else:
                _unconnect(s)

    def dns(self, name: str, timeout: float, fresh: bool, server: str = A.PUBLIC_RESOLVERS[0]) -> dns.message.Message:
        q = dns.message.make_query(name, "A")
        wire = self.udp(q.to_wire(), (server, 53), timeout, fresh)
        r = dns.message.from_wire(wire)
        assert r.id == q.id
        return r

    def tcp_first_reply(self, addr: str, port: int, first: bytes, timeout: float) -> bytes:
        """Connect, send ``first``, return the first bytes that come back."""
        with self.client.connect(addr, port, timeout) as s:
            s.settimeout(timeout)
            s.sendall(first)
            return s.recv(65536)


def _unconnect(s: socket.socket) -> None:
    """Dissolve a UDP socket's association (connect to AF_UNSPEC), keeping its local port."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    sa = (ctypes.c_ubyte * 16)()  # sa_family = AF_UNSPEC (0)
    libc.connect(s.fileno(), sa, 16)


def silent(fn: Callable[[], object]) -> None:
    """``fn`` gets no answer within SILENCE."""
    t0 = time.monotonic()
    with pytest.raises((TimeoutError, dns.exception.Timeout)):
        fn()
    assert time.monotonic() - t0 >= SILENCE * 0.9


def addresses_of(m: dns.message.Message) -> list[str]:
    return [r.address for rr in m.answer for r in rr if rr.rdtype == 1]


Check = Callable[[], object]


def raises(exc: type[BaseException], fn: Check) -> Check:
    def check() -> None:
        with pytest.raises(exc):
            fn()
    return check


def equals(want: object, fn: Check) -> Check:
    def check() -> None:
        got = fn()
        assert got == want, f"{got!r} instead of {want!r}"
    return check


def slower(seconds: float, fn: Check) -> Check:
    def check() -> None:
        t0 = time.monotonic()
        fn()
        assert time.monotonic() - t0 >= seconds
    return check


def exchanges(n: Net, fresh: bool) -> dict[str, tuple[Check, Check]]:
    """Per rule set: (the network's first exchange under it, the same exchange without it). UDP goes
    through a new socket (``fresh``) or the network's kept one."""
    hello = client_hello("www.example.com")
    get_org = b"GET / HTTP/1.1\r\nHost: www.example.org\r\n\r\n"

    def tls(timeout: float = PATIENCE) -> None:
        assert n.tcp_first_reply(EX_COM, 443, hello, timeout)[:1] == b"\x16"  # a ServerHello

    def http_org() -> None:
        assert n.tcp_first_reply(EX_ORG, 80, get_org, PATIENCE).startswith(b"HTTP/1.1 200")

    def blockpage() -> None:
        page = n.client.get(EX_ORG, "www.example.org", timeout=PATIENCE)
        assert page.startswith(b"HTTP/1.1 403") and b'content="lab"' in page

    def resolves(name: str, want: str, timeout: float = PATIENCE, server: str = A.PUBLIC_RESOLVERS[0]) -> Check:
        return equals([want], lambda: addresses_of(n.dns(name, timeout, fresh, server)))

    def nxdomain() -> None:
        assert dns.rcode.to_text(n.dns("x.com", PATIENCE, fresh).rcode()) == "NXDOMAIN"

    def echo(payload: bytes, timeout: float = PATIENCE) -> Check:
        return equals(payload, lambda: n.udp(payload, ECHO, timeout, fresh))

    def tor_echo(timeout: float = PATIENCE) -> None:
        assert TOR_HELLO.startswith(n.tcp_first_reply(*ECHO, TOR_HELLO, timeout))

    def connects(port: int, timeout: float = PATIENCE) -> Check:
        return lambda: n.client.connect(EX_COM, port, timeout).close()

    def dark() -> None:  # TCP and UDP at once
        with ThreadPoolExecutor(1) as other:
            udp = other.submit(silent, echo(b"echo dark?", SILENCE))
            silent(connects(80, SILENCE))
            udp.result()

    def lit() -> None:
        connects(80)()
        echo(b"echo lit")()

    return {
        "drop_sni": (lambda: silent(lambda: tls(SILENCE)), tls),
        "reset_sni": (raises(ConnectionResetError, tls), tls),
        "close_sni": (equals(b"", lambda: n.tcp_first_reply(EX_COM, 443, hello, PATIENCE)), tls),  # a FIN
        "throttle_sni": (slower(0.55, tls), tls),  # 300 ms each way
        "blockpage_host": (blockpage, http_org),
        "reset_endpoint": (raises(ConnectionResetError, http_org), http_org),
        "refuse_endpoint": (raises(ConnectionRefusedError, connects(443)), connects(443)),
        "drop_endpoint": (lambda: silent(connects(443, SILENCE)), connects(443)),
        "dns_spoof": (resolves("www.example.com", A.BLOCKPAGE), resolves("www.example.com", EX_COM)),
        "dns_nxdomain": (nxdomain, resolves("x.com", X)),
        "dns_drop": (lambda: silent(resolves("www.example.org", EX_ORG, SILENCE)), resolves("www.example.org", EX_ORG)),
        "dns_protocol": (lambda: silent(resolves("www.example.org", EX_ORG, SILENCE)),
                         resolves("www.example.org", EX_ORG)),
        "shutdown": (dark, lit),
        "wireguard": (lambda: silent(echo(WG, SILENCE)), echo(WG)),
        "wireguard_throttle": (slower(0.28, echo(WG)), echo(WG)),
        "openvpn": (lambda: silent(echo(OVPN, SILENCE)), echo(OVPN)),
        "tor": (lambda: silent(lambda: tor_echo(SILENCE)), tor_echo),
        "udp_endpoint_drop": (lambda: silent(echo(b"echo dropped?", SILENCE)), echo(b"echo dropped?")),
        "udp_endpoint_refuse": (raises(ConnectionRefusedError, echo(b"echo refused?")), echo(b"echo refused?")),
        "isp_resolver": (resolves("www.example.com", A.BLOCKPAGE, server=n.resolver),
                         resolves("www.example.com", EX_COM, server=n.resolver)),
    }


#: per key, what its network gets: censor rules, or its resolver's zone changes
RULES: dict[str, dict] = {
    "drop_sni": {"censor": [{"sni": "www.example.com", "action": "drop"}]},
    "reset_sni": {"censor": [{"sni": "www.example.com", "action": "reset"}]},
    "close_sni": {"censor": [{"sni": "www.example.com", "action": "close"}]},
    "throttle_sni": {"censor": [{"sni": "www.example.com", "action": "throttle", "delay_ms": 300}]},
    "blockpage_host": {"censor": [{"host": "www.example.org", "action": "blockpage"}]},
    "reset_endpoint": {"censor": [{"endpoint": "www.example.org:80", "action": "reset"}]},
    "refuse_endpoint": {"censor": [{"endpoint": "www.example.com:443", "action": "refuse"}]},
    "drop_endpoint": {"censor": [{"endpoint": "www.example.com:443", "action": "drop"}]},
    "dns_spoof": {"censor": [{"dns": "www.example.com", "answer": ["@blockpage"]}]},
    "dns_nxdomain": {"censor": [{"dns": "x.com", "answer": []}]},
    "dns_drop": {"censor": [{"dns": "www.example.org", "action": "drop"}]},
    "dns_protocol": {"censor": [{"protocol": "dns", "action": "drop"}]},
    "shutdown": {"censor": [{"shutdown": True}]},
    "wireguard": {"censor": [{"protocol": "wireguard", "action": "drop"}]},
    "wireguard_throttle": {"censor": [{"protocol": "wireguard", "action": "throttle", "delay_ms": 300}]},
    "openvpn": {"censor": [{"protocol": "openvpn", "action": "drop"}]},
    "tor": {"censor": [{"protocol": "tor", "action": "drop"}]},
    "udp_endpoint_drop": {"censor": [{"endpoint": f"{ECHO[0]}:{ECHO[1]}/udp", "action": "drop"}]},
    "udp_endpoint_refuse": {"censor": [{"endpoint": f"{ECHO[0]}:{ECHO[1]}/udp", "action": "refuse"}]},
    "isp_resolver": {"resolver": {"add": {"www.example.com": ["@blockpage"]}}},
}
NET = {key: key.replace("_", "-")[:20] for key in RULES}  # rule set -> the network it is tried in


def world(with_rules: bool, name: str) -> scenario.Scenario:
    nets = [{"name": net, **(RULES[key] if with_rules else {})} for key, net in NET.items()]
    return scenario.parse({"name": name, "networks": [*nets, {"name": "plain"}]}, name)


def step_to(sc: scenario.Scenario) -> list[TimelineEntry]:
    """A timeline step giving every network of ``lab``'s world the rules and zone changes it has in ``sc``."""
    return [TimelineEntry(0.0, n.name, n.censor, n.resolver) for n in sc.networks]


def run_all(pool: ThreadPoolExecutor, checks: list[Check]) -> None:
    """Run every check at once; raise the first failure."""
    for f in [pool.submit(c) for c in checks]:
        f.result()


@pytest.fixture(scope="module")
def lab() -> Iterator[LabInstance]:
    with LabInstance(world(False, "steps"), control=False) as inst:
        echo = Echo(inst.topo.inet, *ECHO)
        try:
            yield inst
        finally:
            echo.close()


def test_every_action_holds_from_the_first_packet_after_up() -> None:
    """``up()`` returns with every network's rules in force; a timeline entry at 0 as well."""
    sc = world(True, "ups")
    at0 = scenario.parse({"name": "t0", **RULES["wireguard"]}, "t0").networks[0].censor
    with ThreadPoolExecutor(max_workers=2 * len(RULES)) as pool:
        for _ in range(UPS):
            with LabInstance(sc, control=False) as lab:
                echo = Echo(lab.topo.inet, *ECHO)
                try:
                    checks = [exchanges(Net(lab, net), fresh=True)[key][0] for key, net in NET.items()]
                    run_all(pool, checks)  # the first packets of the world
                    lab.apply_step([TimelineEntry(0.0, "plain", at0)])
                    silent(lambda: Net(lab, "plain").udp(WG, ECHO, SILENCE, True))
                finally:
                    echo.close()


def test_every_action_holds_from_the_first_packet_after_a_timeline_step(lab: LabInstance) -> None:
    """Rules on, rules off, STEPS times: after each step returns, the first exchange of every network
    (all at once) shows the new state; every other step reuses one UDP socket per network (the same
    5-tuple before and after the change)."""
    nets = {key: Net(lab, net) for key, net in NET.items()}
    on, off = step_to(world(True, "on")), step_to(world(False, "off"))
    with ThreadPoolExecutor(max_workers=len(RULES)) as pool:
        for i in range(STEPS):
            checks = {key: exchanges(n, fresh=i % 2 == 0)[key] for key, n in nets.items()}
            lab.apply_step(on)
            run_all(pool, [blocked for blocked, _ in checks.values()])
            lab.apply_step(off)
            run_all(pool, [unblocked for _, unblocked in checks.values()])


class Pump:
    """Keeps one TCP flow and one UDP exchange busy and checks every echoed byte."""

    def __init__(self, net: Net, seed: int) -> None:
        self.net, self.rng = net, random.Random(seed)
        self.tcp = net.client.connect(*ECHO, timeout=PATIENCE)
        with netns.netns(net.client.ns):
            self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.settimeout(PATIENCE)
        self.udp.connect(ECHO)
        self.bytes = self.datagrams = 0
        self.errors: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def exchange(self) -> None:
        chunk = b"echo" + self.rng.randbytes(self.rng.randrange(1, 32768))
        self.tcp.sendall(chunk)
        got = b""
        while len(got) < len(chunk):
            data = self.tcp.recv(65536)
            if not data:
                raise ConnectionError("the flow was closed")
            got += data
        if got != chunk:
            raise AssertionError("TCP bytes differ")
        self.bytes += len(chunk)
        datagram = b"echo %d " % self.datagrams + self.rng.randbytes(self.rng.randrange(1, 1200))
        self.udp.send(datagram)
        if self.udp.recv(65536) != datagram:
            raise AssertionError("UDP datagram differs")
        self.datagrams += 1

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                self.exchange()
            except (OSError, AssertionError) as exc:
                self.errors.append(f"{type(exc).__name__}: {exc} (after {self.bytes} bytes, {self.datagrams} datagrams)")
                return
            time.sleep(0.005)

    def finish(self) -> None:
        self.stop.set()
        self.thread.join(timeout=2 * PATIENCE)
        self.exchange()  # and one more after everything
        self.tcp.close()
        self.udp.close()


def test_rule_changes_leave_unmatched_flows_alone(lab: LabInstance) -> None:
    """A TCP flow and a UDP exchange of network ``plain`` (one opened before any rule, one opened while
    the proxy intercepts every TCP connection) keep every byte through changes of their own network's
    rules (kernel rules, proxy rules, NFQUEUE rules, DNS spoofing, removals) and of the other networks'."""
    def rules(*docs: dict) -> tuple:
        return scenario.parse({"name": "r", "censor": list(docs)}, "r").networks[0].censor

    plain = Net(lab, "plain")
    before = Pump(plain, 1)
    steps = [
        [TimelineEntry(0, "plain", rules({"sni": "x.com", "action": "reset"}, {"host": "x.com", "action": "blockpage"},
                                         {"dns": "x.com", "answer": ["@blockpage"]},
                                         {"protocol": "wireguard", "action": "drop"},
                                         {"endpoint": "www.example.org:443", "action": "drop"},
                                         {"endpoint": f"{EX_ORG}:7/udp", "action": "refuse"}))],
        [TimelineEntry(0, "plain", rules({"sni": "largefile.com", "action": "throttle", "delay_ms": 200},
                                         {"protocol": "openvpn", "action": "drop"},
                                         {"dns": "x.com", "action": "drop"})),
         TimelineEntry(0, NET["drop_sni"], rules({"shutdown": True}))],
        [TimelineEntry(0, None, ())],
        [TimelineEntry(0, "plain", rules({"protocol": "tor", "action": "reset"},
                                         {"protocol": "dns", "action": "throttle", "delay_ms": 50}))],
        [TimelineEntry(0, "plain", rules({"host": "x.com", "action": "close"}, {"protocol": "quic", "action": "drop"}))],
        [TimelineEntry(0, "plain", ())],
    ]
    pumps = [before]
    for i, step in enumerate(steps * 2):
        lab.apply_step(step)
        if i == 0:
            pumps.append(Pump(plain, 2))  # opened through the proxy (the host rule intercepts all TCP)
        time.sleep(0.3)
        assert not [e for p in pumps for e in p.errors], (i, [p.errors for p in pumps])
    for p in pumps:
        p.finish()
        assert not p.errors and p.bytes > 100_000 and p.datagrams > 20, (p.errors, p.bytes, p.datagrams)


def test_a_censor_without_its_daemon_fails_closed() -> None:
    """With the world daemon dead (nobody judges queued packets) the UDP it would have judged is
    dropped, never let through; networks whose rules queue nothing are not affected; rules cannot be
    changed any more (an error, not a silent no-op)."""
    import signal

    from censorwatch.lab.errors import LabError

    keys = ("wireguard", "dns_spoof")
    sc = scenario.parse({"name": "dead", "networks": [*({"name": NET[k], **RULES[k]} for k in keys),
                                                      {"name": "plain"}]}, "dead")
    with LabInstance(sc, control=False) as lab:
        echo = Echo(lab.topo.inet, *ECHO)
        try:
            assert lab.daemon is not None
            os.killpg(lab.daemon.pid, signal.SIGKILL)
            lab.daemon.wait(timeout=PATIENCE)
            silent(lambda: Net(lab, NET["wireguard"]).udp(WG, ECHO, SILENCE, True))
            silent(lambda: Net(lab, NET["dns_spoof"]).dns("www.example.com", SILENCE, True))
            assert Net(lab, "plain").udp(WG, ECHO, PATIENCE, True) == WG
            with pytest.raises(LabError, match="daemon is not running"):
                lab.apply("plain", ())
        finally:
            echo.close()
