"""The classifiers of the platform area, for ``analysis.experiments.CLASSIFIERS``.

``wireguard`` and ``throughput`` are ours alone. ``openvpn`` and ``tor`` are also OONI tests with other
``test_keys``: a measurement carrying censorwatch's ``handshake`` record goes to ``classify_vpn``,
anything else to OONI's rules. ``platform`` (X, TikTok, YouTube, Instagram) and the platform
measurements carrying OONI names (whatsapp, telegram, signal, facebook_messenger) are recognised by
their ``endpoints`` rows; OONI's own measurements of those keep OONI's rules.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from censorwatch.analysis.fingerprints import Fingerprints
from censorwatch.analysis.platform import classify_platform
from censorwatch.analysis.throttle import classify_throughput
from censorwatch.analysis.vpn import classify_vpn
from censorwatch.model.measurement import Measurement
from censorwatch.model.verdict import Verdict

Classifier = Callable[[Measurement, Fingerprints], Verdict]


def is_ours_vpn(m: Measurement) -> bool:
    tk = m.test_keys
    return isinstance(tk, dict) and isinstance(tk.get("handshake"), dict) and "protocol" in tk


def is_ours_platform(m: Measurement) -> bool:
    tk = m.test_keys
    return isinstance(tk, dict) and isinstance(tk.get("endpoints"), list) and "platform" in tk


def _either(ours: Callable[[Measurement], bool], mine: Classifier, ooni: Classifier | None) -> Classifier:
    def fn(m: Measurement, fps: Fingerprints) -> Verdict:
        if ooni is None or ours(m):
            return mine(m, fps)
        return ooni(m, fps)

    return fn


def classifiers(ooni: Mapping[str, Classifier]) -> dict[str, Classifier]:
    """Entries to merge into the dispatch table (wrapping OONI's classifier where names are shared)."""
    def vpn(m: Measurement, fps: Fingerprints) -> Verdict:
        return classify_vpn(m)

    def thr(m: Measurement, fps: Fingerprints) -> Verdict:
        return classify_throughput(m)

    out: dict[str, Classifier] = {"wireguard": vpn, "throughput": thr, "platform": classify_platform}
    for name in ("openvpn", "tor"):
        out[name] = _either(is_ours_vpn, vpn, ooni.get(name))
    for name in ("whatsapp", "telegram", "signal", "facebook_messenger"):
        out[name] = _either(is_ours_platform, classify_platform, ooni.get(name))
    return out
