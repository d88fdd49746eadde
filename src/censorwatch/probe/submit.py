"""Probe side of the collector: a durable local spool and an async sender with backoff.

Every measurement handed to ``SubmitQueue.put`` is first written to the spool (``pending/``, written
to a temporary file, fsynced, renamed), so nothing is lost when the collector is unreachable, the
network is shut down or the probe itself is stopped. A background task sends the spool oldest first;
on a network error, a timeout, ``429`` or ``5xx`` it waits (exponential backoff with jitter, or the
server's ``Retry-After``) and tries again, indefinitely. The measurement is sent exactly as measured:
its ``measurement_start_time`` is the time of the measurement, not of the delivery, so evidence of a
shutdown arrives late but arrives with the right time.

- ``201``/``200``: the receipt is saved to ``receipts/<measurement_uid>.json`` and the spool file removed;
- any other ``4xx`` (invalid, conflict, too large): moved to ``rejected/`` beside a ``.reason`` file,
  never retried (retrying cannot fix it).

Use::

    async with SubmitQueue("http://collector:8470", spool_dir) as q:
        await q.put(measurement)          # durable on return
        ...
        left = await q.drain(timeout=30)  # optional: wait for delivery; what is left stays spooled
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import random
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson

ENDPOINT = "/api/v1/measurements"
_RETRY_STATUSES = frozenset({408, 425, 429})
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def endpoint_of(url: str) -> str:
    """``http://host:port`` or the full endpoint URL -> the submission endpoint."""
    url = url.rstrip("/")
    return url if url.endswith(ENDPOINT) else url + ENDPOINT


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_durably(path: Path, data: bytes) -> None:
    tmp = path.with_name("." + path.name + ".tmp")
    with tmp.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


@dataclass(slots=True)
class SubmitStats:
    delivered: int = 0
    duplicates: int = 0
    rejected: int = 0
    attempts: int = 0
    failures: int = 0


class SubmitQueue:
    def __init__(
        self,
        url: str,
        spool: Path,
        *,
        timeout: float = 15.0,
        backoff_start: float = 1.0,
        backoff_max: float = 300.0,
    ) -> None:
        self.url = endpoint_of(url)
        self.spool = spool
        self.pending_dir = spool / "pending"
        self.receipts_dir = spool / "receipts"
        self.rejected_dir = spool / "rejected"
        for d in (self.pending_dir, self.receipts_dir, self.rejected_dir):
            d.mkdir(parents=True, exist_ok=True)
        self.timeout = timeout
        self.backoff_start = backoff_start
        self.backoff_max = backoff_max
        self.stats = SubmitStats()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None

    # --- lifecycle -----------------------------------------------------------------------------------
    async def __aenter__(self) -> SubmitQueue:
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(self.timeout))
        self._task = asyncio.create_task(self._sender(), name="submit-sender")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop sending; whatever is not delivered stays in the spool for next time."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # --- API -----------------------------------------------------------------------------------------
    async def put(self, measurement: dict[str, Any]) -> Path:
        """Spool one measurement durably (returns its spool file) and wake the sender."""
        data = orjson.dumps(measurement)
        name = f"{time.time_ns():020d}-{hashlib.sha256(data).hexdigest()[:16]}.json"
        path = self.pending_dir / name
        await asyncio.to_thread(_write_durably, path, data)
        self._idle.clear()
        self._wake.set()
        return path

    def pending(self) -> list[Path]:
        return sorted(p for p in self.pending_dir.iterdir() if p.suffix == ".json" and not p.name.startswith("."))

    async def drain(self, timeout: float) -> int:
        """Wait until the spool is empty or ``timeout`` seconds pass; return how many are left."""
        if self.pending():
            self._idle.clear()
            self._wake.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), timeout)
        return len(self.pending())

    # --- sender --------------------------------------------------------------------------------------
    async def _sender(self) -> None:
        failures = 0
        while True:
            files = self.pending()
            if not files:
                self._idle.set()
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), 30.0)
                continue
            for path in files:
                retry_after = await self._send_one(path)
                if retry_after is None:
                    failures = 0
                    continue
                failures += 1
                delay = min(self.backoff_max, self.backoff_start * 2 ** min(failures - 1, 20))
                delay = max(retry_after, delay * random.uniform(0.5, 1.0))
                await asyncio.sleep(delay)
                break

    async def _send_one(self, path: Path) -> float | None:
        """Deliver one spool file; ``None`` when it is done with (delivered or rejected), else a delay."""
        assert self._client is not None
        try:
            data = await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            return None
        self.stats.attempts += 1
        try:
            resp = await self._client.post(self.url, content=data, headers={"content-type": "application/json"})
        except (httpx.TransportError, httpx.TimeoutException):
            self.stats.failures += 1
            return 0.0
        if resp.status_code in (200, 201):
            try:
                doc = orjson.loads(resp.content)
            except orjson.JSONDecodeError:
                doc = None
            uid = doc.get("measurement_uid") if isinstance(doc, dict) else None
            if not (isinstance(uid, str) and _SAFE_NAME.match(uid)):
                uid = path.stem
            await asyncio.to_thread(_write_durably, self.receipts_dir / f"{uid}.json", resp.content)
            path.unlink(missing_ok=True)
            if resp.status_code == 201:
                self.stats.delivered += 1
            else:
                self.stats.duplicates += 1
            return None
        if 400 <= resp.status_code < 500 and resp.status_code not in _RETRY_STATUSES:
            self.stats.rejected += 1
            await asyncio.to_thread(
                _write_durably, self.rejected_dir / (path.stem + ".reason"), resp.content or str(resp.status_code).encode()
            )
            os.replace(path, self.rejected_dir / path.name)
            return None
        self.stats.failures += 1
        ra = resp.headers.get("retry-after", "")
        return float(ra) if ra.isdigit() else 0.0
