"""Read fingerprint files: OONI's CSVs and Censored Planet's JSON-lines signatures.

Formats (see ``../shared/README.md``):
- ``fingerprints_dns.csv`` / ``fingerprints_http.csv``: columns ``name,scope,other_names,
  location_found,pattern_type,pattern,confidence_no_fp,expected_countries,source,exp_url,notes``;
  ``location_found`` is ``dns``, ``body`` or ``header.<name>``.
- ``blockpage_signatures.json`` / ``false_positive_signatures.json``: one ``{"fingerprint": id,
  "pattern": regex}`` object a line; the scope comes from the id's prefix (``b_nat_...``); every
  false-positive signature has scope ``fp``.
A row that cannot be used is skipped and reported as ``path:line: reason``; nothing raises on a bad row.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from censorwatch.analysis.fingerprints.rule import CP_SCOPE_BY_PREFIX, PATTERN_TYPES, FingerprintRule

OONI_FILES = ("fingerprints_dns.csv", "fingerprints_http.csv")
CP_BLOCKPAGES = "blockpage_signatures.json"
CP_FALSE_POSITIVES = "false_positive_signatures.json"


def _location(raw: str) -> str | None:
    loc = raw.strip().lower()
    if loc in ("dns", "body"):
        return loc
    if loc.startswith("header."):
        name = loc.removeprefix("header.").strip()
        return f"header:{name}" if name else None
    return None


def read_ooni_csv(path: Path, *, source: str = "ooni") -> tuple[list[FingerprintRule], list[str]]:
    rules: list[FingerprintRule] = []
    errors: list[str] = []
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        for row in reader:
            where = f"{path}:{reader.line_num}"
            name = (row.get("name") or "").strip()
            ptype = (row.get("pattern_type") or "").strip().lower()
            pattern = row.get("pattern") or ""
            loc = _location(row.get("location_found") or "")
            if not name:
                errors.append(f"{where}: missing name")
                continue
            if ptype not in PATTERN_TYPES:
                errors.append(f"{where}: {name}: unknown pattern_type {ptype!r}")
                continue
            if loc is None:
                errors.append(f"{where}: {name}: unknown location_found {row.get('location_found')!r}")
                continue
            if not pattern:
                errors.append(f"{where}: {name}: empty pattern")
                continue
            conf = (row.get("confidence_no_fp") or "").strip()
            countries = tuple(
                c.strip().upper() for c in (row.get("expected_countries") or "").split(",") if c.strip()
            )
            rules.append(
                FingerprintRule(
                    id=name, scope=(row.get("scope") or "").strip().lower() or "vbw", location=loc,
                    pattern_type=ptype, pattern=pattern, source=source, expected_countries=countries,
                    confidence=int(conf) if conf.isdigit() else None,
                )
            )
    return rules, errors


def read_cp_json(path: Path, *, false_positives: bool) -> tuple[list[FingerprintRule], list[str]]:
    rules: list[FingerprintRule] = []
    errors: list[str] = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                errors.append(f"{where}: not JSON: {exc.msg}")
                continue
            if not isinstance(obj, dict) or not isinstance(obj.get("fingerprint"), str) or not isinstance(
                obj.get("pattern"), str
            ):
                errors.append(f"{where}: expected {{'fingerprint': str, 'pattern': str}}")
                continue
            fid = obj["fingerprint"]
            scope = "fp" if false_positives else CP_SCOPE_BY_PREFIX.get("_".join(fid.split("_")[:2]), "vbw")
            rules.append(
                FingerprintRule(
                    id=f"cp.{fid}", scope=scope, location="response", pattern_type="regexp",
                    pattern=obj["pattern"], source="censoredplanet",
                )
            )
    return rules, errors


def find_files(directory: Path) -> dict[str, Path]:
    """The fingerprint files under ``directory``: flat, or in ``ooni/`` and ``censoredplanet/``."""
    found: dict[str, Path] = {}
    for name in (*OONI_FILES, CP_BLOCKPAGES, CP_FALSE_POSITIVES):
        for candidate in (directory / name, directory / "ooni" / name, directory / "censoredplanet" / name):
            if candidate.is_file():
                found[name] = candidate
                break
    return found
