"""Fixtures for the collector tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from collector.helpers import CollectorProcess


@pytest.fixture(params=["1", "2"], ids=["one-process", "workers-2"])
def collector(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[CollectorProcess]:
    """The collector in one process (``--workers 1``) and as a writer with two HTTP front-ends."""
    proc = CollectorProcess(tmp_path / "cw.duckdb", None, "--client-rate", "0", "--workers", request.param).start()
    try:
        yield proc
    finally:
        proc.stop()
