"""OONI's public archive: where measurements live, and which prefixes a selection has to list.

Three layouts, by day (dates from OONI's ``oonidata`` data client and its README):

- ``raw/YYYYMMDD/HH/CC/TEST/YYYYMMDDHH_CC_TEST.HOST.N.jsonl.gz`` in ``ooni-data-eu-fra`` from
  2020-10-20 on: one JSON measurement a line, gzipped, per hour, country and test. The ``.tar.gz``
  "postcans" beside them hold the same measurements as uploaded and are not read.
- ``jsonl/TEST/CC/YYYYMMDD/00/YYYYMMDD_CC_TEST.l.N.jsonl.gz`` in ``ooni-data-eu-fra`` up to
  2020-10-20: the same format, per day.
- ``canned/YYYY-MM-DD/test_name.N.tar.lz4`` (a tarball of ``.json`` files of JSON lines, and
  ``.yaml`` reports before 2016), ``canned/YYYY-MM-DD/...-probe.json.lz4`` (one report), in the
  legacy bucket ``ooni-data`` up to 2020-06-01 and in ``ooni-data-eu-fra`` from 2020-06-02 to
  2020-10-21. Cans name no country, so ``--cc`` is applied to the records read from them.

Test names are OONI's without underscores (``webconnectivity``); selections accept either spelling.
Nothing here talks to the network: listing a directory is a callable handed in.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

BUCKET = "ooni-data-eu-fra"
LEGACY_BUCKET = "ooni-data"
#: the first day of ``raw/`` and the last of ``jsonl/`` (both hold 2020-10-20)
RAW_FIRST_DAY = date(2020, 10, 20)
JSONL_LAST_DAY = date(2020, 10, 20)
#: cans: in the legacy bucket before this day, in the main bucket from it to CAN_LAST_DAY
CAN_MAIN_BUCKET_FIRST_DAY = date(2020, 6, 2)
CAN_LAST_DAY = date(2020, 10, 21)
LAYOUTS = ("auto", "raw", "jsonl", "can")

#: object kinds the sync reads, by how the key ends (longest first)
READABLE = ("jsonl.gz", "json.gz", "tar.lz4", "json.lz4", "jsonl", "json")
_RAW = re.compile(r"^raw/(\d{8})/(\d{2})/([A-Z]{2})/([a-z0-9_]+)/[^/]+$")
_JSONL = re.compile(r"^jsonl/([a-z0-9_]+)/([A-Z]{2})/(\d{8})/\d{2}/[^/]+$")
_CAN = re.compile(r"^canned/(\d{4}-\d{2}-\d{2})/([^/]+)$")


def path_test_name(name: str) -> str:
    """OONI's path spelling of a test name: ``web_connectivity`` -> ``webconnectivity``."""
    return name.strip().lower().replace("_", "")


def kind_of(key: str) -> str | None:
    """How an object is read, from the end of its key (``jsonl.gz``, ``tar.lz4``...), else ``None``."""
    name = key.rsplit("/", 1)[-1]
    return next((k for k in READABLE if name.endswith("." + k)), None)


def raw_key(hour: datetime, cc: str, test: str, part: int = 0, host: str = "n1") -> str:
    """The ``raw/`` key of one object: ``raw/20240217/05/PK/webconnectivity/2024021705_PK_webconnectivity.n1.0.jsonl.gz``."""
    t = path_test_name(test)
    return f"raw/{hour:%Y%m%d}/{hour:%H}/{cc}/{t}/{hour:%Y%m%d%H}_{cc}_{t}.{host}.{part}.jsonl.gz"


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """What an archive key says about its measurements; ``None`` where it does not say."""

    layout: str  # raw | jsonl | can | other
    kind: str | None  # how to read it; None: not a measurement object (postcan, index, yaml)
    start: datetime | None  # the hour (raw) or day (jsonl, can) the object covers
    hours: int  # how many hours from ``start`` it covers
    cc: str | None
    test: str | None

    def matches(self, sel: Selection) -> bool:
        if self.start is not None and (self.start + timedelta(hours=self.hours) <= sel.since
                                       or self.start >= sel.until):
            return False
        if sel.ccs and self.cc is not None and self.cc not in sel.ccs:
            return False
        return not (sel.tests and self.test is not None and self.test not in sel.tests)


