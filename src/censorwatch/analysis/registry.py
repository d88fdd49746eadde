"""The analysis registry: test families, and which family judges a measurement.

A *family* is the unit the rules are versioned by: the OONI test names it judges (old spellings
included), one ``classify`` for all of them, every rule id its verdicts can carry with one line saying
what it decides, and a ``version`` (spelled with the family's name: ``tor-2``) that changes whenever
any of its rules changes behaviour. Every verdict is stamped with its family's version (see
``analysis/verdicts.py``) and, for families that read fingerprints, with the identity of the
fingerprint set it used. A stored
verdict is stale only when its stamp is no longer a current one (its family's version changed) or,
for those families, when the active fingerprint set changed: changing the Tor rules re-judges Tor
measurements and nothing else.

Two families may claim one test name only when they tell measurements apart by ``shape`` (censorwatch
writes its own VPN and platform measurements under OONI's test names ``openvpn``, ``tor``,
``whatsapp``, ...): the first family whose ``shape`` accepts the measurement judges it, else the one
claiming the name without a shape. Two families claiming a name without a shape are refused.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from censorwatch.model.measurement import Measurement
from censorwatch.model.verdict import Verdict

if TYPE_CHECKING:
    from censorwatch.analysis.fingerprints import Fingerprints

Classifier = Callable[[Measurement, "Fingerprints"], Verdict]

#: Rule ids the dispatcher itself may give any measurement.
COMMON_RULES: Final[dict[str, str]] = {
    "unknown_test": "a test this version has no rules for",
    "no_data": "the measurement has no test_keys",
    "classify_error": "the measurement is malformed in a way the rules did not expect",
}


@dataclass(frozen=True, slots=True)
class Family:
    name: str
    tests: tuple[str, ...]
    version: str
    rules: Mapping[str, str]
    classify: Classifier
    #: verdicts of this family depend on the active fingerprint sets (a new set makes them stale)
    uses_fingerprints: bool = False
    #: one sentence for docs and ``censorwatch rules``: what the family's tests measure
    summary: str = ""
    #: for test names another family also claims: which measurements are this family's
    shape: Callable[[Measurement], bool] | None = None

    @property
    def stamp(self) -> str:
        """What a verdict stores in ``rules_version``: the version, unique across families."""
        return self.version


def _no_rules(m: Measurement, fps: Fingerprints) -> Verdict:  # pragma: no cover - never dispatched
    raise LookupError(f"no family judges {m.test_name!r}")


class RegistryError(ValueError):
    """Two families claim the same test name (or rule id); the message names both."""


class Registry:
    """Families by test name, built once from a list of families (checked for clashes)."""

    def __init__(self, families: Iterable[Family]) -> None:
        self.families: tuple[Family, ...] = tuple(families)
        by_test: dict[str, list[Family]] = {}
        rule_owner: dict[str, str] = {}
        version_owner: dict[str, str] = {}
        for fam in self.families:
            other = version_owner.setdefault(fam.version, fam.name)
            if other != fam.name:
                raise RegistryError(f"version {fam.version!r} is used by families {other!r} and {fam.name!r}")
            for rule in fam.rules:
                other = rule_owner.setdefault(rule, fam.name)
                if other != fam.name:
                    raise RegistryError(f"rule {rule!r} is declared by families {other!r} and {fam.name!r}")
            for test in fam.tests:
                claimers = by_test.setdefault(test, [])
                if fam.shape is None and any(c.shape is None for c in claimers):
                    first = next(c for c in claimers if c.shape is None)
                    raise RegistryError(f"test {test!r} is claimed by families {first.name!r} and {fam.name!r}")
                claimers.append(fam)
        # shaped families first: the one without a shape is the fallback
        self._by_test = {t: tuple(sorted(fs, key=lambda f: f.shape is None)) for t, fs in by_test.items()}
        self._single = {t: fs[0] for t, fs in by_test.items() if len(fs) == 1}
        self._named = {f.name: f for f in self.families}
        names = ",".join(sorted(self._by_test))
        #: the family of measurements no family claims; its version follows the claimed names, so a
        #: family added for a new test re-judges the measurements that had no rules
        self.unknown = Family("unknown", (), "unknown-" + hashlib.blake2b(names.encode(), digest_size=6).hexdigest(),
                              COMMON_RULES, _no_rules)
        self.rules: dict[str, str] = dict(COMMON_RULES)
        for fam in self.families:
            self.rules.update(fam.rules)

    def family_of(self, m: Measurement) -> Family:
        one = self._single.get(m.test_name)
        if one is not None:
            return one
        fams = self._by_test.get(m.test_name)
        if not fams:
            return self.unknown
        for fam in fams:
            if fam.shape is None or fam.shape(m):
                return fam
        return fams[0]

    def named(self, family: Family) -> Family:
        """This registry's family of ``family``'s name (the one whose version verdicts carry)."""
        return self._named.get(family.name, family)

    def claims(self, test_name: str) -> bool:
        return test_name in self._by_test

    @property
    def stamps(self) -> tuple[str, ...]:
        """Every current stamp: a stored verdict with another one is stale."""
        return (*(f.stamp for f in self.families), self.unknown.stamp)

    @property
    def fingerprint_stamps(self) -> tuple[str, ...]:
        """The stamps of families whose verdicts also go stale when the fingerprint set changes."""
        return tuple(f.stamp for f in self.families if f.uses_fingerprints)

    @property
    def version(self) -> str:
        """One string that changes when any family's version does (for reports and docs)."""
        joined = ";".join(sorted(self.stamps))
        return hashlib.blake2b(joined.encode(), digest_size=6).hexdigest()


def _collect() -> list[Family]:
    from censorwatch.analysis import experiments, platform_dispatch, web

    return [web.FAMILY, *platform_dispatch.FAMILIES, *experiments.FAMILIES]


_registry: Registry | None = None


def registry() -> Registry:
    """The families of this build (collected on first use)."""
    global _registry
    if _registry is None:
        _registry = Registry(_collect())
    return _registry


def family_of(m: Measurement) -> Family:
    return (_registry or registry()).family_of(m)


def current(family: Family) -> Family:
    """The registered family of ``family``'s name (a module's constant may be an older spelling)."""
    return (_registry or registry()).named(family)


_FP_IDENTITY: dict[int, tuple[object, str]] = {}


def fingerprints_identity(fps: Fingerprints) -> str:
    """A short string naming the fingerprint sets in use: equal sets, equal strings.

    ``Fingerprints.identity`` (which sets, at which revision) when the loaded fingerprints know where
    they came from; else a digest of every rule. Computed once per loaded ``Fingerprints``.
    """
    hit = _FP_IDENTITY.get(id(fps))
    if hit is not None and hit[0] is fps:
        return hit[1]
    own = getattr(fps, "identity", None)
    if isinstance(own, str) and own and own != "ad-hoc":
        return _remember(fps, own)
    h = hashlib.blake2b(digest_size=8)
    for r in sorted(fps.rules, key=lambda r: (r.source, r.id, r.location, r.pattern)):
        h.update("\x1f".join((r.source, r.id, r.scope, r.location, r.pattern_type, r.pattern,
                              ",".join(r.expected_countries))).encode("utf-8", "surrogatepass"))
        h.update(b"\x1e")
    return _remember(fps, f"{len(fps.rules)}-{h.hexdigest()}")


def _remember(fps: Fingerprints, ident: str) -> str:
    if len(_FP_IDENTITY) > 64:
        _FP_IDENTITY.clear()
    _FP_IDENTITY[id(fps)] = (fps, ident)
    return ident
