"""The families of the platform area: ``vpn``, ``throughput`` and ``platform``.

``wireguard`` and ``throughput`` are ours alone. ``openvpn`` and ``tor`` are also OONI tests with other
``test_keys``: the ``vpn`` family judges a measurement carrying censorwatch's ``handshake`` record (its
``shape``), OONI's family anything else. ``platform`` (X, TikTok, YouTube, Instagram) and the platform
measurements carrying OONI names (whatsapp, telegram, signal, facebook_messenger) are recognised by
their ``endpoints`` rows; OONI's own measurements of those keep OONI's rules.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from censorwatch.analysis.fingerprints import Fingerprints
from censorwatch.analysis.platform import classify_platform
from censorwatch.analysis.registry import Family
from censorwatch.analysis.throttle import classify_throughput
from censorwatch.analysis.vpn import classify_vpn
from censorwatch.model.measurement import Measurement
from censorwatch.model.verdict import Verdict

Classifier = Callable[[Measurement, Fingerprints], Verdict]

#: Every rule id this area's verdicts carry, with what it decides (docs/platforms.md explains each).
PLATFORM_RULES: dict[str, str] = {
    "vpn.ok": "the protocol's handshake completed",
    "vpn.throttled": "the handshake completed but took >= 5x its round trips at the host's TCP RTT and >= 500 ms",
    "vpn.control_failed": "the control's handshake failed too: the server is down",
    "vpn.refused": "connection refused / ICMP port unreachable: nothing listens there",
    "vpn.unreachable": "the host cannot be reached at all (timeout, unreachable)",
    "vpn.blocked": "the host answers but the handshake was reset, closed, dropped or garbled",
    "vpn.no_data": "no handshake record",
    "throttle.ratio": "the target is >= 10x slower than the same-network reference",
    "throttle.statistical": "KS p < 0.05, CDF area > 0.1 and >= 1.5x slower than the reference",
    "throttle.none": "target about as fast as the reference: no throttling (a slow network is not throttling)",
    "throttle.target_failed": "the target's transfers failed while the reference worked (blocking)",
    "throttle.insufficient": "fewer than 2 good transfers on a side",
    "platform.blocked": "every endpoint of at least one part (web, api, media, app) is blocked",
    "platform.partial": "some endpoints of a part are blocked, no part entirely",
    "platform.ok": "no endpoint is blocked",
    "platform.down": "every part is down everywhere",
    "platform.no_data": "no endpoint could be judged",
    "platform.endpoint.no_data": "an endpoint without measurement data",
    "platform.tcp.ok": "a TCP endpoint connected",
    "platform.tcp.dns": "a TCP endpoint's name did not resolve for the probe (resolves for the control or no control)",
    "platform.tcp.dns_down": "a TCP endpoint's name resolves for nobody",
    "platform.tcp.down": "a TCP endpoint the control cannot connect to either",
    "platform.tcp.blocked": "every connection to a TCP endpoint failed while the control connected (or no control)",
    "platform.tcp.no_data": "a TCP endpoint without connects or DNS failure",
}


def is_ours_vpn(m: Measurement) -> bool:
    tk = m.test_keys
    return isinstance(tk, dict) and isinstance(tk.get("handshake"), dict) and "protocol" in tk


def is_ours_platform(m: Measurement) -> bool:
    tk = m.test_keys
    return isinstance(tk, dict) and isinstance(tk.get("endpoints"), list) and "platform" in tk


def _vpn(m: Measurement, fps: Fingerprints) -> Verdict:
    return classify_vpn(m)


def _throughput(m: Measurement, fps: Fingerprints) -> Verdict:
    return classify_throughput(m)


def _rules(prefix: str) -> dict[str, str]:
    return {k: v for k, v in PLATFORM_RULES.items() if k.startswith(prefix)}


FAMILIES: list[Family] = [
    Family("vpn", ("wireguard", "openvpn", "tor"), "vpn-3", _rules("vpn."), _vpn, shape=is_ours_vpn,
           summary="Circumvention reachability (WireGuard, OpenVPN, Tor) against endpoints the user gives: "
                   "handshake completed, unreachable, or protocol blocked."),
    Family("throughput", ("throughput",), "throughput-2", _rules("throttle."), _throughput,
           summary="Throttling: a target's sustained rate against a same-network reference."),
    Family("platform", ("platform", "whatsapp", "telegram", "signal", "facebook_messenger"), "platform-2",
           _rules("platform."), classify_platform, uses_fingerprints=True, shape=is_ours_platform,
           summary="Platforms (X, TikTok, YouTube, WhatsApp, ...) endpoint by endpoint: which parts are blocked "
                   "and how."),
]


def _either(ours: Callable[[Measurement], bool], mine: Classifier, ooni: Classifier | None) -> Classifier:
    def fn(m: Measurement, fps: Fingerprints) -> Verdict:
        if ooni is None or ours(m):
            return mine(m, fps)
        return ooni(m, fps)

    return fn


def classifiers(ooni: Mapping[str, Classifier]) -> dict[str, Classifier]:
    """Entries to merge into a name -> classifier table (``analysis.experiments.CLASSIFIERS``), wrapping
    OONI's classifier where names are shared. The registry does not use it: it dispatches by family."""
    out: dict[str, Classifier] = {"wireguard": _vpn, "throughput": _throughput, "platform": classify_platform}
    for name in ("openvpn", "tor"):
        out[name] = _either(is_ours_vpn, _vpn, ooni.get(name))
    for name in ("whatsapp", "telegram", "signal", "facebook_messenger"):
        out[name] = _either(is_ours_platform, classify_platform, ooni.get(name))
    return out
