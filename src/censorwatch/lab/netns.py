"""Thin wrappers over iproute2 and setns(2): the only place that runs ``ip`` and ``iptables``."""

from __future__ import annotations

import contextlib
import ctypes
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

from censorwatch.lab.errors import LabError

NETNS_DIR = Path("/var/run/netns")
ETC_NETNS = Path("/etc/netns")
_CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def run(cmd: list[str], *, input: str | None = None, timeout: float = 20.0, check: bool = True) -> str:
    try:
        p = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        raise LabError(f"{cmd[0]} not found: install iproute2 and iptables (make system-deps)") from None
    except subprocess.TimeoutExpired:
        raise LabError(f"{' '.join(cmd)} timed out after {timeout:.0f}s") from None
    if check and p.returncode != 0:
        raise LabError(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr.strip() or p.stdout.strip()}")
    return p.stdout


def ip_batch(lines: list[str], ns: str | None = None, *, check: bool = True) -> None:
    if not lines:
        return
    cmd = ["ip", *(["-n", ns] if ns else []), "-force", "-batch", "-"]
    run(cmd, input="\n".join(lines) + "\n", check=check)


def list_netns() -> list[str]:
    if not NETNS_DIR.is_dir():
        return []
    return sorted(p.name for p in NETNS_DIR.iterdir())


def netns_pids(ns: str) -> list[int]:
    """Processes living in namespace ``ns`` (by comparing namespace inodes)."""
    try:
        target = os.stat(NETNS_DIR / ns).st_ino
    except OSError:
        return []
    pids = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            if os.stat(d / "ns" / "net").st_ino == target:
                pids.append(int(d.name))
        except OSError:
            continue
    return pids


@contextlib.contextmanager
def netns(ns: str | None) -> Iterator[None]:
    """Switch the calling thread into ``ns`` (sockets created inside stay there); None = stay."""
    if ns is None:
        yield
        return
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(NETNS_DIR / ns, os.O_RDONLY)
    try:
        if _libc.setns(target, _CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise LabError(f"setns({ns}) failed: {os.strerror(err)}")
        try:
            yield
        finally:
            if _libc.setns(home, _CLONE_NEWNET) != 0:  # pragma: no cover - cannot recover
                raise LabError("could not return to the original network namespace")
    finally:
        os.close(home)
        os.close(target)


def enter(ns: str) -> None:
    """Move the calling thread into ``ns`` for good."""
    fd = os.open(NETNS_DIR / ns, os.O_RDONLY)
    try:
        if _libc.setns(fd, _CLONE_NEWNET) != 0:
            raise LabError(f"setns({ns}) failed: {os.strerror(ctypes.get_errno())}")
    finally:
        os.close(fd)


def write_sysctl(ns: str, key: str, value: str) -> None:
    with netns(ns), open(f"/proc/sys/{key.replace('.', '/')}", "w") as f:
        f.write(value)


def iptables_restore(ns: str, rules: str, *, noflush: bool = False) -> None:
    """Replace the iptables rules of ``ns`` atomically (the children of a setns'd thread inherit it).
    ``noflush``: replace only the chains ``rules`` names (the base chains keep their hooks)."""
    with netns(ns):
        run(["iptables-restore", "-w", "5", *(["--noflush"] if noflush else [])], input=rules)
