"""One fingerprint: a pattern at a location, with the scope that says what a match proves."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from censorwatch.model.verdict import Fingerprint

PATTERN_TYPES: Final = frozenset({"full", "prefix", "contains", "regexp"})
#: Scopes whose match is proof of deliberate blocking by a country or an ISP (methodology §5). A
#: filtering product's page (``prod``) is not: the same product filters offices, schools and opt-in
#: "family" DNS services (CleanBrowsing, CloudVeil, ...), so it confirms only where the fingerprint's
#: ``expected_countries`` name the probe's country.
CONFIRMING_SCOPES: Final = frozenset({"nat", "isp"})
#: Scopes that never confirm: vague words, institutional filters (school/office), known false positives.
NON_CONFIRMING_SCOPES: Final = frozenset({"vbw", "inst", "fp"})
FALSE_POSITIVE: Final = "fp"

#: Censored Planet encodes the scope in the signature id's prefix.
CP_SCOPE_BY_PREFIX: Final = {
    "a_prod": "prod",  # a filtering product (Fortinet, Barracuda, ...)
    "b_nat": "nat",  # a national blockpage
    "c_isp": "isp",  # an ISP's blockpage
    "d_corp": "inst",  # a corporate/institutional filter
    "e_unk": "vbw",  # origin unknown: evidence, not proof
    "f_gen": "vbw",  # generic wording
}


@dataclass(frozen=True, slots=True)
class FingerprintRule:
    id: str
    scope: str
    location: str  # "dns" | "body" | "header:<name>" | "response" (status line + headers + body)
    pattern_type: str  # full | prefix | contains | regexp
    pattern: str
    source: str = "ooni"  # ooni | censoredplanet | censorwatch
    expected_countries: tuple[str, ...] = ()
    confidence: int | None = None

    @property
    def is_false_positive(self) -> bool:
        return self.scope == FALSE_POSITIVE

    def confirms(self, probe_cc: str) -> bool:
        """A match is proof of blocking when the scope says so, or the expected countries do.

        ``vbw``/``inst``/``fp`` never confirm; ``nat``/``isp`` always do; any other scope (``prod``,
        ``injb``, ``prov``) confirms only in one of its expected countries. ``ZZ`` (OONI's "anywhere")
        names no country, and a probe whose country is unknown (``ZZ``) is in none.
        """
        if self.scope in NON_CONFIRMING_SCOPES:
            return False
        if self.scope in CONFIRMING_SCOPES:
            return True
        return probe_cc != "ZZ" and probe_cc in self.expected_countries

    def as_verdict_fingerprint(self) -> Fingerprint:
        return Fingerprint(
            id=self.id, scope=self.scope, source=self.source, location=self.location,
            expected_countries=self.expected_countries,
        )
