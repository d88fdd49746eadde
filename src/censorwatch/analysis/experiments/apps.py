"""Instant-messaging families: whatsapp, telegram, signal, facebook_messenger (methodology §7).

Each is re-derived from the raw steps (queries, tcp_connect, tls_handshakes, requests); the probe's
summary keys (``whatsapp_endpoints_blocked``, ``telegram_tcp_blocking``, ``signal_backend_status``,
``facebook_*_dns_consistent``, ...) are never read. These tests have no control: a failure is an
*anomaly*, never *confirmed*, and *down* cannot be told apart from blocked.
"""

from __future__ import annotations

import ipaddress
from typing import Final

from censorwatch.analysis.experiments.common import Outcomes, bogon_hosts, host_of, method_for, scan
from censorwatch.analysis.fingerprints import Fingerprints
from censorwatch.analysis.registry import Family
from censorwatch.analysis.verdicts import make_verdict
from censorwatch.analysis.wording import say
from censorwatch.model import failures as F
from censorwatch.model.addresses import is_bogon
from censorwatch.model.measurement import Measurement
from censorwatch.model.verdict import Verdict

TELEGRAM_DCS = frozenset(
    {"149.154.175.50", "149.154.167.51", "149.154.175.100", "149.154.167.91", "149.154.171.5", "95.161.76.100",
     "149.154.167.99"}
)
FACEBOOK_ASN = 32934
#: Address blocks Facebook (AS32934) announces, for answers recorded without an ASN (measurement-kit
#: probes): public routing data, stable for a decade.
FACEBOOK_NETS: Final = tuple(ipaddress.ip_network(n) for n in (
    "31.13.24.0/21", "31.13.64.0/18", "45.64.40.0/22", "57.144.0.0/14", "66.220.144.0/20", "69.63.176.0/20",
    "69.171.224.0/19", "74.119.76.0/22", "102.132.96.0/20", "103.4.96.0/22", "129.134.0.0/16", "157.240.0.0/16",
    "163.70.128.0/17", "173.252.64.0/18", "179.60.192.0/22", "185.60.216.0/22", "185.89.216.0/22",
    "204.15.20.0/22", "2a03:2880::/32", "2620:0:1c00::/40",
))
#: Signal answers 127.0.0.1 for uptime.signal.org on purpose; api.directory.signal.org was retired in
#: 2023 (contact discovery moved to cdsi.signal.org), so its NXDOMAIN says nothing.
SIGNAL_EXPECTED_BOGONS = frozenset({"uptime.signal.org"})
SIGNAL_RETIRED = frozenset({"api.directory.signal.org"})


def _no_data(m: Measurement, family: Family) -> Verdict:
    return make_verdict(m, "failure", f"{family.name}.no_data", "The measurement holds no network steps to judge.",
                        family=family)


def _empty(m: Measurement) -> bool:
    tk = m.test_keys or {}
    return not any(tk.get(k) for k in ("queries", "tcp_connect", "tls_handshakes", "requests"))


def _version_before(v: str | None, major: int, minor: int) -> bool:
    try:
        parts = [int(x) for x in (v or "").split("-")[0].split(".")[:2]]
    except ValueError:
        return False
    return len(parts) == 2 and (parts[0], parts[1]) < (major, minor)


def classify_whatsapp(m: Measurement, fps: Fingerprints) -> Verdict:
    if m.test_keys is None or _empty(m):
        return _no_data(m, WHATSAPP)
    obs = m.observations(with_events=False)
    endpoint_ips = {a for q in obs.queries if (q.hostname or "").startswith("e") and
                    (q.hostname or "").endswith(".whatsapp.net") for a in q.addresses}
    endpoints = [t for t in obs.tcp_connect if t.port == 5222 or t.ip in endpoint_ips]
    bogus = [h for h in bogon_hosts(obs, lab=m.is_lab) if h.endswith(("whatsapp.net", "whatsapp.com"))]
    parts: list[tuple[str, str, str]] = []  # (part, method, words)
    if endpoints and not any(t.success for t in endpoints):
        f = next(t.failure for t in endpoints if t.failure)
        chat_bogus = any(h.startswith("e") and h.endswith(".whatsapp.net") for h in bogus)
        parts.append(("endpoints", "dns.bogon" if chat_bogus else method_for("tcp", f),
                      f"none of the {len(endpoints)} connections to WhatsApp's chat servers worked ({say(f)})"))
    for label, needle in (("registration", "v.whatsapp.net"), ("web", "web.whatsapp.com")):
        reqs = [r for r in obs.requests if host_of(r.url) == needle and (r.url or "").startswith("https")]
        if reqs and all(r.failure for r in reqs):
            f = reqs[0].failure or ""
            method = "dns.bogon" if needle in bogus else ("tls.failure" if f.startswith("ssl_") else "http.failure")
            parts.append((label, method, f"https://{needle} failed ({say(f)})"))
    details = {"blocked_parts": [p[0] for p in parts], "endpoint_connects": len(endpoints), "dns_bogon": bogus}
    if parts:
        why = "; ".join(p[2] for p in parts)
        if bogus:
            why += f"; the DNS answers for {', '.join(bogus[:3])} were non-public addresses"
        return make_verdict(m, "anomaly", "whatsapp.blocked", f"WhatsApp looks blocked: {why}.",
                            method=parts[0][1], details=details, family=WHATSAPP)
    if not endpoints and not obs.requests:
        return _no_data(m, WHATSAPP)
    return make_verdict(m, "ok", "whatsapp.ok", "WhatsApp's chat servers, registration service and web app "
                        "all answered.", details=details, family=WHATSAPP)


