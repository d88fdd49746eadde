"""Finding lab worlds (``lab list``), removing detached ones (``lab down``) and leftovers (``lab clean``)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from censorwatch.lab import netns
from censorwatch.lab.topology import STATE_ROOT, Topology, teardown_namespaces
from censorwatch.model.processes import process_start

_NS_RE = re.compile(r"^cw([0-9a-f]{5})-(inet|i\d+|c\d+)$")


@dataclass(slots=True)
class RunInfo:
    run_id: str
    networks: list[str]
    owner_pid: int
    detached: bool
    alive: bool
    namespaces: list[str]


def _pid_alive(pid: int, start: int = 0) -> bool:
    if pid <= 0:
        return False
    if start and process_start(pid) != start:
        return False  # the pid was reused by another process
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][:1] != "Z"
    except (OSError, IndexError):
        return False


def runs() -> list[RunInfo]:
    """Every world this machine knows of: by state directory, plus namespaces without one."""
    found: dict[str, RunInfo] = {}
    if STATE_ROOT.is_dir():
        for d in sorted(STATE_ROOT.iterdir()):
            try:
                t = Topology.load(d.name)
            except (OSError, ValueError, TypeError):
                found[d.name] = RunInfo(d.name, [], 0, False, False, [])
                continue
            found[d.name] = RunInfo(t.run_id, t.networks, t.owner_pid, t.detached,
                                    _pid_alive(t.owner_pid, t.owner_start),
                                    [ns for ns in t.namespaces() if (netns.NETNS_DIR / ns).exists()])
    for ns in netns.list_netns():
        m = _NS_RE.match(ns)
        if m:
            info = found.setdefault(m.group(1), RunInfo(m.group(1), [], 0, False, False, []))
            if ns not in info.namespaces:
                info.namespaces.append(ns)
    return list(found.values())


def _namespaces_of(info: RunInfo) -> list[str]:
    names = set(info.namespaces)
    if info.networks:
        names.update(Topology(info.run_id, info.networks).namespaces())
    if netns.ETC_NETNS.is_dir():
        names.update(p.name for p in netns.ETC_NETNS.iterdir() if p.name.startswith(f"cw{info.run_id}-"))
    return sorted(names)


def remove(info: RunInfo) -> list[str]:
    if info.detached and info.alive:
        with contextlib.suppress(ProcessLookupError):
            os.kill(info.owner_pid, 15)
    return teardown_namespaces(_namespaces_of(info), STATE_ROOT / info.run_id)


def clean(*, everything: bool = False, only: set[str] | None = None) -> tuple[list[str], list[str]]:
    """Remove worlds whose owner is dead (``everything``: all worlds; ``only``: just these run ids).

    Returns (removed ids, problems).
    """
    removed, problems = [], []
    for info in runs():
        if (info.alive and not everything) or (only is not None and info.run_id not in only):
            continue
        problems += remove(info)
        removed.append(info.run_id)
    if netns.ETC_NETNS.is_dir():  # resolv.conf directories whose namespace is gone
        live = set(netns.list_netns())
        for p in netns.ETC_NETNS.iterdir():
            m = _NS_RE.match(p.name)
            if (m and p.name not in live and (only is None or m.group(1) in only)
                    and (everything or not _owned_by_live(p.name))):
                shutil.rmtree(p, ignore_errors=True)
    return removed, problems


def _owned_by_live(ns: str) -> bool:
    m = _NS_RE.match(ns)
    if not m:
        return False
    meta = STATE_ROOT / m.group(1) / "meta.json"
    try:
        m = json.loads(meta.read_text())
        return _pid_alive(m["owner_pid"], m.get("owner_start", 0))
    except (OSError, ValueError, KeyError):
        return False
