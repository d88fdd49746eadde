"""The evidence log's WAL: with ``autocheckpoint=False`` commits never copy pages back into the
database file; ``WalCheckpointer`` does it from its own thread, and the WAL stays bounded."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

from censorwatch.store.evidence import EvidenceStore, Leaf, WalCheckpointer


def _batch(start: int, n: int) -> list[Leaf]:
    out = []
    for i in range(start, start + n):
        body = os.urandom(4096)  # incompressible: every leaf takes its own pages
        out.append(Leaf(i, f"uid-{i}", hashlib.sha256(body).digest(), i, body, b"{}"))
    return out


def _fill(store: EvidenceStore, batches: int, per: int = 50) -> None:
    for b in range(batches):
        store.append_batch(_batch(b * per, per), (b * per + per, b, b"{}"), keep_sth_in_history=False)


def _wal(path: Path) -> int:
    wal = Path(f"{path}-wal")
    return wal.stat().st_size if wal.exists() else 0


def test_without_a_checkpointer_the_wal_keeps_every_commit(tmp_path: Path) -> None:
    path = tmp_path / "ev.sqlite"
    store = EvidenceStore(path, autocheckpoint=False)
    _fill(store, 20)  # ~4 MiB of leaves: SQLite's own checkpoint would have run at 1,000 pages
    assert _wal(path) > 4_000_000
    store.close()


def test_the_checkpointer_bounds_the_wal_and_loses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "ev.sqlite"
    store = EvidenceStore(path, autocheckpoint=False)
    cp = WalCheckpointer(path, interval=0.02)
    sizes = []
    for b in range(40):
        store.append_batch(_batch(b * 50, 50), (b * 50 + 50, b, b"{}"), keep_sth_in_history=False)
        time.sleep(0.03)  # a checkpoint between commits: the next commit starts the WAL over
        sizes.append(_wal(path))
    cp.close()
    assert max(sizes) < 4_000_000, sizes  # a few batches' worth, never the whole history
    assert store.count() == 2000
    store.close()
    reader = EvidenceStore(path, readonly=True)
    assert [i for i, _ in reader.leaf_hashes()] == list(range(2000))
    reader.close()
