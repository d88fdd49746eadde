"""Fixtures for the collector tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from collector.helpers import CollectorProcess


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[CollectorProcess]:
    proc = CollectorProcess(tmp_path / "cw.duckdb", None, "--client-rate", "0").start()
    try:
        yield proc
    finally:
        proc.stop()