def classify_telegram(m: Measurement, fps: Fingerprints) -> Verdict:
    if m.test_keys is None or _empty(m):
        return _no_data(m, TELEGRAM)
    obs = m.observations(with_events=False)
    dcs = [t for t in obs.tcp_connect if t.ip in TELEGRAM_DCS]
    dc_reqs = [r for r in obs.requests if host_of(r.url) in TELEGRAM_DCS or
               (r.headers.get("Host") or "").split(":")[0] in TELEGRAM_DCS]
    web = [r for r in obs.requests if host_of(r.url) == "web.telegram.org"]
    parts: list[tuple[str, str]] = []
    if dcs and not any(t.success for t in dcs):
        f = next((t.failure for t in dcs if t.failure), None)
        parts.append((method_for("tcp", f), f"no connection to Telegram's {len(dcs)} data-centre endpoints "
                      f"worked ({say(f)})"))
    elif dc_reqs and all(r.failure for r in dc_reqs):
        parts.append(("http.failure", "every request to Telegram's data centres failed"))
    web_failed = [r for r in web if r.failure]  # OONI: any failed fetch of the web app (http or https) blocks it
    if web_failed:
        parts.append(("http.failure", f"{web_failed[0].url or 'web.telegram.org'} failed ({say(web_failed[0].failure)})"))
    details = {"dc_connects": len(dcs), "dc_connects_ok": sum(t.success for t in dcs), "web_requests": len(web)}
    if parts:
        return make_verdict(m, "anomaly", "telegram.blocked", "Telegram looks blocked: " + "; ".join(p[1] for p in parts)
                            + ".", method=parts[0][0], details=details, family=TELEGRAM)
    if not dcs and not dc_reqs and not web:
        return _no_data(m, TELEGRAM)
    return make_verdict(m, "ok", "telegram.ok", f"Telegram's data centres ({sum(t.success for t in dcs)} of "
                        f"{len(dcs)} connections worked)" + (" and web app" if web else "") + " answered.",
                        details=details, family=TELEGRAM)


def classify_signal(m: Measurement, fps: Fingerprints) -> Verdict:
    if m.test_keys is None or _empty(m):
        return _no_data(m, SIGNAL)
    obs = m.observations(with_events=False)
    out: Outcomes = scan(obs, expected_bogons=SIGNAL_EXPECTED_BOGONS, ignore_hosts=SIGNAL_RETIRED, lab=m.is_lab)
    first = out.first()
    details = {"problems": [p.words() for p in out.problems][:8]}
    if first is None:
        retired = [q.hostname for q in obs.queries if (q.hostname or "") in SIGNAL_RETIRED and q.failure]
        note = f" (the retired host {retired[0]} no longer exists, which is not a block)" if retired else ""
        return make_verdict(m, "ok", "signal.ok", f"Every current Signal service host answered{note}.",
                            details=details, family=SIGNAL)
    tls = [p for p in out.problems if p.step == "tls"]
    if (tls and len(tls) == len(out.problems) and all(p.failure == F.SSL_UNKNOWN_AUTHORITY for p in tls)
            and _version_before(m.software_version, 3, 16)
            and m.measurement_start_time is not None and m.measurement_start_time.year >= 2022):
        return make_verdict(m, "failure", "signal.outdated_pin", "Signal's hosts presented certificates this "
                            "probe version (older than 3.16) did not know: Signal changed certificate authority "
                            "in late 2022, so this cannot be told apart from interception.", details=details,
                            family=SIGNAL)
    return make_verdict(m, "anomaly", "signal.blocked", f"Signal looks blocked: {first.words()}.",
                        method=first.method, details=details, family=SIGNAL)


def in_facebook(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in FACEBOOK_NETS)


