"""The families of tests other than web_connectivity, one module per group (docs/classification.md).

``FAMILIES`` lists every family; each claims its OONI test names, old spellings included, and no
name is claimed twice (``by_test`` refuses it). ``CLASSIFIERS`` maps each claimed name to its
family's ``classify``, with the platform area's own measurement shapes of openvpn, tor and the
messaging apps routed to that area's rules.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from censorwatch.analysis.experiments import (
    apps,
    circumvention,
    diagnostics,
    dns,
    middlebox,
    performance,
    primitives,
    tls,
    tor,
    web,
)
from censorwatch.analysis.fingerprints import Fingerprints
from censorwatch.analysis.registry import Family
from censorwatch.model.measurement import Measurement
from censorwatch.model.verdict import Verdict

FAMILIES: list[Family] = [
    *apps.FAMILIES, *tor.FAMILIES, *circumvention.FAMILIES, *middlebox.FAMILIES, *web.FAMILIES,
    *dns.FAMILIES, *primitives.FAMILIES, *tls.FAMILIES, *performance.FAMILIES, *diagnostics.FAMILIES,
]


def by_test(families: Iterable[Family]) -> dict[str, Family]:
    """Test name -> the family that judges it; a name claimed by two families is a ``ValueError``."""
    out: dict[str, Family] = {}
    for fam in families:
        for name in fam.tests:
            if name in out:
                raise ValueError(f"test {name!r} is claimed by both {out[name].name!r} and {fam.name!r}")
            out[name] = fam
    return out


FAMILY_OF_TEST: dict[str, Family] = by_test(FAMILIES)
CLASSIFIERS: dict[str, Callable[[Measurement, Fingerprints], Verdict]] = {
    name: fam.classify for name, fam in FAMILY_OF_TEST.items()
}
# the platform area's tests (wireguard, throughput, platform) and its own shapes of openvpn/tor/apps
from censorwatch.analysis import platform_dispatch  # noqa: E402

CLASSIFIERS.update(platform_dispatch.classifiers(CLASSIFIERS))
