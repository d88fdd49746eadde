"""``censorwatch fingerprints sync``: fetch OONI's and Censored Planet's fingerprint files, on request.

Run only by the user's explicit command; nothing else in censorwatch downloads anything. For each
source: ask the repository host which commit its default branch is at (``GET
{api}/repos/{owner}/{repo}/commits/HEAD``; when that fails the fetch date stands in), download the
files at that commit (``GET {raw}/{owner}/{repo}/{commit or HEAD}/{path}``), parse every rule and
compile every pattern, and only then replace the previous copy, with a ``manifest.json`` (source URL,
commit, dates, sha256 of each file, licence, attribution, rule counts). A file that fails to download
or to parse, even in one row, is refused and the previous set stays in place.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import httpx

from censorwatch.analysis.fingerprints import Fingerprints, read_set_rules, reset_default_fingerprints
from censorwatch.analysis.fingerprints.loader import find_files
from censorwatch.analysis.fingerprints.sets import MANIFEST, FingerprintSet, read_manifest, synced_root

RAW_URL: Final = "https://raw.githubusercontent.com"
API_URL: Final = "https://api.github.com"
#: the largest file accepted (OONI's HTTP CSV is ~0.5 MB today)
MAX_BYTES: Final = 32 << 20
TIMEOUT_S: Final = 30.0


@dataclass(frozen=True, slots=True)
class Source:
    name: str
    repo: str  # owner/name on GitHub
    files: tuple[tuple[str, str], ...]  # (path in the repository, local file name)
    licence: str
    attribution: str

    @property
    def url(self) -> str:
        return f"https://github.com/{self.repo}"


SOURCES: Final[dict[str, Source]] = {
    "ooni": Source(
        name="ooni", repo="ooni/blocking-fingerprints",
        files=(("fingerprints_dns.csv", "fingerprints_dns.csv"), ("fingerprints_http.csv", "fingerprints_http.csv")),
        licence="none stated in the repository (no licence file): published by OONI for censorship research",
        attribution="OONI blocking-fingerprints (Open Observatory of Network Interference), gathering "
                    "fingerprints of OONI, Citizen Lab's filtering-annotations and Censored Planet",
    ),
    "censoredplanet": Source(
        name="censoredplanet", repo="censoredplanet/censoredplanet-analysis",
        files=(("pipeline/metadata/data/blockpage_signatures.json", "blockpage_signatures.json"),
               ("pipeline/metadata/data/false_positive_signatures.json", "false_positive_signatures.json")),
        licence="Apache-2.0",
        attribution="Censored Planet (University of Michigan), censoredplanet-analysis blockpage and "
                    "false-positive signatures",
    ),
}


class SyncError(Exception):
    """One source could not be fetched or validated; the message says which file and why."""


@dataclass(slots=True)
class SyncResult:
    source: str
    ok: bool
    message: str
    fset: FingerprintSet | None = None
    kept: FingerprintSet | None = None  # the previous set, still in place after a refusal
    errors: list[str] = field(default_factory=list)


async def _commit(client: httpx.AsyncClient, api_url: str, repo: str) -> tuple[str | None, str | None]:
    """(commit sha, commit date) of the default branch, or (None, None) when the host does not say."""
    try:
        r = await client.get(f"{api_url.rstrip('/')}/repos/{repo}/commits/HEAD",
                             headers={"Accept": "application/vnd.github+json"})
        if r.status_code != 200:
            return None, None
        obj = r.json()
    except (httpx.HTTPError, ValueError):
        return None, None
    sha = obj.get("sha") if isinstance(obj, dict) else None
    if not isinstance(sha, str) or len(sha) < 7 or any(c not in "0123456789abcdef" for c in sha.lower()):
        return None, None
    date = ((obj.get("commit") or {}).get("committer") or {}).get("date")
    return sha.lower(), date if isinstance(date, str) else None


async def _download(client: httpx.AsyncClient, url: str, dest: Path) -> str:
    """Stream ``url`` into ``dest``; returns its sha256. Raises ``SyncError`` with the reason."""
    h = hashlib.sha256()
    size = 0
    try:
        async with client.stream("GET", url) as r:
            if r.status_code != 200:
                raise SyncError(f"{url}: HTTP {r.status_code}")
            with dest.open("wb") as fh:
                async for chunk in r.aiter_bytes():
                    size += len(chunk)
                    if size > MAX_BYTES:
                        raise SyncError(f"{url}: larger than {MAX_BYTES >> 20} MiB")
                    h.update(chunk)
                    fh.write(chunk)
    except httpx.HTTPError as exc:
        raise SyncError(f"{url}: {type(exc).__name__}: {exc}") from exc
    if size == 0:
        raise SyncError(f"{url}: empty file")
    return h.hexdigest()


def validate(directory: Path) -> tuple[int, list[str]]:
    """(rules, problems) of the files in ``directory``: every row must parse and every pattern compile."""
    files = find_files(directory)
    rules, errors = read_set_rules(files)
    errors = list(errors) + list(Fingerprints.from_rules(rules).errors)
    if not rules and not errors:
        errors.append(f"{directory}: no rules")
    return len(rules), errors


def _current(dest: Path) -> FingerprintSet | None:
    try:
        return read_manifest(dest) if (dest / MANIFEST).is_file() else None
    except ValueError:
        return None


async def _sync_one(client: httpx.AsyncClient, src: Source, root: Path, raw_url: str, api_url: str) -> SyncResult:
    dest = root / src.name
    previous = _current(dest)
    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".sync-{src.name}-", dir=root))
    try:
        sha, committed = await _commit(client, api_url, src.repo)
        ref = sha or "HEAD"
        files: dict[str, dict[str, Any]] = {}
        for remote, local in src.files:
            url = f"{raw_url.rstrip('/')}/{src.repo}/{ref}/{remote}"
            digest = await _download(client, url, work / local)
            files[local] = {"url": url, "sha256": digest, "bytes": (work / local).stat().st_size}
        n, problems = validate(work)
        if problems:
            return SyncResult(src.name, False, f"refused: {len(problems)} problems, first: {problems[0]}",
                              kept=previous, errors=problems)
        fetched = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        manifest = {"name": src.name, "repository": src.repo, "source_url": src.url, "commit": sha,
                    "committed_at": committed, "fetched_at": fetched, "licence": src.licence,
                    "attribution": src.attribution, "files": files, "rules": n}
        (work / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        _replace(work, dest)
        fset = read_manifest(dest).with_rules(n)
        same = previous is not None and previous.files == fset.files
        return SyncResult(src.name, True, ("unchanged" if same else "updated") + f": {n} rules at {fset.label}",
                          fset=fset)
    except SyncError as exc:
        return SyncResult(src.name, False, f"refused: {exc}", kept=previous)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _replace(new: Path, dest: Path) -> None:
    """Put ``new`` in place of ``dest`` (renames on one file system; the old copy is removed last)."""
    old = dest.with_name(f".old-{dest.name}")
    shutil.rmtree(old, ignore_errors=True)
    if dest.exists():
        dest.rename(old)
    new.rename(dest)
    shutil.rmtree(old, ignore_errors=True)


async def sync_async(names: Iterable[str], *, root: Path | None = None, raw_url: str = RAW_URL,
                     api_url: str = API_URL, timeout: float = TIMEOUT_S) -> list[SyncResult]:
    root = synced_root() if root is None else root
    limits = httpx.Timeout(timeout)
    async with httpx.AsyncClient(timeout=limits, follow_redirects=True,
                                 headers={"User-Agent": "censorwatch-fingerprints-sync"}) as client:
        results = [await _sync_one(client, SOURCES[n], root, raw_url, api_url) for n in names]
    reset_default_fingerprints()
    return results


def sync(names: Iterable[str], **kw: Any) -> list[SyncResult]:
    """Fetch the named sources (``ooni``, ``censoredplanet``); one result per source, never raises for
    a source that fails (its previous set is kept)."""
    return asyncio.run(sync_async(list(names), **kw))