def classify_facebook_messenger(m: Measurement, fps: Fingerprints) -> Verdict:
    if m.test_keys is None or _empty(m):
        return _no_data(m, FACEBOOK_MESSENGER)
    obs = m.observations(with_events=False)
    foreign: set[str] = set()
    for q in obs.queries:
        for a in q.answers:
            addr = a.ipv4 or a.ipv6
            if not addr or is_bogon(addr, lab=m.is_lab):
                continue
            if (a.asn is not None and a.asn != 0 and a.asn != FACEBOOK_ASN) or (not a.asn and not in_facebook(addr)):
                foreign.add(q.hostname or "?")
    bogus = sorted({(q.hostname or "?") for q in obs.queries for a in q.addresses if is_bogon(a, lab=m.is_lab)})
    failed_dns = sorted({(q.hostname or "?") for q in obs.queries if q.failure and q.query_type != "AAAA"})
    tcp = obs.tcp_connect
    details = {"dns_outside_facebook": sorted(foreign), "dns_bogon": bogus, "dns_failed": failed_dns,
               "tcp_failed": sum(1 for t in tcp if not t.success), "tcp": len(tcp)}
    if bogus or foreign or failed_dns:
        which = (bogus or sorted(foreign) or failed_dns)[0]
        method = "dns.bogon" if bogus else ("dns.injection" if foreign else "dns.failure")
        return make_verdict(m, "anomaly", "facebook_messenger.dns", f"The DNS answer for {which} does not point "
                            "to Facebook's network (AS32934).", method=method, details=details,
                            family=FACEBOOK_MESSENGER)
    if tcp and any(not t.success for t in tcp):
        f = next(t.failure for t in tcp if not t.success)
        return make_verdict(m, "anomaly", "facebook_messenger.tcp", f"Connections to Facebook Messenger's "
                            f"servers failed ({say(f)}).", method=method_for("tcp", f), details=details,
                            family=FACEBOOK_MESSENGER)
    tail = " and answered" if tcp else "; no connection was attempted (this probe version skipped it)"
    return make_verdict(m, "ok", "facebook_messenger.ok", "Facebook Messenger's servers resolved to Facebook's "
                        f"network (AS32934){tail}.", details=details, family=FACEBOOK_MESSENGER)


_NO_CONTROL = "no control: failures are anomalies at most"
WHATSAPP = Family(
    name="whatsapp", tests=("whatsapp",), version="whatsapp-2", classify=classify_whatsapp,
    summary=f"WhatsApp's chat servers, registration service and web app ({_NO_CONTROL})",
    rules={
        "whatsapp.no_data": "no network steps recorded",
        "whatsapp.blocked": "all chat-server connects failed, or the registration/web HTTPS fetch failed "
                            "(dns.bogon when the names resolved to non-public addresses)",
        "whatsapp.ok": "chat servers, registration and web app answered",
    },
)
TELEGRAM = Family(
    name="telegram", tests=("telegram",), version="telegram-2", classify=classify_telegram,
    summary=f"Telegram's data centres and web app ({_NO_CONTROL})",
    rules={
        "telegram.no_data": "no network steps recorded",
        "telegram.blocked": "no data-centre connect worked, every DC request failed, or web.telegram.org failed",
        "telegram.ok": "data centres (and web app) answered",
    },
)
SIGNAL = Family(
    name="signal", tests=("signal",), version="signal-2", classify=classify_signal,
    summary=f"Signal's service hosts, DNS to HTTP ({_NO_CONTROL})",
    rules={
        "signal.no_data": "no network steps recorded",
        "signal.blocked": "a Signal host failed at DNS (incl. bogon), TCP, TLS or HTTP",
        "signal.outdated_pin": "only ssl_unknown_authority from a probe older than 3.16 (outdated pinned CA)",
        "signal.ok": "every Signal host answered",
    },
)
FACEBOOK_MESSENGER = Family(
    name="facebook_messenger", tests=("facebook_messenger",), version="facebook_messenger-2",
    classify=classify_facebook_messenger, summary=f"Facebook Messenger's DNS answers and endpoints ({_NO_CONTROL})",
    rules={
        "facebook_messenger.no_data": "no network steps recorded",
        "facebook_messenger.dns": "a DNS answer outside AS32934 (by its ASN, or by Facebook's address blocks "
                                  "when no ASN was recorded), a bogon, or a DNS failure",
        "facebook_messenger.tcp": "a connect to a Messenger endpoint failed",
        "facebook_messenger.ok": "answers in AS32934 and every connect worked",
    },
)
FAMILIES = [WHATSAPP, TELEGRAM, SIGNAL, FACEBOOK_MESSENGER]
