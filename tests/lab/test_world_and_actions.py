"""One lab world with a network per censor action; every action checked on real sockets from inside
the ISP network, plus the default world's sites, resolvers and aliases."""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterator

import pytest
from labclient import Client, client_for

from censorwatch.lab import addresses as A
from censorwatch.lab import scenario
from censorwatch.lab.instance import LabInstance
from censorwatch.lab.pages import LARGEFILE_SIZE

pytestmark = pytest.mark.lab

EX_COM, EX_ORG, LARGE, BADSSL = "198.18.1.1", "198.18.1.2", "198.18.1.4", "198.18.1.7"

WORLD = {
    "name": "actions",
    "networks": [
        {"name": "plain"},
        {"name": "reset", "censor": [{"sni": "www.example.com", "action": "reset"},
                                     {"endpoint": "www.example.org:80", "action": "reset"}]},
        {"name": "drop", "censor": [{"sni": "www.example.com", "action": "drop"}]},
        {"name": "close", "censor": [{"sni": "www.example.com", "action": "close"}]},
        {"name": "refuse", "censor": [{"endpoint": "www.example.com:443", "action": "refuse"}]},
        {"name": "blockpage", "censor": [{"host": "www.example.org", "action": "blockpage"}]},
        {"name": "throttle", "censor": [{"sni": "largefile.com", "action": "throttle", "delay_ms": 300,
                                         "rate_kbps": 800}]},
        {"name": "dns", "censor": [{"dns": "www.example.com", "answer": ["@blockpage"]},
                                   {"dns": "x.com", "answer": []}],
         "resolver": {"remove": ["www.example.org"], "add": {"twitter.com": ["x.com"],
                                                              "www.youtube.com": ["@isp_proxy"]}}},
        {"name": "dark", "censor": [{"shutdown": True}]},
    ],
    "timeline": [{"at": 10, "network": "plain", "censor": [{"sni": "x.com", "action": "reset"}]}],
}


@pytest.fixture(scope="module")
def lab() -> Iterator[LabInstance]:
    with LabInstance(scenario.parse(WORLD, "actions"), control=False) as inst:
        yield inst


def c(lab: LabInstance, net: str) -> Client:
    return client_for(lab, net)


def test_sites_answer_without_censor(lab: LabInstance) -> None:
    cl = c(lab, "plain")
    body = cl.get(EX_COM, "www.example.com", https=True)
    assert body.startswith(b"HTTP/1.1 200") and b"<title>Example Domain</title>" in body
    assert len(body.split(b"\r\n\r\n", 1)[1]) >= 1024
    assert b"Location: https://www.example.com/" in cl.get("198.18.1.3", "bit.ly", "/21645", https=True)
    assert b"Location: http://www.example.com/" in cl.get("198.18.1.3", "bit.ly", "/32447")
    assert b"Location: http://\r\n" in cl.get("198.18.1.5", "httpbin.com", "/broken-redirect-http")
    assert b"Location: https://\r\n" in cl.get("198.18.1.5", "httpbin.com", "/broken-redirect-https")
    assert b"Location: /redirect/2\r\n" in cl.get("198.18.1.5", "httpbin.com", "/redirect/3", https=True)
    big = cl.get(LARGE, "largefile.com", timeout=10)
    assert len(big.split(b"\r\n\r\n", 1)[1]) >= LARGEFILE_SIZE
    assert cl.get("198.18.1.8", "xn--d1acpjx3f.xn--p1ai").startswith(b"HTTP/1.1 200")
    assert cl.get(A.BENCH, "whatever.bench.test", https=True).startswith(b"HTTP/1.1 200")


def test_cloudflare_challenges_isp_clients_only(lab: LabInstance) -> None:
    isp = c(lab, "plain").get("198.18.1.6", "www.cloudflare-cache.com", https=True)
    assert isp.startswith(b"HTTP/1.1 403") and b"Attention Required" in isp
    control_side = Client(lab.topo.inet, lab.certs.ca_file)  # where the control server lives
    body = control_side.get("198.18.1.6", "www.cloudflare-cache.com", https=True)
    assert body.startswith(b"HTTP/1.1 200") and b"Attention Required" not in body


