"""Blocking fingerprints: OONI's CSVs, Censored Planet's signatures and censorwatch's own.

``load_fingerprints(directory)`` reads the files from ``directory`` (or ``$CENSORWATCH_FINGERPRINTS``),
accepting either the ``data/fingerprints`` root (``ooni/`` and ``censoredplanet/`` subfolders) or a flat
folder, and always adds the fingerprints censorwatch authors itself (the lab's blockpage), shipped in
this package. Matching is one pass per text for all patterns (see ``patterns.py``).
"""

from __future__ import annotations

import os
from functools import lru_cache
from importlib import resources
from pathlib import Path

from censorwatch.analysis.fingerprints.loader import (
    CP_BLOCKPAGES,
    CP_FALSE_POSITIVES,
    OONI_FILES,
    find_files,
    read_cp_json,
    read_ooni_csv,
)
from censorwatch.analysis.fingerprints.matcher import Fingerprints, ResponseMatch
from censorwatch.analysis.fingerprints.rule import FingerprintRule

__all__ = [
    "ENV_VAR",
    "FingerprintError",
    "FingerprintRule",
    "Fingerprints",
    "ResponseMatch",
    "builtin_fingerprints",
    "default_fingerprints",
    "load_fingerprints",
]

ENV_VAR = "CENSORWATCH_FINGERPRINTS"
_BUILTIN_FILES = ("censorwatch_dns.csv", "censorwatch_http.csv")


class FingerprintError(ValueError):
    """The fingerprint directory is missing or holds no fingerprint file; the message says where."""


def _builtin_rules() -> tuple[list[FingerprintRule], list[str]]:
    rules: list[FingerprintRule] = []
    errors: list[str] = []
    base = resources.files("censorwatch.analysis.fingerprints") / "data"
    for name in _BUILTIN_FILES:
        with resources.as_file(base / name) as path:
            r, e = read_ooni_csv(Path(path), source="censorwatch")
        rules.extend(r)
        errors.extend(e)
    return rules, errors


def load_fingerprints(directory: Path | None = None) -> Fingerprints:
    """Fingerprints from ``directory`` (else ``$CENSORWATCH_FINGERPRINTS``) plus censorwatch's own.

    With neither given, only censorwatch's own are loaded. A directory that does not exist or holds
    none of the known files raises ``FingerprintError``; unusable rows are skipped and listed in
    ``Fingerprints.errors`` as ``path:line: reason``.
    """
    rules, errors = _builtin_rules()
    sources = ["censorwatch (built in)"]
    if directory is None and os.environ.get(ENV_VAR):
        directory = Path(os.environ[ENV_VAR])
    if directory is not None:
        directory = Path(directory).expanduser()
        if not directory.is_dir():
            raise FingerprintError(f"{directory}: fingerprint directory does not exist")
        files = find_files(directory)
        if not files:
            wanted = ", ".join((*OONI_FILES, CP_BLOCKPAGES, CP_FALSE_POSITIVES))
            raise FingerprintError(f"{directory}: no fingerprint files found (looked for {wanted})")
        # False positives first: their rules are listed (and reported) before the blockpages.
        if CP_FALSE_POSITIVES in files:
            r, e = read_cp_json(files[CP_FALSE_POSITIVES], false_positives=True)
            rules.extend(r)
            errors.extend(e)
        for name in OONI_FILES:
            if name in files:
                r, e = read_ooni_csv(files[name])
                rules.extend(r)
                errors.extend(e)
        if CP_BLOCKPAGES in files:
            r, e = read_cp_json(files[CP_BLOCKPAGES], false_positives=False)
            rules.extend(r)
            errors.extend(e)
        sources.extend(str(p) for p in files.values())
    return Fingerprints.from_rules(rules, errors=errors, sources=sources)


@lru_cache(maxsize=1)
def builtin_fingerprints() -> Fingerprints:
    """Only the fingerprints censorwatch ships (no file outside the package is read)."""
    rules, errors = _builtin_rules()
    return Fingerprints.from_rules(rules, errors=errors, sources=["censorwatch (built in)"])


_default: Fingerprints | None = None


def default_fingerprints() -> Fingerprints:
    """What ``classify`` uses when given none: ``$CENSORWATCH_FINGERPRINTS`` if set, else the built-in
    set; loaded once per process. A broken ``$CENSORWATCH_FINGERPRINTS`` falls back to the built-in set
    (classification must not fail on configuration; the CLI reports the error when it loads)."""
    global _default
    if _default is None:
        try:
            _default = load_fingerprints(None)
        except FingerprintError:
            _default = builtin_fingerprints()
    return _default
