"""Instant-messaging tests: whatsapp, telegram, signal, facebook_messenger (methodology §7).

Each is re-derived from the raw steps (queries, tcp_connect, tls_handshakes, requests); the
probe's summary keys (``whatsapp_endpoints_blocked``, ``telegram_tcp_blocking``,
``signal_backend_status``, ...) are never read. These tests have no control: a failure is an
*anomaly*, never *confirmed*, and *down* cannot be told apart from blocked.
"""

from __future__ import annotations

from censorwatch.analysis.experiments.common import Outcomes, host_of, scan
from censorwatch.analysis.fingerprints import Fingerprints
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
#: Signal answers 127.0.0.1 for uptime.signal.org on purpose; api.directory.signal.org was retired in
#: 2023 (contact discovery moved to cdsi.signal.org), so its NXDOMAIN says nothing.
SIGNAL_EXPECTED_BOGONS = frozenset({"uptime.signal.org"})
SIGNAL_RETIRED = frozenset({"api.directory.signal.org"})


def _no_data(m: Measurement, prefix: str) -> Verdict:
    return make_verdict(m, "failure", f"{prefix}.no_data", "The measurement holds no network steps to judge.")


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
        return _no_data(m, "whatsapp")
    obs = m.observations(with_events=False)
    endpoint_ips = {a for q in obs.queries if (q.hostname or "").startswith("e") and
                    (q.hostname or "").endswith(".whatsapp.net") for a in q.addresses}
    endpoints = [t for t in obs.tcp_connect if t.port == 5222 or t.ip in endpoint_ips]
    parts: list[tuple[str, str, str]] = []  # (part, method, words)
    if endpoints and not any(t.success for t in endpoints):
        f = next(t.failure for t in endpoints if t.failure)
        parts.append(("endpoints", {"generic_timeout_error": "tcp.timeout", "connection_refused": "tcp.refused",
                                    "connection_reset": "tcp.reset"}.get(f or "", "tcp.failure"),
                      f"none of the {len(endpoints)} connections to WhatsApp's chat servers worked ({say(f)})"))
    for label, needle in (("registration", "v.whatsapp.net"), ("web", "web.whatsapp.com")):
        reqs = [r for r in obs.requests if host_of(r.url) == needle and (r.url or "").startswith("https")]
        if reqs and all(r.failure for r in reqs):
            f = reqs[0].failure or ""
            parts.append((label, "tls.failure" if f.startswith("ssl_") else "http.failure",
                          f"https://{needle} failed ({say(f)})"))
    details = {"blocked_parts": [p[0] for p in parts], "endpoint_connects": len(endpoints)}
    if parts:
        return make_verdict(m, "anomaly", "whatsapp.blocked", "WhatsApp looks blocked: " + "; ".join(p[2] for p in parts)
                            + ".", method=parts[0][1], details=details)
    if not endpoints and not obs.requests:
        return _no_data(m, "whatsapp")
    return make_verdict(m, "ok", "whatsapp.ok", "WhatsApp's chat servers, registration service and web app "
                        "all answered.", details=details)


def classify_telegram(m: Measurement, fps: Fingerprints) -> Verdict:
    if m.test_keys is None or _empty(m):
        return _no_data(m, "telegram")
    obs = m.observations(with_events=False)
    dcs = [t for t in obs.tcp_connect if t.ip in TELEGRAM_DCS]
    dc_reqs = [r for r in obs.requests if host_of(r.url) in TELEGRAM_DCS or
               (r.headers.get("Host") or "").split(":")[0] in TELEGRAM_DCS]
    web = [r for r in obs.requests if host_of(r.url) == "web.telegram.org"]
    parts: list[tuple[str, str]] = []
    if dcs and not any(t.success for t in dcs):
        parts.append(("tcp.failure", f"no connection to Telegram's {len(dcs)} data-centre endpoints worked"))
    elif dc_reqs and all(r.failure for r in dc_reqs):
        parts.append(("http.failure", "every request to Telegram's data centres failed"))
    web_failed = [r for r in web if r.failure]  # OONI: any failed fetch of the web app (http or https) blocks it
    if web_failed:
        parts.append(("http.failure", f"{web_failed[0].url or 'web.telegram.org'} failed ({say(web_failed[0].failure)})"))
    details = {"dc_connects": len(dcs), "dc_connects_ok": sum(t.success for t in dcs), "web_requests": len(web)}
    if parts:
        return make_verdict(m, "anomaly", "telegram.blocked", "Telegram looks blocked: " + "; ".join(p[1] for p in parts)
                            + ".", method=parts[0][0], details=details)
    if not dcs and not dc_reqs and not web:
        return _no_data(m, "telegram")
    return make_verdict(m, "ok", "telegram.ok", "Telegram's data centres" + (" and web app" if web else "")
                        + " answered.", details=details)