def key_info(key: str) -> KeyInfo:
    """Parse an archive key (any layout; keys outside them are ``other``, read by their suffix)."""
    kind = kind_of(key)
    if m := _RAW.match(key):
        d, hh, cc, test = m.groups()
        start = datetime.strptime(d + hh, "%Y%m%d%H")
        return KeyInfo("raw", kind, start, 1, cc, path_test_name(test))
    if m := _JSONL.match(key):
        test, cc, d = m.groups()
        return KeyInfo("jsonl", kind, datetime.strptime(d, "%Y%m%d"), 24, cc, path_test_name(test))
    if m := _CAN.match(key):
        day, name = m.groups()
        start = datetime.strptime(day, "%Y-%m-%d")
        if kind == "tar.lz4":  # web_connectivity.0.tar.lz4
            return KeyInfo("can", kind, start, 24, None, path_test_name(name.split(".", 1)[0]))
        parts = name.split("-")  # 20201021T141726Z-US-AS20093-facebook_messenger-...-probe.json.lz4
        if kind == "json.lz4" and len(parts) > 4:
            return KeyInfo("can", kind, start, 24, parts[1], path_test_name(parts[3]))
        return KeyInfo("can", None, start, 24, None, None)  # index.json.gz, yaml.lz4
    return KeyInfo("other", kind, None, 0, None, None)


def parse_when(value: str, *, end: bool) -> datetime:
    """``YYYY-MM-DD`` or ``YYYY-MM-DDTHH[:MM[:SS]]`` (UTC) as an hour (naive, UTC).

    A start is the hour it falls in; an end is exclusive and covers its whole day (a date) or hour.
    """
    v = value.strip().replace(" ", "T").removesuffix("Z")
    try:
        dt = datetime.fromisoformat(v)
    except ValueError:
        raise ValueError(f"{value!r}: expected YYYY-MM-DD or YYYY-MM-DDTHH (UTC)") from None
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC).replace(tzinfo=None)
    hour = dt.replace(minute=0, second=0, microsecond=0)
    if not end:
        return hour
    return hour + (timedelta(days=1) if len(v) == 10 else timedelta(hours=1))


@dataclass(frozen=True, slots=True)
class Selection:
    """What to sync: ``[since, until)`` in UTC (naive datetimes, hour precision), countries, tests."""

    since: datetime
    until: datetime
    ccs: frozenset[str] = frozenset()
    tests: frozenset[str] = frozenset()
    layout: str = "auto"

    def __post_init__(self) -> None:
        if self.layout not in LAYOUTS:
            raise ValueError(f"unknown layout {self.layout!r}: expected one of {', '.join(LAYOUTS)}")
        if self.until <= self.since:
            raise ValueError(f"empty time range: {self.since:%Y-%m-%d %H:00} is not before {self.until:%Y-%m-%d %H:00}")

    @classmethod
    def of(cls, since: datetime, until: datetime, ccs: list[str] | None = None,
           tests: list[str] | None = None, layout: str = "auto") -> Selection:
        return cls(since, until, frozenset(c.strip().upper() for c in ccs or () if c.strip()),
                   frozenset(path_test_name(t) for t in tests or () if t.strip()), layout)

    def days(self) -> list[date]:
        first, last = self.since.date(), (self.until - timedelta(microseconds=1)).date()
        return [first + timedelta(days=i) for i in range((last - first).days + 1)]

    def hours(self, day: date) -> list[int]:
        start = datetime(day.year, day.month, day.day)
        return [h for h in range(24) if self.since <= start + timedelta(hours=h) < self.until]


@dataclass(frozen=True, slots=True)
class Prefix:
    bucket: str
    prefix: str


#: ``list_dirs(bucket, prefix)``: the names of the "directories" right under ``prefix``
ListDirs = Callable[[str, str], list[str]]


