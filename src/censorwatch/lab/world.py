"""The default world: the same hosts, names and addresses on every run.

A :class:`Host` is one address in the internet namespace with the names that resolve to it and the
services it runs (``kind`` picks the HTTP behaviour in ``sites.py``). Zones (name -> answers) are
built from the hosts; scenarios change them per resolver with ``remove``/``add``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from censorwatch.lab import addresses as A

CONTROL_NAMES: Final = ("control.lab.censorwatch.test", "th.lab.censorwatch.test")
COLLECTOR_NAME: Final = "collector.lab.censorwatch.test"
DOH_NAMES: Final = ("dns.resolver.test", "dns2.resolver.test")
BADSSL_NAMES: Final = ("expired.badssl.com", "wrong.host.badssl.com", "untrusted-root.badssl.com")
IDNA_NAME: Final = "яндекс.рф".encode("idna").decode("ascii")  # xn--d1acpjx3f.xn--p1ai
BENCH_ZONE: Final = "bench.test"


@dataclass(frozen=True, slots=True)
class Host:
    address: str
    names: tuple[str, ...]
    kind: str = "page"  # page | redirector | largefile | httpbin | cloudflare | badssl | blockpage | ...
    http: bool = True
    https: bool = True
    extra_tcp: tuple[int, ...] = ()  # ports that accept and answer a banner (messaging endpoints)
    title: str = ""
    alias: str | None = None
    as_number: int = 0  # 0: a private ASN of its own, derived from the address

    @property
    def asn(self) -> int:
        if self.as_number:
            return self.as_number
        o = [int(x) for x in self.address.split(".")]
        return 4200000000 + o[2] * 256 + o[3]

    @property
    def cc(self) -> str:
        return "US" if self.as_number else "ZZ"

    @property
    def as_name(self) -> str:
        return _AS_NAMES.get(self.as_number, f"lab host {self.address}")


_AS_NAMES: Final = {13414: "TWITTER", 396986: "BYTEDANCE", 15169: "GOOGLE", 32934: "FACEBOOK",
                    62041: "TELEGRAM", 16509: "AMAZON-02"}


def _h(addr: str, *names: str, **kw: object) -> Host:
    return Host(addr, tuple(names), **kw)  # type: ignore[arg-type]


def _whatsapp() -> list[Host]:
    hosts = [
        _h("198.18.4.1", "web.whatsapp.com", "www.whatsapp.com", title="WhatsApp Web", as_number=32934),
        _h("198.18.4.2", "v.whatsapp.net", title="WhatsApp registration", as_number=32934),
        _h("198.18.4.3", "g.whatsapp.net", extra_tcp=(5222,), title="WhatsApp", as_number=32934),
    ]
    hosts += [
        _h(f"198.18.4.{10 + n}", f"e{n}.whatsapp.net", extra_tcp=(5222,), title="WhatsApp endpoint",
           as_number=32934)
        for n in range(1, 17)
    ]
    return hosts


DEFAULT_HOSTS: Final[tuple[Host, ...]] = (
    _h("198.18.1.1", "www.example.com", "example.com", title="Example Domain"),
    _h("198.18.1.2", "www.example.org", "example.org", title="Example Domain (org)"),
    _h("198.18.1.3", "bit.ly", kind="redirector", title="Bitly"),
    _h("198.18.1.4", "largefile.com", "www.largefile.com", kind="largefile", title="Large file"),
    _h("198.18.1.5", "httpbin.com", "www.httpbin.com", kind="httpbin", title="httpbin"),
    _h("198.18.1.6", "www.cloudflare-cache.com", "cloudflare-cache.com", kind="cloudflare",
       title="Cloudflare cached site"),
    _h("198.18.1.7", *BADSSL_NAMES, kind="badssl", title="badssl.com", alias="@badssl"),
    _h("198.18.1.8", IDNA_NAME, https=False, title="Яндекс"),
    _h(A.BLOCKPAGE, "blockpage.lab.censorwatch.test", kind="blockpage", https=False, alias="@blockpage"),
    _h(A.CONTROL, *CONTROL_NAMES, kind="control", http=False, https=False, alias="@control"),
    # served by lab/relay.py when a collector is given (probes submit there)
    _h(A.COLLECTOR, COLLECTOR_NAME, kind="collector", http=False, https=False, alias="@collector"),
    _h(A.PUBLIC_RESOLVERS[0], DOH_NAMES[0], kind="doh", http=False),
    _h(A.PUBLIC_RESOLVERS[1], DOH_NAMES[1], kind="doh", http=False),
    # platform hosts (issues 7-8)
    _h("198.18.2.1", "x.com", "www.x.com", title="X. It's what's happening", as_number=13414),
    _h("198.18.2.2", "twitter.com", "www.twitter.com", "mobile.twitter.com", title="X (formerly Twitter)", as_number=13414),
    _h("198.18.2.3", "api.x.com", "api.twitter.com", title="X API", as_number=13414),
    _h("198.18.2.4", "t.co", kind="redirector", title="t.co", as_number=13414),
    _h("198.18.2.5", "abs.twimg.com", title="twimg static", as_number=13414),
    _h("198.18.2.6", "pbs.twimg.com", title="twimg media", as_number=13414),
    _h("198.18.2.7", "video.twimg.com", kind="largefile", title="twimg video", as_number=13414),
    _h("198.18.3.1", "www.tiktok.com", "tiktok.com", "m.tiktok.com", title="TikTok - Make Your Day",
       as_number=396986),
    _h("198.18.3.4", "api.tiktokv.com", title="TikTok API", as_number=396986),
    _h("198.18.3.5", "p16-sign.tiktokcdn-us.com", "v16m.tiktokcdn.com", title="TikTok CDN", as_number=396986),
    _h("198.18.3.2", "www.youtube.com", "youtube.com", "m.youtube.com", title="YouTube", as_number=15169),
    _h("198.18.3.6", "i.ytimg.com", "yt3.ggpht.com", title="YouTube images", as_number=15169),
    _h("198.18.3.7", "redirector.googlevideo.com", title="YouTube video", as_number=15169),
    _h("198.18.3.8", "youtubei.googleapis.com", title="YouTube API", as_number=15169),
    _h("198.18.3.3", "www.facebook.com", "facebook.com", "m.facebook.com", "edge-mqtt.facebook.com",
       title="Facebook", as_number=32934),
    _h("198.18.3.9", "graph.facebook.com", "b-graph.facebook.com", "b-api.facebook.com",
       "star.c10r.facebook.com", title="Facebook API", as_number=32934),
    _h("198.18.3.10", "external.xx.fbcdn.net", "scontent.xx.fbcdn.net", "static.xx.fbcdn.net",
       title="Facebook CDN", as_number=32934),
    _h("198.18.3.11", "www.instagram.com", "instagram.com", "i.instagram.com", title="Instagram",
       as_number=32934),
    _h("198.18.3.12", "scontent.cdninstagram.com", "static.cdninstagram.com", title="Instagram CDN",
       as_number=32934),
    _h("198.18.3.13", "stun.fbsbx.com", title="Facebook STUN", as_number=32934),
    *_whatsapp(),
    _h("198.18.4.30", "web.telegram.org", title="Telegram Web", as_number=62041),
    *(_h(f"198.18.4.{31 + n}", title="Telegram DC", as_number=62041) for n in range(6)),
    _h("198.18.4.40", "chat.signal.org", "textsecure-service.whispersystems.org", title="Signal", as_number=16509),
    _h("198.18.4.41", "storage.signal.org", title="Signal storage", as_number=16509),
    _h("198.18.4.42", "cdn.signal.org", "cdn2.signal.org", "cdn3.signal.org", title="Signal CDN", as_number=16509),
    _h("198.18.4.43", "sfu.voip.signal.org", "updates.signal.org", title="Signal", as_number=16509),
    _h(A.BENCH, f"*.{BENCH_ZONE}", kind="bench", title="bench"),
    # circumvention servers (lab/vpn_servers.py serves them)
    _h("198.18.5.1", "wireguard.lab.censorwatch.test", kind="vpn", http=False, https=False),
    _h("198.18.5.2", "openvpn.lab.censorwatch.test", kind="vpn", http=False, https=False),
    _h("198.18.5.3", "tor-relay.lab.censorwatch.test", kind="vpn", http=False, https=False),
)

#: The Telegram data centres' real addresses are outside the lab; the lab serves them here, in order.
TELEGRAM_DCS: Final = tuple(f"198.18.4.{31 + n}" for n in range(6))
TELEGRAM_TCP_PORTS: Final = (80, 443)


@dataclass(slots=True)
class World:
    hosts: tuple[Host, ...] = DEFAULT_HOSTS
    extra: dict[str, list[str]] = field(default_factory=dict)

    def host_at(self, address: str) -> Host | None:
        for h in self.hosts:
            if h.address == address:
                return h
        return None

    def base_zone(self) -> dict[str, list[str]]:
        """name -> answers (addresses, or one hostname for a CNAME); wildcards keep their ``*.``."""
        zone: dict[str, list[str]] = {}
        for h in self.hosts:
            for n in h.names:
                zone.setdefault(n, []).append(h.address)
        zone.update(self.extra)
        return zone

    def aliases(self) -> dict[str, str]:
        return {h.alias: h.address for h in self.hosts if h.alias}


DEFAULT_WORLD: Final = World()
ALIASES: Final = ("@blockpage", "@isp_proxy", "@badssl", "@control", "@collector")


def lookup(zone: dict[str, list[str]], name: str) -> list[str] | None:
    """Answers for ``name`` in ``zone`` (exact name first, then the closest wildcard), None = NXDOMAIN."""
    name = name.lower().rstrip(".")
    if name in zone:
        return zone[name]
    parts = name.split(".")
    for i in range(1, len(parts)):
        wild = "*." + ".".join(parts[i:])
        if wild in zone:
            return zone[wild]
    return None


def all_names(world: World = DEFAULT_WORLD) -> list[str]:
    return sorted({n for h in world.hosts for n in h.names})
