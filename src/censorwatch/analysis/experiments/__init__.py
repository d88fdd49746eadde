"""Rules for the tests other than web_connectivity, one module per family (docs/classification.md)."""

from __future__ import annotations

from collections.abc import Callable

from censorwatch.analysis.experiments import apps, circumvention, legacy, middlebox, primitives
from censorwatch.analysis.fingerprints import Fingerprints
from censorwatch.model.measurement import Measurement
from censorwatch.model.verdict import Verdict

CLASSIFIERS: dict[str, Callable[[Measurement, Fingerprints], Verdict]] = {
    "whatsapp": apps.classify_whatsapp,
    "telegram": apps.classify_telegram,
    "signal": apps.classify_signal,
    "facebook_messenger": apps.classify_facebook_messenger,
    "tor": circumvention.classify_tor,
    "torsf": circumvention.classify_bootstrap,
    "vanilla_tor": circumvention.classify_bootstrap,
    "psiphon": circumvention.classify_bootstrap,
    "openvpn": circumvention.classify_openvpn,
    "riseupvpn": circumvention.classify_riseupvpn,
    "meek_fronted_requests_test": circumvention.classify_meek,
    "http_invalid_request_line": middlebox.classify_invalid_request_line,
    "http_header_field_manipulation": middlebox.classify_header_field_manipulation,
    "http_requests": legacy.classify_http_requests,
    "dns_consistency": legacy.classify_dns_consistency,
    "browser_web": legacy.classify_browser_web,
    "dnscheck": legacy.classify_dnscheck,
    "stunreachability": primitives.classify_stunreachability,
    "urlgetter": primitives.classify_urlgetter,
}
# the platform area's tests (wireguard, throughput, platform) and its own shapes of openvpn/tor/apps
from censorwatch.analysis import platform_dispatch  # noqa: E402

CLASSIFIERS.update(platform_dispatch.classifiers(CLASSIFIERS))
