"""Fingerprint sets: where each set of rules came from, and the identity of what is loaded.

A *set* is the files of one source: censorwatch's own (shipped in this package), OONI's
blocking-fingerprints or Censored Planet's signatures (fetched by ``censorwatch fingerprints sync``
into the data directory, one folder per source with a ``manifest.json``), or a folder the user gives
(``--fingerprints`` / ``$CENSORWATCH_FINGERPRINTS``). The *identity* of the loaded fingerprints names
every set and its revision (``censorwatch@<hash>+ooni@<commit>+censoredplanet@<commit>``): a verdict
that read fingerprints records it, and a verdict made with another identity is stale.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import platformdirs

#: where ``fingerprints sync`` keeps the sets it fetched (default: beside the store's default database)
ENV_DATA: Final = "CENSORWATCH_FINGERPRINTS_DATA"
MANIFEST: Final = "manifest.json"
SYNCED_NAMES: Final = ("ooni", "censoredplanet")


class ManifestError(ValueError):
    """A synced set's manifest is missing, unreadable or does not match its files."""


def synced_root() -> Path:
    """``$CENSORWATCH_FINGERPRINTS_DATA``, else ``<user data dir>/censorwatch/fingerprints``."""
    env = os.environ.get(ENV_DATA)
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir()) / "censorwatch" / "fingerprints"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def content_hash(paths: Iterable[Path]) -> str:
    """A short hash of the files' names and bytes (the revision of a set without a commit)."""
    h = hashlib.sha256()
    for p in sorted(paths, key=lambda p: p.name):
        h.update(p.name.encode())
        h.update(bytes.fromhex(sha256_file(p)))
    return h.hexdigest()[:12]


@dataclass(frozen=True, slots=True)
class FingerprintSet:
    name: str  # censorwatch | ooni | censoredplanet | dir
    path: str
    revision: str  # a commit (12 hex), else the fetch date, else a content hash
    source_url: str = ""
    commit: str | None = None
    date: str | None = None  # the commit's date, else the fetch date (ISO 8601)
    licence: str = ""
    attribution: str = ""
    files: dict[str, str] = field(default_factory=dict)  # file name -> sha256
    rules: int = 0

    @property
    def label(self) -> str:
        return f"{self.name}@{self.revision}"

    def with_rules(self, n: int) -> FingerprintSet:
        return FingerprintSet(self.name, self.path, self.revision, self.source_url, self.commit, self.date,
                              self.licence, self.attribution, dict(self.files), n)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "label": self.label, "revision": self.revision, "commit": self.commit,
                "date": self.date, "source_url": self.source_url, "licence": self.licence,
                "attribution": self.attribution, "path": self.path, "files": self.files, "rules": self.rules}


def identity(sets: Iterable[FingerprintSet]) -> str:
    return "+".join(s.label for s in sets)


def read_manifest(directory: Path) -> FingerprintSet:
    """The set described by ``directory/manifest.json``; the files' sha256 must match what is on disk."""
    path = directory / MANIFEST
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ManifestError(f"{path}: {exc}") from exc
    if not isinstance(obj, dict) or not isinstance(obj.get("files"), dict) or not isinstance(obj.get("name"), str):
        raise ManifestError(f"{path}: expected an object with 'name' and 'files'")
    files: dict[str, str] = {}
    for name, meta in obj["files"].items():
        want = meta.get("sha256") if isinstance(meta, dict) else None
        f = directory / str(name)
        if not isinstance(want, str) or not f.is_file() or sha256_file(f) != want:
            raise ManifestError(f"{path}: {name} is missing or differs from the manifest's sha256")
        files[str(name)] = want
    commit = obj.get("commit") if isinstance(obj.get("commit"), str) else None
    date = obj.get("committed_at") or obj.get("fetched_at")
    revision = commit[:12] if commit else (str(date)[:10] if date else content_hash(directory / n for n in files))
    return FingerprintSet(
        name=obj["name"], path=str(directory), revision=revision, source_url=str(obj.get("source_url") or ""),
        commit=commit, date=str(date) if date else None, licence=str(obj.get("licence") or ""),
        attribution=str(obj.get("attribution") or ""), files=files,
    )


def synced_sets(root: Path | None = None) -> tuple[list[FingerprintSet], list[str]]:
    """The synced sets under ``root`` that are intact, and a reason for each one that is not."""
    root = synced_root() if root is None else root
    sets: list[FingerprintSet] = []
    problems: list[str] = []
    for name in SYNCED_NAMES:
        d = root / name
        if not (d / MANIFEST).is_file():
            continue
        try:
            sets.append(read_manifest(d))
        except ManifestError as exc:
            problems.append(str(exc))
    return sets, problems
