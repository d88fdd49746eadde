"""Durable file replacement: the bytes on disk before the name, the name on disk before returning."""

from __future__ import annotations

import os
from pathlib import Path


def fsync_path(path: Path, *, directory: bool = False) -> None:
    """``fsync`` a file (or, with ``directory``, a directory's entries) by path."""
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_durably(tmp: Path, final: Path) -> None:
    """Move the finished ``tmp`` over ``final`` so that a crash leaves one or the other, whole."""
    fsync_path(tmp)
    os.replace(tmp, final)
    fsync_path(final.parent, directory=True)
