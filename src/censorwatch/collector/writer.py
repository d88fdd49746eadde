"""The single writer: one asyncio task that batches submissions into durable commits (group commit).

Request handlers call ``submit`` (never blocks: ``None`` when the queue is full, which the app turns
into ``429``) and await the returned future. The writer takes everything queued (up to ``max_batch``),
assigns leaf indexes, signs receipts and the new tree head, and commits leaves + tree head in one
SQLite transaction (``synchronous=FULL``) in its own thread, so the event loop keeps parsing requests
meanwhile. Only after that commit returns are the futures resolved: a 201 always means "on disk".
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import orjson

from censorwatch.collector.keys import LogSigner
from censorwatch.collector.merkle import MerkleTree
from censorwatch.collector.metrics import Metrics
from censorwatch.collector.validate import Accepted
from censorwatch.store.evidence import EvidenceStore, Leaf


class Outcome(Enum):
    CREATED = "created"
    DUPLICATE = "duplicate"
    CONFLICT = "conflict"


@dataclass(slots=True)
class _Pending:
    acc: Accepted
    fut: asyncio.Future[tuple[Outcome, bytes]]
    received_ms: int = field(default=0)


class LogCorrupt(RuntimeError):
    """The stored leaves do not match the stored signed tree head: refuse to serve."""


class LogWriter:
    def __init__(
        self,
        path: Path,
        signer: LogSigner,
        metrics: Metrics,
        *,
        queue_size: int = 8192,
        max_batch: int = 1024,
        sth_history_interval_ms: int = 1000,
        linger: float = 0.002,
        linger_below: int = 32,
    ) -> None:
        self.path = path
        self.signer = signer
        self.metrics = metrics
        self.max_batch = max_batch
        # group commit: when fewer than ``linger_below`` are waiting, wait ``linger`` s for more first.
        # Each commit costs ~1 ms of CPU whatever its size (tree head signature, the transaction, the
        # fsync, the hand-over to the thread): at 1,000/s, batches of ~3 became ~6 and the CPU per
        # submission fell by ~0.15 ms, for 2 ms more latency. Under heavy load batches are big anyway.
        self.linger = linger
        self.linger_below = linger_below
        self.sth_history_interval_ms = sth_history_interval_ms
        self.queue: asyncio.Queue[_Pending] = asyncio.Queue(maxsize=queue_size)
        self.tree = MerkleTree()
        self.sth: dict[str, Any] = {}
        self.sth_bytes = b""
        self._store: EvidenceStore | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="evidence-writer")
        self._last_history_ms = 0
        self._task: asyncio.Task[None] | None = None

    # --- lifecycle -----------------------------------------------------------------------------------
    def _open(self) -> None:
        store = EvidenceStore(self.path)
        for expected, (idx, h) in enumerate(store.leaf_hashes()):
            if idx != expected:
                raise LogCorrupt(f"{self.path}: leaf index {idx} where {expected} was expected")
            self.tree.append(h)
        latest = store.latest_sth()
        if latest is None:
            if self.tree.size:
                raise LogCorrupt(f"{self.path}: {self.tree.size} leaves but no signed tree head")
            doc = self.signer.sth(0, self.tree.root(), int(time.time() * 1000))
            store.put_sth((0, doc["timestamp"], orjson.dumps(doc)))
            latest = orjson.dumps(doc)
        sth = orjson.loads(latest)
        if sth["tree_size"] != self.tree.size or sth["root_hash"] != self.tree.root().hex():
            raise LogCorrupt(
                f"{self.path}: stored tree head (size {sth['tree_size']}) does not match the "
                f"{self.tree.size} stored leaves"
            )
        self.sth, self.sth_bytes = sth, latest
        self._store = store

    async def start(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._pool, self._open)
        self._task = asyncio.create_task(self._run(), name="evidence-writer")

    async def stop(self, drain_timeout: float = 10.0) -> None:
        """Commit what is queued (up to ``drain_timeout``), then stop and close."""
        if self._task is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.queue.join(), drain_timeout)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._store is not None:
            await asyncio.get_running_loop().run_in_executor(self._pool, self._store.close)
        self._pool.shutdown(wait=True)

    # --- intake --------------------------------------------------------------------------------------
    def submit(self, acc: Accepted) -> asyncio.Future[tuple[Outcome, bytes]] | None:
        fut: asyncio.Future[tuple[Outcome, bytes]] = asyncio.get_running_loop().create_future()
        try:
            self.queue.put_nowait(_Pending(acc, fut))
        except asyncio.QueueFull:
            return None
        return fut

    @property
    def size(self) -> int:
        return int(self.sth.get("tree_size", 0))

    # --- the loop ------------------------------------------------------------------------------------
    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self.queue.get()]
            if self.linger and self.queue.qsize() < self.linger_below:
                await asyncio.sleep(self.linger)
            while len(batch) < self.max_batch and not self.queue.empty():
                batch.append(self.queue.get_nowait())
            t0 = time.perf_counter()
            start = self.tree.size
            try:
                results, sth, sth_bytes, staged = self._stage(batch)
                if staged:  # the commit (the fsync) is the only step that waits: in the writer thread
                    await loop.run_in_executor(self._pool, self._durable, start)
            except Exception as exc:  # a disk error: fail this batch's requests, keep serving
                for p in batch:
                    if not p.fut.done():
                        p.fut.set_exception(exc)
                    self.queue.task_done()
                continue
            self.sth, self.sth_bytes = sth, sth_bytes
            self.metrics.batches += 1
            self.metrics.batch_seconds.observe(time.perf_counter() - t0)
            self.metrics.batch_size.observe(len(batch))
            for p, res in zip(batch, results, strict=True):
                if not p.fut.done():
                    p.fut.set_result(res)
                self.queue.task_done()

    def _stage(self, batch: list[_Pending]) -> tuple[list[tuple[Outcome, bytes]], dict[str, Any], bytes, bool]:
        """On the event loop (CPU only, no waiting): dedupe, sign, append to the tree, write the batch
        into an open transaction. Doing this here and only the commit in the thread means one hand-over
        of the GIL per batch instead of several per measurement (each of which can wait for the event
        loop's switch interval when it is busy). Returns whether a transaction was staged."""
        store = self._store
        assert store is not None
        now_ms = int(time.time() * 1000)
        start = self.tree.size
        results: list[tuple[Outcome, bytes]] = []
        new: list[Leaf] = []
        stored = store.by_uids([p.acc.measurement_uid for p in batch])
        in_batch: dict[str, tuple[bytes, bytes]] = {u: (r.leaf_hash, r.receipt) for u, r in stored.items()}
        for p in batch:
            acc = p.acc
            seen = in_batch.get(acc.measurement_uid)
            if seen is not None:
                same = seen[0] == acc.leaf_hash
                results.append((Outcome.DUPLICATE if same else Outcome.CONFLICT, seen[1]))
                continue
            idx = start + len(new)
            receipt = self.signer.receipt_bytes(idx, acc.leaf_hash, acc.measurement_uid, now_ms)
            new.append(Leaf(idx, acc.measurement_uid, acc.leaf_hash, now_ms, acc.canonical, receipt, acc.stored))
            in_batch[acc.measurement_uid] = (acc.leaf_hash, receipt)
            results.append((Outcome.CREATED, receipt))
        if not new:
            return results, self.sth, self.sth_bytes, False
        try:
            for lf in new:
                self.tree.append(lf.leaf_hash)
            sth = self.signer.sth(self.tree.size, self.tree.root(), now_ms)
            sth_bytes = orjson.dumps(sth)
            keep = now_ms - self._last_history_ms >= self.sth_history_interval_ms
            store.stage_batch(new, (sth["tree_size"], now_ms, sth_bytes), keep_sth_in_history=keep)
        except BaseException:
            self.tree.truncate(start)
            raise
        if keep:
            self._last_history_ms = now_ms
        return results, sth, sth_bytes, True

    def _durable(self, start: int) -> None:
        """In the writer thread: commit the staged batch; on failure forget its leaves. All or nothing."""
        store = self._store
        assert store is not None
        try:
            store.commit()
        except BaseException:
            store.rollback()
            self.tree.truncate(start)
            raise
