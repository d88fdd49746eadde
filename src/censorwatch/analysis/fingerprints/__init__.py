"""Blocking fingerprints: censorwatch's own, OONI's CSVs and Censored Planet's signatures.

What classification uses, first that applies:

- ``load_fingerprints(DIR)`` / ``$CENSORWATCH_FINGERPRINTS``: censorwatch's own plus the files in
  ``DIR`` (the ``data/fingerprints`` root with ``ooni/`` and ``censoredplanet/`` subfolders, or a flat
  folder);
- otherwise censorwatch's own plus every set ``censorwatch fingerprints sync`` fetched into the data
  directory (``sets.synced_root()``), each checked against its manifest's sha256;
- with nothing synced, censorwatch's own alone: the blockpages and DNS answers of national and ISP
  filters it authors itself (``data/censorwatch_*.csv``, each row with a source note) and the lab's.

Nothing is ever downloaded here. Matching is one pass per text for all patterns (``patterns.py``).
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
from censorwatch.analysis.fingerprints.sets import (
    MANIFEST,
    SYNCED_NAMES,
    FingerprintSet,
    ManifestError,
    content_hash,
    read_manifest,
    synced_sets,
)

__all__ = [
    "ENV_VAR",
    "FingerprintError",
    "FingerprintRule",
    "FingerprintSet",
    "Fingerprints",
    "ResponseMatch",
    "builtin_fingerprints",
    "default_fingerprints",
    "load_fingerprints",
    "read_set_rules",
    "reset_default_fingerprints",
]

ENV_VAR = "CENSORWATCH_FINGERPRINTS"
_BUILTIN_FILES = ("censorwatch_dns.csv", "censorwatch_http.csv")
BUILTIN_ATTRIBUTION = "censorwatch's own fingerprints, written for censorwatch (each row carries its source note)"
BUILTIN_LICENCE = "the censorwatch licence"


class FingerprintError(ValueError):
    """The fingerprint directory is missing or holds no fingerprint file; the message says where."""


def _builtin() -> tuple[list[FingerprintRule], list[str], FingerprintSet]:
    rules: list[FingerprintRule] = []
    errors: list[str] = []
    base = resources.files("censorwatch.analysis.fingerprints") / "data"
    paths: list[Path] = []
    for name in _BUILTIN_FILES:
        with resources.as_file(base / name) as path:
            r, e = read_ooni_csv(Path(path), source="censorwatch")
            paths.append(Path(path))
        rules.extend(r)
        errors.extend(e)
    fset = FingerprintSet(name="censorwatch", path=str(paths[0].parent), revision=content_hash(paths),
                          licence=BUILTIN_LICENCE, attribution=BUILTIN_ATTRIBUTION, rules=len(rules))
    return rules, errors, fset


def read_set_rules(files: dict[str, Path]) -> tuple[list[FingerprintRule], list[str]]:
    """The rules of one set's files (``loader.find_files`` names), false positives first; unusable rows
    are listed as ``path:line: reason``."""
    rules: list[FingerprintRule] = []
    errors: list[str] = []
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
    return rules, errors


def _sets_in(directory: Path, files: dict[str, Path]) -> list[FingerprintSet]:
    """The sets a user-given folder holds: synced layouts keep their manifests' revisions."""
    out: list[FingerprintSet] = []
    loose = dict(files)
    for name in SYNCED_NAMES:
        sub = directory / name
        if (sub / MANIFEST).is_file():
            try:
                fset = read_manifest(sub)
            except ManifestError:
                continue
            out.append(fset)
            for fname in list(loose):
                if loose[fname].parent == sub:
                    del loose[fname]
    if loose:
        out.append(FingerprintSet(name="dir", path=str(directory), revision=content_hash(loose.values())))
    return out


def load_fingerprints(directory: Path | None = None, *, synced: Path | None = None) -> Fingerprints:
    """Fingerprints from ``directory`` (else ``$CENSORWATCH_FINGERPRINTS``, else the synced sets under
    ``synced`` or ``sets.synced_root()``) plus censorwatch's own.

    A directory that does not exist or holds none of the known files raises ``FingerprintError``;
    unusable rows are skipped and listed in ``Fingerprints.errors`` as ``path:line: reason``; a synced
    set whose files no longer match its manifest is left out and listed there too.
    """
    rules, errors, builtin = _builtin()
    sources = ["censorwatch (built in)"]
    sets = [builtin]
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
        r, e = read_set_rules(files)
        rules.extend(r)
        errors.extend(e)
        sources.extend(str(p) for p in files.values())
        sets.extend(_sets_in(directory, files))
    else:
        found, problems = synced_sets(synced)
        errors.extend(problems)
        for fset in found:
            files = find_files(Path(fset.path))
            r, e = read_set_rules(files)
            rules.extend(r)
            errors.extend(e)
            sources.extend(str(p) for p in files.values())
            sets.append(fset.with_rules(len(r)))
    return Fingerprints.from_rules(rules, errors=errors, sources=sources, sets=sets)


@lru_cache(maxsize=1)
def builtin_fingerprints() -> Fingerprints:
    """Only the fingerprints censorwatch ships (no file outside the package is read)."""
    rules, errors, fset = _builtin()
    return Fingerprints.from_rules(rules, errors=errors, sources=["censorwatch (built in)"], sets=[fset])


_default: Fingerprints | None = None


def default_fingerprints() -> Fingerprints:
    """What ``classify`` uses when given none: ``$CENSORWATCH_FINGERPRINTS`` if set, else the synced
    sets, with censorwatch's own; loaded once per process. A broken ``$CENSORWATCH_FINGERPRINTS`` falls
    back to the built-in set (classification must not fail on configuration; the CLI reports the
    error when it loads)."""
    global _default
    if _default is None:
        try:
            _default = load_fingerprints(None)
        except FingerprintError:
            _default = builtin_fingerprints()
    return _default


def reset_default_fingerprints() -> None:
    """Forget the loaded default (after a sync, or when the environment changed)."""
    global _default
    _default = None