def _uses(sel: Selection, layout: str, day: date) -> bool:
    if layout == "raw":
        return sel.layout in ("auto", "raw") and day >= RAW_FIRST_DAY
    if layout == "jsonl":
        return sel.layout in ("auto", "jsonl") and day <= JSONL_LAST_DAY
    return sel.layout == "can" and day <= CAN_LAST_DAY


def prefixes(sel: Selection, list_dirs: ListDirs, *, bucket: str = BUCKET,
             legacy_bucket: str = LEGACY_BUCKET) -> Iterator[Prefix]:
    """The narrowest prefixes that hold every object the selection needs, in time order.

    ``raw/``: the days present are found by listing ``raw/``'s directories; then one prefix per hour
    and country (and test) when countries are given, else one per hour, or per day when the whole
    day is selected. ``jsonl/``: per test, country and day; tests and countries not given are found
    by listing one directory level (never the objects). ``canned/``: per day (the key says no
    country).
    """
    days = sel.days()
    jsonl_dirs: list[tuple[str, str]] | None = None
    raw_days: set[str] | None = None
    for day in days:
        if _uses(sel, "raw", day):
            if raw_days is None:
                raw_days = set(list_dirs(bucket, "raw/"))
            hours = sel.hours(day) if f"{day:%Y%m%d}" in raw_days else []
            if len(hours) == 24 and not sel.ccs:
                yield Prefix(bucket, f"raw/{day:%Y%m%d}/")
                hours = []
            for h in hours:
                base = f"raw/{day:%Y%m%d}/{h:02d}/"
                for cc in sorted(sel.ccs) or [""]:
                    for test in (sorted(sel.tests) or [""]) if cc else [""]:
                        yield Prefix(bucket, base + (f"{cc}/" if cc else "") + (f"{test}/" if test else ""))
        if _uses(sel, "jsonl", day):
            if jsonl_dirs is None:
                jsonl_dirs = list(_jsonl_dirs(sel, list_dirs, bucket))
            for test, cc in jsonl_dirs:
                yield Prefix(bucket, f"jsonl/{test}/{cc}/{day:%Y%m%d}/")
        if _uses(sel, "can", day):
            can_bucket = bucket if day >= CAN_MAIN_BUCKET_FIRST_DAY else legacy_bucket
            yield Prefix(can_bucket, f"canned/{day:%Y-%m-%d}/")


def _jsonl_dirs(sel: Selection, list_dirs: ListDirs, bucket: str) -> Iterator[tuple[str, str]]:
    tests = sorted(sel.tests) or sorted(list_dirs(bucket, "jsonl/"))
    for test in tests:
        ccs = sorted(sel.ccs) or sorted(list_dirs(bucket, f"jsonl/{test}/"))
        for cc in ccs:
            yield test, cc


def _alt(values: list[str]) -> str:
    """A Hadoop/shell glob matching any of ``values`` (``*`` when none is given)."""
    if not values:
        return "*"
    return values[0] if len(values) == 1 else "{" + ",".join(values) + "}"


def file_globs(sel: Selection) -> list[str]:
    """Globs (relative to the archive's root, Hadoop syntax) of the ``.jsonl.gz`` files the selection
    needs in ``raw/`` and ``jsonl/``, one per day: what a Spark job reads. Cans are not globbed."""
    if sel.layout == "can":
        raise ValueError("the tar.lz4 cans cannot be read by a glob: use `censorwatch sync --layout can`")
    ccs, tests = _alt(sorted(sel.ccs)), _alt(sorted(sel.tests))
    out = []
    for day in sel.days():
        if _uses(sel, "raw", day):
            hours = sel.hours(day)
            hh = "*" if len(hours) == 24 else _alt([f"{h:02d}" for h in hours])
            out.append(f"raw/{day:%Y%m%d}/{hh}/{ccs}/{tests}/*.jsonl.gz")
        if _uses(sel, "jsonl", day):
            out.append(f"jsonl/{tests}/{ccs}/{day:%Y%m%d}/*/*.jsonl.gz")
    return out
