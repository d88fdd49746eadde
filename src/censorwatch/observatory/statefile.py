"""``<db>.observatory.json``: a running observatory says where it serves, so that the CLI (which
cannot open a store another process writes: DuckDB locks the file even against readers) can ask
its API instead. Written when the service listens, removed when it stops; a file left by a killed
service is recognised as stale (its process is gone, or its pid now belongs to another process)."""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from censorwatch.model.processes import process_start


@dataclass(frozen=True, slots=True)
class ServiceInfo:
    pid: int
    process_start: int  # clock ticks since boot: a reused pid is not taken for the service
    dashboard: str  # base URL of the dashboard, JSON API and admin API
    collector: str  # base URL of the collector (probes submit there)
    started_at: str
    version: str


def state_path(db: Path) -> Path:
    return db.with_name(db.name + ".observatory.json")


def write(db: Path, info: ServiceInfo) -> None:
    path = state_path(db)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(asdict(info), indent=2) + "\n")
    tmp.replace(path)


def remove(db: Path, pid: int) -> None:
    """Remove the file if it is this process's (a newer service may have replaced it)."""
    found = read(db, check_alive=False)
    if found is not None and found.pid == pid:
        with contextlib.suppress(FileNotFoundError):
            state_path(db).unlink()


def read(db: Path, *, check_alive: bool = True) -> ServiceInfo | None:
    """The running service of ``db``, or None (no file, an unreadable one, or a stale one)."""
    try:
        info = ServiceInfo(**json.loads(state_path(db).read_text()))
    except (OSError, ValueError, TypeError):
        return None
    if check_alive and (info.pid == os.getpid() or process_start(info.pid) != info.process_start):
        return None
    return info