@pytest.mark.parametrize(("name", "error"), [
    ("expired.badssl.com", "expired"),
    ("wrong.host.badssl.com", "Hostname mismatch"),
    ("untrusted-root.badssl.com", "unable to get local issuer"),
    ("other.badssl.com", "unable to get local issuer"),
])
def test_badssl(lab: LabInstance, name: str, error: str) -> None:
    with pytest.raises(ssl.SSLCertVerificationError, match=error):
        c(lab, "plain").tls(BADSSL, name)


def test_blockpage_address(lab: LabInstance) -> None:
    cl = c(lab, "plain")
    page = cl.get(A.BLOCKPAGE, "anything")
    assert b'<meta name="censorwatch-blockpage" content="lab">' in page
    assert b"<title>Blocked by the lab censor</title>" in page
    with pytest.raises(ConnectionRefusedError):
        cl.connect(A.BLOCKPAGE, 443)


def test_resolvers(lab: LabInstance) -> None:
    cl = c(lab, "plain")
    assert cl.a(A.isp_resolver(0), "www.example.com") == ("NOERROR", [EX_COM])
    assert cl.a(A.isp_resolver(0), "xn--d1acpjx3f.xn--p1ai") == ("NOERROR", ["198.18.1.8"])
    assert cl.a(A.isp_resolver(0), "deep.sub.bench.test") == ("NOERROR", [A.BENCH])
    assert cl.a(A.isp_resolver(0), "no-such-name.test")[0] == "NXDOMAIN"
    assert cl.a(A.PUBLIC_RESOLVERS[0], "x.com") == ("NOERROR", ["198.18.2.1"])
    # the ISP resolver of network "dns" (index 7) carries that network's zone changes
    dns_net = c(lab, "dns")
    assert dns_net.a(A.isp_resolver(7), "www.example.org")[0] == "NXDOMAIN"
    rcode, addrs = dns_net.a(A.isp_resolver(7), "twitter.com")
    assert rcode == "NOERROR" and addrs == ["198.18.2.1"]  # CNAME to x.com, chased
    assert dns_net.a(A.isp_resolver(7), "www.youtube.com") == ("NOERROR", [A.isp_proxy(7)])


def test_doh(lab: LabInstance) -> None:
    import base64

    import dns.message

    q = base64.urlsafe_b64encode(dns.message.make_query("www.example.org", "A").to_wire()).rstrip(b"=").decode()
    raw = c(lab, "plain").get(A.PUBLIC_RESOLVERS[0], A.PUBLIC_RESOLVERS[0], f"/dns-query?dns={q}", https=True)
    head, _, body = raw.partition(b"\r\n\r\n")
    assert b"application/dns-message" in head
    assert [r.address for rr in dns.message.from_wire(body).answer for r in rr] == [EX_ORG]


def test_isp_proxy_forwards_by_sni_and_host(lab: LabInstance) -> None:
    cl = c(lab, "dns")
    body = cl.get(A.isp_proxy(7), "www.youtube.com", https=True)  # valid certificate: the real site
    assert body.startswith(b"HTTP/1.1 200") and b"<title>YouTube</title>" in body
    assert b"<title>Example Domain (org)</title>" in cl.get(A.isp_proxy(7), "www.example.org")


def test_reset_sni_gives_connection_reset(lab: LabInstance) -> None:
    with pytest.raises(ConnectionResetError):
        c(lab, "reset").tls(EX_COM, "www.example.com")
    assert c(lab, "reset").tls(EX_ORG, "www.example.org").version() is not None  # other names pass


def test_reset_endpoint_lets_the_handshake_through(lab: LabInstance) -> None:
    s = c(lab, "reset").connect(EX_ORG, 80)  # SYN passes: no refusal
    with s, pytest.raises(ConnectionResetError):
        s.sendall(b"GET / HTTP/1.1\r\nHost: www.example.org\r\n\r\n")
        s.recv(100)


