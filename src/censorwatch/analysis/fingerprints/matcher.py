"""The loaded fingerprint collection and the questions classification asks it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from censorwatch.analysis.fingerprints.patterns import PatternSet
from censorwatch.analysis.fingerprints.rule import FingerprintRule
from censorwatch.analysis.fingerprints.sets import FingerprintSet, identity
from censorwatch.analysis.netaddr import parse_ip
from censorwatch.model.addresses import LAB_NET
from censorwatch.model.observations import HTTPResponse


@dataclass(frozen=True, slots=True)
class ResponseMatch:
    """What one HTTP response matched. A false positive, when found, means the blockpage matches of the
    same response can never confirm (they are kept, as weaker evidence, in ``suppressed``)."""

    false_positive: FingerprintRule | None = None
    blockpages: tuple[FingerprintRule, ...] = ()
    suppressed: tuple[FingerprintRule, ...] = ()


NO_MATCH = ResponseMatch()


def _in_lab_net(text: str) -> bool:
    p = parse_ip(text)
    return p is not None and p[0] == 4 and LAB_NET[0] <= p[1] <= LAB_NET[1]


@dataclass(slots=True)
class Fingerprints:
    rules: list[FingerprintRule] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    #: the sets the rules came from, in load order (``identity`` names them with their revisions)
    sets: list[FingerprintSet] = field(default_factory=list)
    _dns: PatternSet = field(default_factory=PatternSet)
    #: body rules and whole-response rules share one automaton: a body is scanned once for both
    _content: PatternSet = field(default_factory=PatternSet)
    _headers: dict[str, PatternSet] = field(default_factory=dict)

    @classmethod
    def from_rules(cls, rules: Iterable[FingerprintRule], *, errors: Iterable[str] = (),
                   sources: Iterable[str] = (), sets: Iterable[FingerprintSet] = ()) -> Fingerprints:
        rules = list(rules)
        fps = cls(rules=rules, errors=list(errors), sources=list(sources), sets=list(sets))
        by_header: dict[str, list[FingerprintRule]] = {}
        for r in rules:
            if r.location.startswith("header:"):
                by_header.setdefault(r.location.removeprefix("header:"), []).append(r)
        fps._dns = PatternSet.build(r for r in rules if r.location == "dns")
        fps._content = PatternSet.build(r for r in rules if r.location in ("body", "response"))
        fps._headers = {name: PatternSet.build(rs) for name, rs in by_header.items()}
        for ps in (fps._dns, fps._content, *fps._headers.values()):
            fps.errors.extend(ps.errors)
        return fps

    def __len__(self) -> int:
        return len(self.rules)

    @property
    def identity(self) -> str:
        """``censorwatch@<hash>+ooni@<commit>+...``: which sets, at which revision (``ad-hoc`` when
        the rules were given directly)."""
        return identity(self.sets) if self.sets else "ad-hoc"

    def match_dns(self, address: str, *, lab: bool = False) -> list[FingerprintRule]:
        """DNS fingerprints matching one answer. Lab-range addresses match only in lab measurements."""
        if not lab and _in_lab_net(address):
            return []
        return [r for r in self._dns.match(address) if not r.is_false_positive]

    def match_response(self, response: HTTPResponse, *, scan_body: bool = True) -> ResponseMatch:
        """Match header values, the body and (Censored Planet) the whole response; false positives first."""
        hits: list[FingerprintRule] = []
        for name, value in response.headers_list or response.headers.items():
            ps = self._headers.get(name.lower())
            if ps is not None and value:
                hits.extend(ps.match(value))
        body = response.body if scan_body else None
        if body:
            hits.extend(self._content.match(body))  # OONI body rules and Censored Planet's, one pass
        pairs = response.headers_list or list(response.headers.items())
        if pairs and self._content.size:
            # Censored Planet's signatures read the whole response; its head is scanned on its own.
            head = "".join(f"{k}: {v}\r\n" for k, v in pairs)
            hits.extend(r for r in self._content.match(f"HTTP/1.1 {response.code or ''}\r\n{head}")
                        if r.location == "response")
        if not hits:
            return NO_MATCH
        for h in hits:
            if h.is_false_positive:
                return ResponseMatch(false_positive=h, suppressed=tuple(r for r in hits if not r.is_false_positive))
        return ResponseMatch(blockpages=tuple(dict.fromkeys(hits)))

    def match_response_text(self, text: str) -> FingerprintRule | None:
        """A raw response (status line, headers, body as one text): the best blockpage, false positives first."""
        hits = self._content.match(text)
        if any(h.is_false_positive for h in hits) or not hits:
            return None
        return sorted(hits, key=lambda h: (h.scope not in ("nat", "isp", "prod"), -(h.confidence or 0)))[0]
