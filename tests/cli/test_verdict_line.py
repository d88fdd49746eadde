"""``censorwatch classify`` writes each verdict as the JSON of ``Verdict.to_dict()``, without its copy."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson

from censorwatch.analysis import classify
from censorwatch.cli.classify import verdict_line
from censorwatch.model.measurement import Measurement
from censorwatch.model.verdict import Fingerprint, Verdict
from censorwatch.store.reader import read_paths


def _via_dict(v: Verdict) -> bytes:
    return orjson.dumps(v.to_dict(), option=orjson.OPT_NON_STR_KEYS, default=str) + b"\n"


def test_every_sample_verdict_is_written_as_its_dict(shared: Path) -> None:
    verdicts = [classify(m) for m in read_paths([shared / "data" / "ooni-samples", shared / "data" / "ooni-qa"])
                if isinstance(m, Measurement)]
    assert len(verdicts) > 50 and any(v.details for v in verdicts)
    for v in verdicts:
        assert verdict_line(v) == _via_dict(v)


def test_odd_details_are_written_as_their_dict() -> None:
    v = Verdict(
        source="x.jsonl:1", measurement_uid="u", report_id=None, test_name="web_connectivity", probe_cc="PK",
        probe_asn="AS1", input="https://x.example/", domain="x.example", measurement_start_time=None,
        status="confirmed", method="dns.blockpage", rule="r", rules_version="1", explanation="e",
        fingerprint=Fingerprint("fp", "nat", expected_countries=("PK",)),
        details={"parts": [Fingerprint("a", "isp")], 3: (1, 2.5), "when": datetime(2024, 2, 17, tzinfo=UTC),
                 "set": {"only"}, "path": Path("/tmp"), "nested": {"x": [None, True]}},
    )
    assert verdict_line(v) == _via_dict(v)
    assert orjson.loads(verdict_line(v))["details"]["parts"] == [
        {"id": "a", "scope": "isp", "source": "ooni", "location": None, "expected_countries": []}]
