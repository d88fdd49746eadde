"""The per-measurement verdict: the output contract of ``analysis.classify``.

OONI-compatible keys (``blocking`` ... ``title_match``) keep OONI's meaning; ``status``/``method``/
``fingerprint``/``rule`` are ours. ``to_dict`` gives the JSON shape printed by ``censorwatch classify``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Final, Literal

from censorwatch.model.columns import Column

Status = Literal["ok", "anomaly", "confirmed", "down", "failure", "measured"]
#: ``measured``: a test that does not measure censorship (speed tests such as ndt and dash; network
#: diagnostics such as portfiltering, ddr, tlsmiddlebox) ran; ``details`` carries its figures. It is
#: never evidence of blocking or of reachability: detection ignores it.
STATUSES: Final[tuple[str, ...]] = ("ok", "anomaly", "confirmed", "down", "failure", "measured")
#: the statuses that say something about whether the target was reachable (detection's evidence)
EVIDENCE_STATUSES: Final[frozenset[str]] = frozenset({"ok", "anomaly", "confirmed"})
Blocking = Literal[False, "dns", "tcp_ip", "http-failure", "http-diff"] | None

#: Dotted mechanisms a verdict's ``method`` may name.
METHODS: Final[frozenset[str]] = frozenset(
    {
        "dns.nxdomain", "dns.bogon", "dns.injection", "dns.blockpage", "dns.failure",
        "tcp.timeout", "tcp.refused", "tcp.reset", "tcp.failure",
        "tls.reset", "tls.timeout", "tls.eof", "tls.mitm", "tls.failure",
        "http.reset", "http.timeout", "http.eof", "http.blockpage", "http.diff", "http.failure",
        "quic.timeout", "quic.failure",
        "throttle", "vpn.blocked", "unreachable", "outage",
    }
)


@dataclass(slots=True)
class Fingerprint:
    id: str
    scope: str
    source: str = "ooni"  # ooni | censoredplanet | censorwatch
    location: str | None = None  # dns | body | header:<name> | ...
    expected_countries: tuple[str, ...] = ()


@dataclass(slots=True)
class Verdict:
    # identity
    source: str | None
    measurement_uid: str | None
    report_id: str | None
    test_name: str
    probe_cc: str
    probe_asn: str
    input: str | None
    domain: str | None
    measurement_start_time: str | None  # ISO 8601 UTC
    # ours
    status: Status
    method: str | None
    rule: str
    #: the stamp of the family of rules that decided (``family/version``)
    rules_version: str
    explanation: str
    fingerprint: Fingerprint | None = None
    #: the identity of the fingerprint set the rules read (None for families that read none)
    fingerprints: str | None = None
    # OONI-compatible
    blocking: Blocking = None
    accessible: bool | None = None
    dns_consistency: Literal["consistent", "inconsistent"] | None = None
    body_length_match: bool | None = None
    body_proportion: float | None = None
    status_code_match: bool | None = None
    headers_match: bool | None = None
    title_match: bool | None = None
    #: test-specific facts behind the verdict (platform parts, measured rates, ...)
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        return d


#: The stored verdict row, in column order: the one definition ``store/rows.py`` (Arrow) and
#: ``store/schema.py`` (SQL) derive the ``verdicts`` table from; ``RowBatch.add_verdict`` fills it.
VERDICT_ROW: tuple[Column, ...] = (
    Column("measurement_uid", "str", nullable=False),
    Column("rules_version", "str", nullable=False, doc="the stamp of the family of rules that decided"),
    Column("status", "str", nullable=False),
    Column("method", "str"),
    Column("rule", "str", nullable=False),
    Column("explanation", "str"),
    Column("fingerprint_id", "str"),
    Column("fingerprint_scope", "str"),
    Column("blocking", "str", doc="'false' | 'dns' | 'tcp_ip' | 'http-failure' | 'http-diff' | NULL"),
    Column("accessible", "bool"),
    Column("dns_consistency", "str"),
    Column("body_length_match", "bool"),
    Column("body_proportion", "float64"),
    Column("status_code_match", "bool"),
    Column("headers_match", "bool"),
    Column("title_match", "bool"),
    Column("test_name", "str", nullable=False),
    Column("probe_cc", "str", nullable=False),
    Column("probe_asn", "str", nullable=False),
    Column("input", "str"),
    Column("domain", "str"),
    Column("measurement_start_time", "timestamp", nullable=False),
    Column("details", "json"),
    Column("fingerprints", "str", doc="the fingerprint set the rules read (NULL: the family reads none)"),
)
