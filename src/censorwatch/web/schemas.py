"""Response models: they are the OpenAPI schema (``/openapi.json``) the API is tested against."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field

T = TypeVar("T")


class Error(BaseModel):
    detail: str


class Page(BaseModel, Generic[T]):
    items: list[T]
    next: str | None = Field(description="cursor for the next page (pass as ?cursor=), null on the last page")


class Incident(BaseModel):
    id: str
    cc: str
    target: str | None
    target_name: str | None = Field(None, description="the target as people know it: X, WireGuard 198.18.5.1:51820")
    kind: str
    asns: list[str]
    network_names: list[str | None] | None = Field(None, description="the name of each of asns, same order")
    methods: list[str]
    start: datetime
    end: datetime | None
    confidence: str
    confidence_rule: str
    confidence_reason: str
    measurements: int
    updated_at: datetime
    false_positive: bool
    url: str


class Annotation(BaseModel):
    id: int
    kind: str
    text: str | None
    url: str | None
    created_at: datetime


class Event(BaseModel):
    id: str
    kind: str
    detector: str
    cc: str
    asn: str | None
    network_name: str | None = Field(None, description="the network's name (model.networks): known, or as measured")
    asns: list[str] | None
    network_names: list[str | None] | None = Field(None, description="the name of each of asns, same order")
    target: str | None
    target_name: str | None = Field(None, description="the target as people know it: X, WireGuard 198.18.5.1:51820")
    start: datetime
    end: datetime | None
    method: str | None
    confidence: str | None
    measurements: int
    evidence_count: int | None = None


class SeriesPoint(BaseModel):
    t: datetime
    total: int
    ok: int
    anomaly: int
    confirmed: int
    down: int
    measured: int = 0


class NetworkRow(BaseModel):
    probe_asn: str
    network_name: str | None = Field(None, description="the network's name (model.networks): known, or as measured")
    total: int
    ok: int
    anomaly: int
    confirmed: int
    down: int
    measured: int = 0
    first: datetime | None
    last: datetime | None


class LeafProof(BaseModel):
    index: int
    leaf_hash: str
    audit_path: list[str]


class LogInfo(BaseModel):
    tree_size: int
    root_hash: str
    sth_b64: str | None
    leaves: dict[str, LeafProof]


class IncidentDetail(Incident):
    event_ids: list[str]
    details: Any = None
    evidence_count: int
    annotations: list[Annotation]
    events: list[Event]
    series: list[SeriesPoint]
    networks: list[NetworkRow]
    log: LogInfo | None


class EvidenceItem(BaseModel):
    measurement_uid: str
    measurement_start_time: datetime | None = None
    probe_cc: str | None = None
    probe_asn: str | None = None
    network_name: str | None = Field(None, description="the network's name (model.networks): known, or as measured")
    test_name: str | None = None
    input: str | None = None
    domain: str | None = None
    target_name: str | None = Field(None, description="the target as people know it: X, WireGuard 198.18.5.1:51820")
    status: str | None = None
    method: str | None = None
    rule: str | None = None
    fingerprint_id: str | None = None


class MeasurementItem(BaseModel):
    measurement_uid: str
    measurement_start_time: datetime
    probe_cc: str
    probe_asn: str
    network_name: str | None = Field(None, description="the network's name (model.networks): known, or as measured")
    test_name: str
    input: str | None
    domain: str | None
    target_name: str | None = Field(None, description="the target as people know it: X, WireGuard 198.18.5.1:51820")
    status: str | None
    method: str | None


class MeasurementDetail(BaseModel):
    measurement_uid: str
    report_id: str | None
    test_name: str
    input: str | None
    domain: str | None
    target_name: str | None = Field(None, description="the target as people know it: X, WireGuard 198.18.5.1:51820")
    probe_cc: str
    probe_asn: str
    network_name: str | None = Field(None, description="the network's name (model.networks): known, or as measured")
    measurement_start_time: datetime
    software_name: str | None
    software_version: str | None
    is_lab: bool | None
    source: str | None
    ingested_at: datetime
    raw_size: int
    verdict: dict[str, Any] | None
    incidents: list[dict[str, Any]]
    raw_url: str


class AggregateRow(BaseModel):
    t: datetime
    probe_cc: str
    probe_asn: str
    network_name: str | None = Field(None, description="the network's name (model.networks): known, or as measured")
    domain: str
    target_name: str | None = Field(None, description="the target as people know it: X, WireGuard 198.18.5.1:51820")
    total: int
    ok: int
    anomaly: int
    confirmed: int
    down: int
    failure: int
    #: verdicts of tests that measure no censorship (speed tests, diagnostics)
    measured: int = 0
    methods: dict[str, Any] | None


class CountryRow(BaseModel):
    cc: str
    status: str
    networks: int
    targets: int
    total: int
    ok: int
    anomaly: int
    confirmed: int
    down: int
    measured: int = 0
    last_day: date | None
    active: dict[str, int]


class Window(BaseModel):
    since: datetime
    until: datetime


class Home(BaseModel):
    window: Window
    countries: list[CountryRow]
    active: list[Incident]
    recent: list[Incident]
    timeline: list[SeriesPoint]


class HeatCell(BaseModel):
    domain: str
    target_name: str | None = Field(None, description="the target as people know it: X, WireGuard 198.18.5.1:51820")
    row: str
    row_name: str | None = Field(None, description="the network's name when rows are networks")
    t: datetime
    status: str
    total: int
    ok: int
    anomaly: int
    confirmed: int
    down: int
    measured: int = 0


class TargetSummary(BaseModel):
    domain: str
    target_name: str | None = Field(None, description="the target as people know it: X, WireGuard 198.18.5.1:51820")
    total: int
    ok: int
    anomaly: int
    confirmed: int
    down: int
    measured: int = 0


class Outage(BaseModel):
    id: str
    asn: str | None
    network_name: str | None = Field(None, description="the network's name (model.networks): known, or as measured")
    asns: list[str] | None
    network_names: list[str | None] | None = Field(None, description="the name of each of asns, same order")
    start: datetime
    end: datetime | None
    confidence: str | None
    detector: str


class CountryDetail(BaseModel):
    cc: str
    window: Window
    bucket: str
    targets: list[TargetSummary]
    shown_targets: list[str]
    cells: list[HeatCell]
    outages: list[Outage]
    incidents: list[Incident]


class TargetDetail(BaseModel):
    domain: str
    target_name: str | None = Field(None, description="the target as people know it: X, WireGuard 198.18.5.1:51820")
    window: Window
    bucket: str
    countries: list[str]
    cells: list[HeatCell]
    incidents: list[Incident]


class AnnotationIn(BaseModel):
    kind: str = Field(description="note | statement | court_filing | link")
    text: str | None = Field(default=None, max_length=10_000)
    url: str | None = Field(default=None, max_length=2048, description="http(s) link, e.g. an official statement")


class FalsePositiveIn(BaseModel):
    false_positive: bool = True
    reason: str | None = Field(default=None, max_length=10_000)
