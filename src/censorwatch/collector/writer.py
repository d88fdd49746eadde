"""The single writer: one asyncio task that batches submissions into durable commits (group commit).

Request handlers call ``submit`` (never blocks: ``None`` when the queue is full, which the app turns
into ``429``) and await the returned future. The writer takes everything queued (up to ``max_batch``),
looks up duplicates, assigns leaf indexes, signs receipts and the new tree head, writes leaves + tree
head into one SQLite transaction and commits it (``synchronous=FULL``) in its own thread, so the event
loop keeps working meanwhile. Only after that commit returns are the futures resolved: a 201 always
means "on disk".

Two batches overlap: while batch k's commit (the fsync) runs in the thread, batch k+1 is prepared on
the event loop (duplicates looked up on a second, read-only connection and among batch k's leaves,
receipts signed, leaves appended to the in-memory tree); its rows are written and committed once k's
commit returned. Signing no longer waits for the disk, nor the disk for signing. If k's commit fails,
k's submissions get the error, the tree is cut back, and k+1 is prepared again from the stored state.
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
from censorwatch.store.evidence import EvidenceStore, Leaf, WalCheckpointer


class Outcome(Enum):
    CREATED = "created"
    DUPLICATE = "duplicate"
    CONFLICT = "conflict"


@dataclass(slots=True)
class _Pending:
    acc: Accepted
    fut: asyncio.Future[tuple[Outcome, bytes]]


@dataclass(slots=True)
class _Batch:
    """Submissions prepared for one commit: receipts signed, leaves appended to the in-memory tree."""

    start: int  # the tree size before this batch
    now_ms: int
    pending: list[_Pending] = field(default_factory=list)
    results: list[tuple[Outcome, bytes]] = field(default_factory=list)
    new: list[Leaf] = field(default_factory=list)
    seen: dict[str, tuple[bytes, bytes]] = field(default_factory=dict)  # uid -> (leaf hash, receipt)
    sth: dict[str, Any] = field(default_factory=dict)
    sth_bytes: bytes = b""
    keep: bool = False  # the tree head goes into the history too
    t0: float = 0.0
    done: asyncio.Future[None] | None = None  # the commit, in the writer thread


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
        self._checkpointer: WalCheckpointer | None = None
        self._lookup: EvidenceStore | None = None  # read-only: duplicates, while the writing connection commits
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="evidence-writer")
        self._last_history_ms = 0
        self._task: asyncio.Task[None] | None = None

    # --- lifecycle -----------------------------------------------------------------------------------
    def _open(self) -> None:
        store = EvidenceStore(self.path, autocheckpoint=False)
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
        self._lookup = EvidenceStore(self.path, readonly=True)
        self._checkpointer = WalCheckpointer(self.path)

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
        if self._lookup is not None:
            self._lookup.close()
        if self._checkpointer is not None:
            self._checkpointer.close()
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

    # --- the loop ---------------------------------------------------------------------------------
    async def _run(self) -> None:
        flight: _Batch | None = None  # the batch whose commit runs in the thread
        while True:
            if flight is None:
                first = await self.queue.get()
                if self.linger and self.queue.qsize() < self.linger_below:
                    await asyncio.sleep(self.linger)
            else:
                got = await self._next_unless(flight)
                if got is None:  # the commit returned before anything new came
                    self._land(flight)
                    flight = None
                    continue
                first = got
            batch = self._batch()
            self._add(batch, [first, *self._take(self.max_batch - 1)], flight)
            if flight is not None:
                assert flight.done is not None
                await asyncio.wait([flight.done])
                if not self._land(flight):  # its leaves are gone: prepare this batch again
                    batch = self._batch(retry=batch)
                flight = None
                self._add(batch, self._take(self.max_batch - len(batch.pending)), None)  # what came meanwhile
            flight = self._launch(batch)

    def _take(self, n: int) -> list[_Pending]:
        out: list[_Pending] = []
        while len(out) < n and not self.queue.empty():
            out.append(self.queue.get_nowait())
        return out

    async def _next_unless(self, flight: _Batch) -> _Pending | None:
        """The next submission, or ``None`` if ``flight``'s commit returns first."""
        if not self.queue.empty():
            return self.queue.get_nowait()
        assert flight.done is not None
        getter = asyncio.ensure_future(self.queue.get())
        either: list[asyncio.Future[Any]] = [getter, flight.done]
        await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        if getter.done():
            return getter.result()
        getter.cancel()  # (an item stays queued until the getter returns it)
        return None

    def _batch(self, retry: _Batch | None = None) -> _Batch:
        batch = _Batch(self.tree.size, int(time.time() * 1000), t0=time.perf_counter())
        if retry is not None:
            self._add(batch, retry.pending, None)
        return batch

    def _add(self, batch: _Batch, items: list[_Pending], flight: _Batch | None) -> None:
        """Prepare ``items`` into ``batch`` (CPU only, on the event loop): duplicates of stored leaves,
        of the batch in ``flight`` or of this batch are answered with their receipt; the others get
        the next leaf indexes, a signed receipt, and their leaf in the tree."""
        if not items:
            return
        lookup = self._lookup
        assert lookup is not None
        try:
            stored = lookup.by_uids([p.acc.measurement_uid for p in items])
        except Exception as exc:  # a read error: these submissions fail, the batch goes on
            self._fail(items, exc)
            return
        seen = batch.seen
        for uid, ref in stored.items():
            seen.setdefault(uid, (ref.leaf_hash, ref.receipt))
        earlier = flight.seen if flight is not None else {}
        now_ms = batch.now_ms
        for p in items:
            acc = p.acc
            uid = acc.measurement_uid
            known = seen.get(uid) or earlier.get(uid)
            if known is not None:
                batch.results.append((Outcome.DUPLICATE if known[0] == acc.leaf_hash else Outcome.CONFLICT, known[1]))
            else:
                idx = self.tree.append(acc.leaf_hash)
                receipt = self.signer.receipt_bytes(idx, acc.leaf_hash, uid, now_ms)
                batch.new.append(Leaf(idx, uid, acc.leaf_hash, now_ms, acc.canonical, receipt, acc.stored))
                seen[uid] = (acc.leaf_hash, receipt)
                batch.results.append((Outcome.CREATED, receipt))
            batch.pending.append(p)

    def _launch(self, batch: _Batch) -> _Batch:
        """Write the batch's rows and its tree head into a transaction; commit it in the thread."""
        loop = asyncio.get_running_loop()
        if not batch.new:
            batch.sth, batch.sth_bytes = self.sth, self.sth_bytes
            batch.done = loop.create_future()
            batch.done.set_result(None)
            return batch
        store = self._store
        assert store is not None
        try:
            batch.sth = self.signer.sth(self.tree.size, self.tree.root(), batch.now_ms)
            batch.sth_bytes = orjson.dumps(batch.sth)
            batch.keep = batch.now_ms - self._last_history_ms >= self.sth_history_interval_ms
            store.stage_batch(batch.new, (batch.sth["tree_size"], batch.now_ms, batch.sth_bytes),
                              keep_sth_in_history=batch.keep)
        except Exception as exc:
            batch.done = loop.create_future()
            batch.done.set_exception(exc)
            return batch
        batch.done = loop.run_in_executor(self._pool, self._durable)
        return batch

    def _land(self, batch: _Batch) -> bool:
        """Answer a batch whose commit is over; ``False`` (and the tree cut back) if it failed."""
        assert batch.done is not None and batch.done.done()
        exc = batch.done.exception()
        if exc is not None:  # a disk error: fail this batch's requests, keep serving
            self.tree.truncate(batch.start)
            self._fail(batch.pending, exc)
            return False
        if batch.keep:
            self._last_history_ms = batch.now_ms
        self.sth, self.sth_bytes = batch.sth, batch.sth_bytes
        self.metrics.batches += 1
        self.metrics.batch_seconds.observe(time.perf_counter() - batch.t0)
        self.metrics.batch_size.observe(len(batch.pending))
        for p, res in zip(batch.pending, batch.results, strict=True):
            if not p.fut.done():
                p.fut.set_result(res)
            self.queue.task_done()
        return True

    def _fail(self, items: list[_Pending], exc: BaseException) -> None:
        for p in items:
            if not p.fut.done():
                p.fut.set_exception(exc)
            self.queue.task_done()

    def _durable(self) -> None:
        """In the writer thread: commit the staged batch (rolled back if the commit fails)."""
        store = self._store
        assert store is not None
        try:
            store.commit()
        except BaseException:
            store.rollback()
            raise
