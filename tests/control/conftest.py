from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "probe"))

from probenet import Net, start_net


@pytest.fixture
async def net(tmp_path: Path) -> AsyncIterator[Net]:
    n = await start_net(tmp_path)
    try:
        yield n
    finally:
        await n.close()
