"""Every file in ../shared/data/ooni-samples gets the verdict we derived by reading its raw observations.

Each expectation carries the reason, read from the raw queries/TCP/TLS/HTTP/control of the file
(never from its own ``blocking``). Several deliberately disagree with the probe's own verdict.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from censorwatch.analysis import classify
from censorwatch.analysis.fingerprints import Fingerprints, load_fingerprints
from censorwatch.analysis.registry import family_of
from censorwatch.model.measurement import Measurement
from censorwatch.store.reader import ReadError, read_paths

# path -> (status, method, rule, blocking)
EXPECTED: dict[str, tuple[str, str | None, str, object]] = {
    # archive.org in Indonesia (AS23693): the probe got `302 Location: http://lamanlabuh.aduankonten.id/`,
    # Kominfo's national blockpage (OONI nat fingerprint, header.location). The probe itself said
    # blocking=false (headers "matched"): wrong.
    "fastpath/20250527233111.802678_ID_webconnectivity_5a37ec909dbf14e3.json": (
        "confirmed", "http.blockpage", "wc.fingerprint.http", "http-diff"),
    # browser_web: the browser's result is "ok" / "error" with no detail and no control.
    "fastpath/browser_web.json": ("ok", None, "browser_web.ok", None),
    "fastpath/browser_web_error.json": ("failure", None, "browser_web.error", None),
    # fa.wikipedia.org from NL: the request failed with a Python "'ascii' codec can't decode" error: a
    # probe bug, not the network. DNS was consistent, TCP worked.
    "fastpath/bug_351.json": ("failure", None, "wc.http.unknown_failure", None),
    # fa.wikipedia.org in Iran: DNS answered 10.10.34.36, Iran's national DNS-injection address (OONI nat
    # DNS fingerprint), while the control got 91.198.174.192.
    "fastpath/bug_352.json": ("confirmed", "dns.blockpage", "wc.fingerprint.dns", "dns"),
    # HHFM: no requests at all (1, 2) or the echo helper refused the connection (3): nothing to compare.
    "fastpath/http_header_field_manipulation_1.json": ("failure", None, "hhfm.no_data", None),
    "fastpath/http_header_field_manipulation_2.json": ("failure", None, "hhfm.no_data", None),
    "fastpath/http_header_field_manipulation_3.json": ("failure", None, "hhfm.no_data", None),
    # http_requests 2014: only the direct request (a Cloudflare 301) exists, no Tor fetch to compare with.
    "fastpath/http_requests_1.json": ("failure", None, "http_requests.no_control", None),
    # http_invalid_request_line: what came back differs from what was sent: 4/5 answered by AdGuard's
    # "blocking-pages" proxy (mbx-1); 4/4 answered by an HTML page (mbx-2).
    "fastpath/mbx-1.json": ("anomaly", "http.diff", "hirl.tampering", None),
    "fastpath/mbx-2.json": ("anomaly", "http.diff", "hirl.tampering", None),
    # meek via CloudFront: the CDN itself answered 403 (its HTML error page): the fronted backend is gone.
    "fastpath/meek.json": ("down", None, "meek.front_refused", None),
    # meek via Azure: 200 with the meek server's greeting.
    "fastpath/meek2.json": ("ok", None, "meek.ok", None),
    "fastpath/meek3.json": ("ok", None, "meek.ok", None),
    # openvpn to riseup: TCP connected, no handshake failure, fetch through the tunnel worked.
    "fastpath/openvpn.json": ("ok", None, "openvpn.ok", None),
    # collegehumor.com (US): 200, body proportion > 0.7 against the control's. The "blocked" twin differs
    # only in an Age header value, so it is the same verdict.
    "fastpath/report1.json": ("ok", None, "wc.http.match", False),
    "fastpath/report1blocked.json": ("ok", None, "wc.http.match", False),
    # postmaster.co.uk (ES): 301 to https://, which then loaded (valid certificate).
    "fastpath/report2.json": ("ok", None, "wc.https_ok", False),
    "fastpath/report2blocked.json": ("ok", None, "wc.https_ok", False),
    # wikispaces.com (SK, 2021; the site closed in 2018): the probe got NXDOMAIN; the control's "addrs"
    # is only the CNAME "wikispaces.com" (no IP) and its own fetch failed with dns_lookup_error. The name
    # is dead everywhere: down, not DNS blocking (the probe said "dns").
    "fastpath/requests_none.json": ("down", None, "wc.dns.nxdomain_down", False),
    # riseupvpn (AF, 2022-02-20): TCP to black.riseup.net worked, TLS failed with ssl_invalid_certificate:
    # the certificate presented is Let's Encrypt's for black.riseup.net, expired on 2022-01-09. Riseup's
    # own lapse, seen by everyone (OONI disabled riseupvpn scoring for such false positives): down.
    "fastpath/riseupvpn.json": ("down", None, "riseupvpn.expired_certificate", None),
    # signal (IT, 3.16.5): every host resolved, connected, handshook and answered.
    "fastpath/signal_022.json": ("ok", None, "signal.ok", None),
    # signal (AM, probe 3.14.1, Oct 2022): ssl_unknown_authority on the hosts Signal had moved to a new CA,
    # everything else fine: the probe's pinned CA was outdated, not interception (the probe said blocked).
    "fastpath/signal_2627.json": ("failure", None, "signal.outdated_pin", None),
    # signal (US, 2023): everything worked except api.directory.signal.org -> NXDOMAIN: Signal retired that
    # host (contact discovery moved to cdsi.signal.org). uptime.signal.org -> 127.0.0.1 is Signal's own
    # answer. The probe said blocked: false positive.
    "fastpath/signal_679.json": ("ok", None, "signal.ok", None),
    # telegram (IT): all 12 DC connects worked and the DC requests got answers.
    "fastpath/telegram_nourl.json": ("ok", None, "telegram.ok", None),
    # test_keys null.
    "fastpath/test_keys_none.json": ("failure", None, "wc.no_data", None),
    # tor: or_port, dir_port and obfs4 targets all connected (dict form and list form).
    "fastpath/tor.json": ("ok", None, "tor.ok", None),
    "fastpath/tor_list.json": ("ok", None, "tor.ok", None),
    # torsf: generic_timeout_error at bootstrap (torsf_1, no progress recorded); torsf_2 bootstrapped in 79 s.
    "fastpath/torsf_1.json": ("anomaly", "unreachable", "bootstrap.failed", None),
    "fastpath/torsf_2.json": ("ok", None, "bootstrap.ok", None),
    # torsf_383 (ooniprobe-android 3.8.3, TH): 600 s at 0 % "Starting": tor never launched the Snowflake
    # client, nothing reached the network (OONI's fastpath discards this probe version's torsf too).
    "fastpath/torsf_383.json": ("failure", None, "bootstrap.not_started", None),
    # vanilla_tor in China: timed out at 5 % "Connecting to a relay": relays unreachable.
    "fastpath/vanilla_tor.json": ("anomaly", "tcp.timeout", "bootstrap.failed", None),
    "fastpath/vanilla_tor_ok.json": ("ok", None, "bootstrap.ok", None),
    # feminist.org (AU): a 307 whose (base64) Location is http://192.168.22.1/UserCheck/PortalMain?... , a
    # Check Point URL filter on a private address; the probe refused the redirect. Censored Planet lists
    # "UserCheck/PortalMain" as a false positive, so the prod fingerprint cannot confirm: anomaly.
    "fastpath/web_connectivity_b64_hdr.json": ("anomaly", "http.blockpage", "wc.http.redirect_filter", "http-failure"),
    # religioustolerance.org (MY): 200 matching the control's page.
    "fastpath/web_connectivity_b64_incorrect.json": ("ok", None, "wc.http.match", False),
    # facebook.com in Iran: DNS 10.10.34.36 (national injection address), TCP to it timed out.
    "fastpath/web_connectivity_ir_fp.json": ("confirmed", "dns.blockpage", "wc.fingerprint.dns", "dns"),
    # nmrc.org (IT): the https hop failed certificate verification; the control's fetch failed too.
    "fastpath/web_connectivity_no_body.json": ("down", None, "wc.http.down", False),
    # control_failure = connection_refused: no control, no verdict.
    "fastpath/web_connectivity_null.json": ("failure", None, "wc.control_failure", None),
    # yooz.ir (IR): ssl_invalid_certificate for the probe, and the control's fetch failed as well.
    "fastpath/web_connectivity_null2.json": ("down", None, "wc.http.down", False),
    # efindlove.com (CN): the control says NXDOMAIN (dns_name_error) and its fetch failed; the probe's ISP
    # resolver invented an address (NXDOMAIN hijacking) that answered a 302. The site does not exist:
    # down, not DNS blocking (the probe said "dns").
    "fastpath/web_connectivity_odd_hdr.json": ("down", None, "wc.dns.nxdomain_rewrite", False),
    # whatsapp (IE): every endpoint connected, registration and web app answered over HTTPS.
    "fastpath/whatsapp.json": ("ok", None, "whatsapp.ok", None),
    # http_requests 2016: direct and Tor responses both 302 with equal bodies.
    "fastpath/yaml16_0.json": ("ok", None, "http_requests.match", False),
    # dns_consistency 2017: the local stub answered a different Google address than the control: no
    # evidence either way.
    "fastpath/yaml17_0.json": ("failure", None, "dns_consistency.differs", None),
    # mask.icloud.com (PK): the system resolver gave Akamai (AS36183) relays, the control Apple (AS714):
    # no shared IP/ASN, hence the probe's "dns". But TCP to every address worked and the TLS handshakes
    # ended in eof_error for the probe AND for the control (on its own addresses and on the probe's):
    # iCloud Private Relay does not complete ordinary TLS handshakes for anyone. Down, not censored.
    "probe-cli/20230706183840.201925_PK_webconnectivity_19f5e0d803cbaea7.jsonc": ("down", None, "wc.http.down", False),
    # https://8.8.4.4/dns-query (IT): an IP literal, HTTPS succeeded.
    "probe-cli/manual-8844.json": ("ok", None, "wc.https_ok", False),
    # http://dns.google (IT): port 80 timed out for the probe and for the control alike; 443 worked.
    "probe-cli/manual-dnsgoogle80.json": ("down", None, "wc.tcp.down", False),
    # firefox.com -> https://www.mozilla.org (valid certificate).
    "probe-cli/manual-firefoxcom.json": ("ok", None, "wc.https_ok", False),
    # csmonitor.com, youtube.com (with and without IPv6): the final HTTPS fetch succeeded.
    "probe-cli/manual-issue-2456.json": ("ok", None, "wc.https_ok", False),
    "probe-cli/manual-noipv6.json": ("ok", None, "wc.https_ok", False),
    "probe-cli/manual-youtube.json": ("ok", None, "wc.https_ok", False),
}


@pytest.fixture(scope="module")
def fps(shared: Path) -> Fingerprints:
    return load_fingerprints(shared / "data" / "fingerprints")


@pytest.fixture(scope="module")
def measurements(samples: Path) -> dict[str, Measurement]:
    out: dict[str, Measurement] = {}
    for item in read_paths([samples]):
        assert not isinstance(item, ReadError), f"reader failed on a sample: {item}"
        assert item.source is not None
        rel = str(Path(item.source.split(":")[0]).relative_to(samples))
        assert rel not in out, f"{rel}: more than one measurement; key by line"
        out[rel] = item
    return out


def test_every_sample_file_has_an_expectation(samples: Path, measurements: dict[str, Measurement]) -> None:
    files = {str(p.relative_to(samples)) for p in samples.rglob("*") if p.is_file()}
    assert files == set(EXPECTED), f"unexpected: {files - set(EXPECTED)}, missing: {set(EXPECTED) - files}"
    assert set(measurements) == files


@pytest.mark.parametrize("rel", sorted(EXPECTED))
def test_sample_verdict(rel: str, measurements: dict[str, Measurement], fps: Fingerprints) -> None:
    m = measurements[rel]
    v = classify(m, fps)
    assert (v.status, v.method, v.rule, v.blocking) == EXPECTED[rel], v.explanation
    assert v.rules_version == family_of(m).stamp
    assert v.explanation and v.explanation.endswith(".")
    assert v.test_name == measurements[rel].test_name
    assert v.measurement_start_time and v.measurement_start_time.endswith("Z")
    if v.status == "confirmed":
        assert v.fingerprint is not None and (
            v.fingerprint.scope in ("nat", "isp") or v.probe_cc in v.fingerprint.expected_countries)


def test_pakistani_icloud_sample_is_not_dns_blocking(measurements: dict[str, Measurement], fps: Fingerprints) -> None:
    m = measurements["probe-cli/20230706183840.201925_PK_webconnectivity_19f5e0d803cbaea7.jsonc"]
    assert m.test_keys is not None and m.test_keys["blocking"] == "dns"  # what the probe claimed
    v = classify(m, fps)
    assert v.status == "down" and v.blocking is False and v.accessible is False
    assert "mask.icloud.com" in v.explanation and "control" in v.explanation


def test_verdicts_ignore_the_probes_own_summary_keys(measurements: dict[str, Measurement], fps: Fingerprints) -> None:
    """Overwriting every OONI summary key with nonsense changes no verdict."""
    for rel, m in measurements.items():
        if not isinstance(m.test_keys, dict):
            continue
        tk = dict(m.test_keys)
        for k in list(tk):
            if k in ("blocking", "accessible", "dns_consistency", "tampering", "success") or k.endswith("_match") \
                    or k.startswith("x_") or k.endswith("_blocked") or k.endswith("_blocking") or k.endswith("_status"):
                tk[k] = "nonsense"
        raw = dict(m.raw, test_keys=tk)
        forged = Measurement.from_raw(raw, source=m.source)
        a, b = classify(m, fps), classify(forged, fps)
        assert (a.status, a.method, a.rule) == (b.status, b.method, b.rule), rel


def test_out_of_the_box_only_the_indonesian_blockpage_is_confirmed(measurements: dict[str, Measurement]) -> None:
    """With nothing synced and no --fingerprints, censorwatch's own fingerprints confirm Kominfo's landing
    page (its own pattern, not OONI's) and nothing else among the samples."""
    from censorwatch.analysis.fingerprints import builtin_fingerprints

    confirmed = {rel: classify(m, builtin_fingerprints()) for rel, m in measurements.items()}
    confirmed = {rel: v for rel, v in confirmed.items() if v.status == "confirmed"}
    assert list(confirmed) == ["fastpath/20250527233111.802678_ID_webconnectivity_5a37ec909dbf14e3.json"]
    v = next(iter(confirmed.values()))
    assert v.fingerprint is not None and (v.fingerprint.id, v.fingerprint.source) == (
        "censorwatch.id_kominfo_landing", "censorwatch")


def test_iranian_samples_without_fingerprint_files_are_still_dns_blocking(
    measurements: dict[str, Measurement],
) -> None:
    """Without OONI's fingerprints the 10.10.34.36 answer is still a bogon the control never saw."""
    from censorwatch.analysis.fingerprints import builtin_fingerprints

    for rel in ("fastpath/web_connectivity_ir_fp.json", "fastpath/bug_352.json"):
        v = classify(measurements[rel], builtin_fingerprints())
        assert (v.status, v.method, v.blocking) == ("anomaly", "dns.bogon", "dns"), rel
