"""The OONI measurement envelope (data format 0.2.0), tolerant of a decade of older shapes.

``Measurement`` keeps the original object untouched in ``raw`` (lossless: what is stored and
re-served is always ``raw``) and lifts the envelope fields the rest of the system needs into typed
attributes. ``test_keys`` stays a plain mapping, in today's spelling (``model/legacy.py`` rewrites
older probes' spellings, on a copy); ``observations()`` parses it into typed rows.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from censorwatch.model import legacy
from censorwatch.model.observations import Observations

DATA_FORMAT_VERSION = "0.2.0"
_ASN_RE = re.compile(r"^(?:AS)?(\d+)$", re.IGNORECASE)
_CC_RE = re.compile(r"^[A-Z]{2}$")


class InvalidMeasurement(ValueError):
    """The object cannot be used as a measurement; the message says why."""


def parse_time(v: Any) -> datetime | None:
    """OONI times: ``YYYY-MM-DD hh:mm:ss`` (UTC), also ISO 8601 with ``T``/``Z``/fractions, and the
    YAML era's seconds since the epoch (``start_time: 1441320103.0``); None for anything else,
    including times that fall outside years 1-9999 in UTC (``0001-01-01 00:00:00+01:00``)."""
    if isinstance(v, int | float) and not isinstance(v, bool):
        try:
            return datetime.fromtimestamp(v, UTC) if v > 0 else None
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(v, str) or len(v) < 19:
        return None
    s = v.strip().replace("T", " ")
    if s.endswith("Z"):
        s = s[:-1]
    try:
        dt = datetime.fromisoformat(s)
        if dt.tzinfo is None:
            return dt.replace(tzinfo=UTC)
        return dt.astimezone(UTC)
    except (ValueError, OverflowError):  # not a time, or outside years 1-9999 once in UTC
        return None


def _utc(dt: datetime) -> datetime:
    return dt if dt.tzinfo is UTC else dt.astimezone(UTC)


# The times below are spelled out: ``strftime`` costs ~15 us here, a tenth of a classification.
def format_time(dt: datetime | None) -> str | None:
    """ISO 8601 UTC with a ``Z``, seconds precision: ``2024-02-17T10:00:00Z``."""
    if dt is None:
        return None
    u = _utc(dt)
    return f"{u.year:04d}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:{u.second:02d}Z"


def ooni_time(dt: datetime) -> str:
    """OONI's envelope spelling: ``YYYY-MM-DD hh:mm:ss`` in UTC."""
    u = _utc(dt)
    return f"{u.year:04d}-{u.month:02d}-{u.day:02d} {u.hour:02d}:{u.minute:02d}:{u.second:02d}"


def normalize_asn(v: Any) -> str:
    """``"AS12345"`` from ``12345``, ``"AS12345"``, ``"as12345"``; ``"AS0"`` when unknown."""
    if isinstance(v, bool):
        return "AS0"
    if isinstance(v, int):
        return f"AS{v}"
    if isinstance(v, str):
        m = _ASN_RE.match(v.strip())
        if m:
            return f"AS{int(m.group(1))}"
    return "AS0"


def normalize_cc(v: Any) -> str:
    if isinstance(v, str) and _CC_RE.match(v.strip().upper()):
        return v.strip().upper()
    return "ZZ"


def input_text(v: Any) -> str | None:
    """``input`` is a URL, a host, null, or (old tests) a list: lists join with a space."""
    if v is None:
        return None
    if isinstance(v, str):
        return v or None
    if isinstance(v, list):
        parts = [str(x) for x in v if x is not None]
        return " ".join(parts) or None
    return str(v)


def domain_of(inp: str | None) -> str | None:
    """The host a measurement is about: the URL's hostname, or a bare host input."""
    if not inp:
        return None
    s = inp.strip()
    if " " in s:
        s = s.split(" ", 1)[0]
    if "://" in s:
        try:
            host = urlsplit(s).hostname
        except ValueError:
            return None
        return host.lower().rstrip(".") if host else None
    if "/" in s or (":" in s and not s.count(":") > 1):
        s = s.split("/", 1)[0].split(":", 1)[0]
    return s.lower().rstrip(".") or None


def test_name_compact(test_name: str) -> str:
    return test_name.replace("_", "")


