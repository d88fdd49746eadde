"""Inputs: Citizen Lab CSV test lists and plain URL files, with errors that say where and why."""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

from censorwatch.probe.webconnectivity import check_url

ENV_LISTS = "CENSORWATCH_TEST_LISTS"


class InputError(ValueError):
    """Bad input: the message carries ``path:line: reason``."""


@dataclass(frozen=True, slots=True)
class Target:
    url: str
    category_code: str | None = None
    source: str | None = None  # path:line


def resolve_list(name: str) -> Path:
    """``global``/``pk``/... -> ``$CENSORWATCH_TEST_LISTS/<name>.csv``; a path stays a path."""
    p = Path(name)
    if p.suffix == ".csv" or os.sep in name:
        if not p.is_file():
            raise InputError(f"{name}: no such test list file")
        return p
    root = os.environ.get(ENV_LISTS)
    if not root:
        raise InputError(f"--list {name}: set ${ENV_LISTS} to the directory of the Citizen Lab lists "
                         "(or pass a path to a .csv file)")
    path = Path(root) / f"{name.lower()}.csv"
    if not path.is_file():
        raise InputError(f"--list {name}: {path} does not exist")
    return path


def read_citizenlab(path: Path) -> list[Target]:
    try:
        f = path.open(encoding="utf-8", newline="")
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    with f:
        rows = csv.reader(f)
        try:
            header = next(rows)
        except StopIteration:
            raise InputError(f"{path}:1: empty file, expected a Citizen Lab CSV header") from None
        cols = [c.strip().lower() for c in header]
        if "url" not in cols:
            raise InputError(f"{path}:1: no 'url' column in the header {header!r}")
        iu = cols.index("url")
        ic = cols.index("category_code") if "category_code" in cols else None
        out: list[Target] = []
        for row in rows:
            line = rows.line_num
            if not row or not any(c.strip() for c in row):
                continue
            if len(row) <= iu:
                raise InputError(f"{path}:{line}: row has {len(row)} columns, the url is column {iu + 1}")
            url = row[iu].strip()
            try:
                check_url(url)
            except ValueError as exc:
                raise InputError(f"{path}:{line}: {exc}") from None
            cat = row[ic].strip() if ic is not None and ic < len(row) else None
            out.append(Target(url, cat or None, f"{path}:{line}"))
    return out


def read_url_file(path: Path) -> list[Target]:
    """One URL per line; blank lines and ``#`` comments ignored. CSV files go to ``read_citizenlab``."""
    if path.suffix == ".csv":
        return read_citizenlab(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read: {exc}") from exc
    out: list[Target] = []
    for line_no, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        try:
            check_url(s)
        except ValueError as exc:
            raise InputError(f"{path}:{line_no}: {exc}") from None
        out.append(Target(s, None, f"{path}:{line_no}"))
    return out


def dedupe(targets: list[Target]) -> list[Target]:
    seen: set[str] = set()
    out = []
    for t in targets:
        if t.url not in seen:
            seen.add(t.url)
            out.append(t)
    return out