def test_drop_sni_gives_timeout(lab: LabInstance) -> None:
    t0 = time.monotonic()
    with pytest.raises(TimeoutError):
        c(lab, "drop").tls(EX_COM, "www.example.com", timeout=1.5)
    assert time.monotonic() - t0 >= 1.4


def test_close_sni_gives_eof(lab: LabInstance) -> None:
    from test_censor_rules import client_hello

    with c(lab, "close").connect(EX_COM, 443) as s:
        s.sendall(client_hello("www.example.com"))
        assert s.recv(100) == b""  # a FIN, not a RST and not a ServerHello
    with pytest.raises((ssl.SSLEOFError, ssl.SSLZeroReturnError, ConnectionResetError)):
        c(lab, "close").tls(EX_COM, "www.example.com")


def test_refuse_endpoint_gives_connection_refused(lab: LabInstance) -> None:
    with pytest.raises(ConnectionRefusedError):
        c(lab, "refuse").connect(EX_COM, 443)
    c(lab, "refuse").connect(EX_COM, 80).close()


def test_blockpage_is_injected(lab: LabInstance) -> None:
    page = c(lab, "blockpage").get(EX_ORG, "www.example.org")
    assert b'content="lab"' in page and b"Blocked by the lab censor" in page
    assert b"Example Domain" in c(lab, "blockpage").get(EX_COM, "www.example.com")


def test_throttle_delays_and_caps_rate(lab: LabInstance) -> None:
    cl = c(lab, "throttle")
    t0 = time.monotonic()
    with cl.tls(LARGE, "largefile.com", timeout=10) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: largefile.com\r\n\r\n")
        got = 0
        while got < 200_000:
            chunk = s.recv(65536)
            assert chunk
            got += len(chunk)
    slow = time.monotonic() - t0
    # 200 kB at 800 kbit/s take 2 s, plus 300 ms of latency each way; no more than a generous margin
    assert 2.2 <= slow <= 15.0, slow
    t0 = time.monotonic()
    c(lab, "throttle").get(EX_COM, "www.example.com", https=True)  # other names are not slowed
    assert time.monotonic() - t0 < slow / 2


def test_dns_spoofing_on_path(lab: LabInstance) -> None:
    cl = c(lab, "dns")
    # spoofed even when the query goes to a public resolver: the censor is on the path
    assert cl.a(A.PUBLIC_RESOLVERS[0], "www.example.com") == ("NOERROR", [A.BLOCKPAGE])
    assert cl.a(A.isp_resolver(7), "x.com")[0] == "NXDOMAIN"
    assert cl.a(A.PUBLIC_RESOLVERS[0], "api.x.com") == ("NOERROR", ["198.18.2.3"])  # not a suffix match
    assert cl.a(A.PUBLIC_RESOLVERS[0], "www.example.org") == ("NOERROR", [EX_ORG])


def test_shutdown_passes_nothing(lab: LabInstance) -> None:
    cl = c(lab, "dark")
    with pytest.raises(TimeoutError):
        cl.connect(EX_COM, 80, timeout=1.0)
    import dns.exception

    with pytest.raises(dns.exception.Timeout):
        cl.query(A.isp_resolver(8), "www.example.com", timeout=1.0)


def test_unknown_addresses_are_unreachable_and_nothing_leaves_the_lab(lab: LabInstance) -> None:
    with pytest.raises(OSError) as ei:
        c(lab, "plain").connect("10.10.34.35", 443, timeout=1.0)
    assert ei.value.errno is not None
    with pytest.raises(OSError):
        c(lab, "plain").connect("192.0.2.1", 80, timeout=1.0)


def test_timeline_changes_rules_live(lab: LabInstance) -> None:
    cl = c(lab, "plain")
    cl.tls("198.18.2.1", "x.com").close()
    lab.apply_timeline(10)
    with pytest.raises(ConnectionResetError):
        cl.tls("198.18.2.1", "x.com")
    lab.apply("plain", censor=())
    cl.tls("198.18.2.1", "x.com").close()
