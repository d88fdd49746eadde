"""Telling a process from a later one that reuses its pid (Linux ``/proc``)."""

from __future__ import annotations


def process_start(pid: int) -> int:
    """The process's start time in clock ticks since boot (0 if there is no such process)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(") ", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return 0