def derive_uid(start: datetime | None, cc: str, test_name: str, digest: bytes) -> str:
    """A stable OONI-style uid: ``YYYYmmddHHMMSS.ffffff_CC_testname_<16 hex>`` from content.

    The time is the measurement's own start time; the fraction and the suffix come from the content
    digest, so the same measurement always gets the same uid and different ones practically never
    collide.
    """
    ts = _utc(start or datetime(1970, 1, 1, tzinfo=UTC))
    h = hashlib.blake2b(digest, digest_size=16).hexdigest()
    frac = int(h[:5], 16) % 1_000_000
    stamp = f"{ts.year:04d}{ts.month:02d}{ts.day:02d}{ts.hour:02d}{ts.minute:02d}{ts.second:02d}"
    return f"{stamp}.{frac:06d}_{cc}_{test_name_compact(test_name or 'unknown')}_{h[16:32]}"


@dataclass(slots=True)
class Measurement:
    raw: dict[str, Any]
    source: str | None
    test_name: str
    measurement_uid: str | None
    report_id: str | None
    input: str | None
    domain: str | None
    probe_cc: str
    probe_asn: str
    probe_network_name: str | None
    measurement_start_time: datetime | None
    data_format_version: str | None
    software_name: str | None
    software_version: str | None
    test_version: str | None
    test_keys: dict[str, Any] | None
    annotations: dict[str, Any]
    #: the measurement's bytes as read (one line, one file, or comment-stripped JSONC), when known
    raw_bytes: bytes | None = None
    #: (parsed with events?, observations): parsed once, shared by every caller of observations()
    _obs_cache: tuple[bool, Observations] | None = field(default=None, init=False, repr=False, compare=False)

    @classmethod
    def from_raw(cls, obj: Any, source: str | None = None, raw_bytes: bytes | None = None) -> Measurement:
        """Lift the envelope of one decoded JSON value; raise ``InvalidMeasurement`` with a reason."""
        if not isinstance(obj, dict):
            raise InvalidMeasurement(f"expected a JSON object, got {type(obj).__name__}")
        test_name = obj.get("test_name")
        if not isinstance(test_name, str) or not test_name:
            raise InvalidMeasurement("missing or non-string 'test_name'")
        start = parse_time(obj.get("measurement_start_time"))
        if start is None:
            start = parse_time(obj.get("test_start_time")) or parse_time(obj.get("start_time"))
        if start is None:
            raise InvalidMeasurement("missing or unparseable 'measurement_start_time' "
                                     "(YYYY-MM-DD hh:mm:ss UTC, years 1-9999)")
        tk = legacy.entry_test_keys(obj)
        if tk is not None and not isinstance(tk, dict):
            raise InvalidMeasurement(f"'test_keys' must be an object or null, got {type(tk).__name__}")
        inp = input_text(obj.get("input"))
        uid = obj.get("measurement_uid")
        ann = obj.get("annotations")
        engine = ann.get("engine_name") if isinstance(ann, dict) else None
        if engine is None and obj.get("software_name") == "censorwatch":
            engine = "censorwatch"
        # older spellings rewritten once, for every reader of test_keys; ``raw`` keeps the original
        tk = legacy.normalize_test_keys(test_name, tk, engine=engine)
        return cls(
            raw=obj,
            source=source,
            test_name=test_name,
            measurement_uid=uid if isinstance(uid, str) and uid else None,
            report_id=obj.get("report_id") if isinstance(obj.get("report_id"), str) else None,
            input=inp,
            domain=domain_of(inp),
            probe_cc=normalize_cc(obj.get("probe_cc")),
            probe_asn=normalize_asn(obj.get("probe_asn")),
            probe_network_name=(
                obj.get("probe_network_name") if isinstance(obj.get("probe_network_name"), str) else None
            ),
            measurement_start_time=start,
            data_format_version=(
                obj.get("data_format_version") if isinstance(obj.get("data_format_version"), str) else None
            ),
            software_name=obj.get("software_name") if isinstance(obj.get("software_name"), str) else None,
            software_version=(
                obj.get("software_version") if isinstance(obj.get("software_version"), str) else None
            ),
            test_version=obj.get("test_version") if isinstance(obj.get("test_version"), str) else None,
            test_keys=tk,
            annotations=ann if isinstance(ann, dict) else {},
            raw_bytes=raw_bytes,
        )

    def observations(self, *, with_events: bool = True) -> Observations:
        """The typed observations, parsed once per measurement and kept (treat them as read-only).

        A parse with network events also serves a request without them.
        """
        cached = self._obs_cache
        if cached is not None and (cached[0] or not with_events):
            return cached[1]
        obs = Observations.from_test_keys(self.test_keys, with_events=with_events)
        self._obs_cache = (with_events, obs)
        return obs

    @property
    def is_lab(self) -> bool:
        return bool(self.annotations.get("censorwatch_lab"))