def classify_signal(m: Measurement, fps: Fingerprints) -> Verdict:
    if m.test_keys is None or _empty(m):
        return _no_data(m, "signal")
    obs = m.observations(with_events=False)
    out: Outcomes = scan(obs, expected_bogons=SIGNAL_EXPECTED_BOGONS, ignore_hosts=SIGNAL_RETIRED, lab=m.is_lab)
    first = out.first()
    details = {"problems": [p.words() for p in out.problems][:8]}
    if first is None:
        retired = [q.hostname for q in obs.queries if (q.hostname or "") in SIGNAL_RETIRED and q.failure]
        note = f" (the retired host {retired[0]} no longer exists, which is not a block)" if retired else ""
        return make_verdict(m, "ok", "signal.ok", f"Every current Signal service host answered{note}.",
                            details=details)
    tls = [p for p in out.problems if p.step == "tls"]
    if (tls and len(tls) == len(out.problems) and all(p.failure == F.SSL_UNKNOWN_AUTHORITY for p in tls)
            and _version_before(m.software_version, 3, 16)
            and m.measurement_start_time is not None and m.measurement_start_time.year >= 2022):
        return make_verdict(m, "failure", "signal.outdated_pin", "Signal's hosts presented certificates this "
                            "probe version (older than 3.16) did not know: Signal changed certificate authority "
                            "in late 2022, so this cannot be told apart from interception.", details=details)
    return make_verdict(m, "anomaly", "signal.blocked", f"Signal looks blocked: {first.words()}.",
                        method=first.method, details=details)


def classify_facebook_messenger(m: Measurement, fps: Fingerprints) -> Verdict:
    if m.test_keys is None or _empty(m):
        return _no_data(m, "facebook_messenger")
    obs = m.observations(with_events=False)
    foreign = sorted({(q.hostname or "?") for q in obs.queries for a in q.answers
                      if (a.ipv4 or a.ipv6) and a.asn and a.asn != FACEBOOK_ASN})
    bogus = sorted({(q.hostname or "?") for q in obs.queries for a in q.addresses if is_bogon(a, lab=m.is_lab)})
    failed_dns = sorted({(q.hostname or "?") for q in obs.queries if q.failure and q.query_type != "AAAA"})
    tcp = obs.tcp_connect
    details = {"dns_outside_facebook": foreign, "dns_bogon": bogus, "dns_failed": failed_dns,
               "tcp_failed": sum(1 for t in tcp if not t.success), "tcp": len(tcp)}
    if bogus or foreign or failed_dns:
        which = (bogus or foreign or failed_dns)[0]
        method = "dns.bogon" if bogus else ("dns.injection" if foreign else "dns.failure")
        return make_verdict(m, "anomaly", "facebook_messenger.dns", f"The DNS answer for {which} does not point "
                            "to Facebook's network (AS32934).", method=method, details=details)
    if tcp and any(not t.success for t in tcp):
        f = next(t.failure for t in tcp if not t.success)
        return make_verdict(m, "anomaly", "facebook_messenger.tcp", f"Connections to Facebook Messenger's "
                            f"servers failed ({say(f)}).", method="tcp.timeout" if f == F.GENERIC_TIMEOUT else "tcp.failure",
                            details=details)
    return make_verdict(m, "ok", "facebook_messenger.ok", "Facebook Messenger's servers resolved to Facebook's "
                        "network and answered.", details=details)
