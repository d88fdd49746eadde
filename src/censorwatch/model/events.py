"""Detected events and merged incidents: the output contract of detection (issue 5).

An ``Event`` is one detector's claim about one series: a target blocked on one network
(``kind="blocking"``) or a network gone dark (``kind="outage"``, ``target`` None). An ``Incident``
merges the blocking events of one target across a country's networks (or the outages of one
country's networks) over overlapping periods, with a confidence set by a stable, versioned rule.
Times are aware UTC datetimes; ``end`` None means ongoing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal

EventKind = Literal["blocking", "outage"]
Confidence = Literal["suspected", "likely", "confirmed"]
CONFIDENCES: Final[tuple[str, ...]] = ("suspected", "likely", "confirmed")
DETECTORS: Final[tuple[str, ...]] = ("bayes", "cusum", "volume")


def iso(dt: datetime | None) -> str | None:
    """ISO 8601 UTC with ``Z`` (seconds precision), None stays None."""
    if dt is None:
        return None
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def stable_id(prefix: str, *parts: object) -> str:
    """A short id that depends only on ``parts`` (so re-running detection keeps ids stable)."""
    h = hashlib.blake2b("\x1f".join("" if p is None else str(p) for p in parts).encode(), digest_size=8)
    return f"{prefix}_{h.hexdigest()}"


@dataclass(slots=True)
class Event:
    kind: EventKind
    detector: str
    cc: str
    asn: str | None
    target: str | None
    start: datetime
    end: datetime | None
    method: str | None
    confidence: Confidence
    measurements: int
    evidence: list[str] = field(default_factory=list)
    asns: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return stable_id("ev", self.detector, self.kind, self.cc, self.asn, self.target, iso(self.start))

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape ``censorwatch events --format json`` prints."""
        return {
            "id": self.id,
            "kind": self.kind,
            "detector": self.detector,
            "cc": self.cc,
            "asn": self.asn,
            "asns": list(self.asns) if self.asns else ([self.asn] if self.asn else []),
            "target": self.target,
            "start": iso(self.start),
            "end": iso(self.end),
            "method": self.method,
            "confidence": self.confidence,
            "measurements": self.measurements,
            "evidence": list(self.evidence),
            "details": self.details,
        }


@dataclass(slots=True)
class Incident:
    kind: EventKind
    cc: str
    target: str | None
    asns: list[str]
    methods: list[str]
    start: datetime
    end: datetime | None
    confidence: Confidence
    confidence_rule: str
    confidence_reason: str
    event_ids: list[str]
    evidence: list[str]
    measurements: int
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return stable_id("inc", self.kind, self.cc, self.target, iso(self.start))

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape ``censorwatch incidents --format json`` prints."""
        return {
            "id": self.id,
            "kind": self.kind,
            "cc": self.cc,
            "target": self.target,
            "asns": list(self.asns),
            "methods": list(self.methods),
            "method": self.methods[0] if self.methods else None,
            "start": iso(self.start),
            "end": iso(self.end),
            "confidence": self.confidence,
            "confidence_rule": self.confidence_rule,
            "confidence_reason": self.confidence_reason,
            "measurements": self.measurements,
            "event_ids": list(self.event_ids),
            "evidence": list(self.evidence),
            "details": self.details,
        }
