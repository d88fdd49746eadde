"""Probes in the lab submitting what they measure, as ``probe --submit`` does: each measurement goes
into a durable spool the moment it is done and is sent from there to the collector (the world's
collector host, ``lab/relay.py``). What cannot be delivered before the probe exits (a shutdown cuts
the ISP off) stays spooled; the next probe run with the same spool sends it, oldest first.

Used by the lab's probe entries (``probe_entry``, ``platform_entry``) when their request carries
``"submit"`` (the collector's URL) and ``"spool"`` (a directory, one per network)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import TracebackType
from typing import Any

#: seconds a probe run waits for its spool to empty before it exits (the rest is sent next run)
WAIT = 10.0


class Submission:
    def __init__(self, req: dict[str, Any]) -> None:
        self.url: str | None = req.get("submit")
        self.spool = Path(req["spool"]) if req.get("spool") else None
        self.wait = float(req.get("submit_wait", WAIT))
        self.queue: Any = None
        self.tasks: set[asyncio.Task[Any]] = set()
        self.left = 0

    async def __aenter__(self) -> Submission:
        if self.url and self.spool is not None:
            from censorwatch.probe.submit import SubmitQueue

            self.queue = SubmitQueue(self.url, self.spool, timeout=5.0, backoff_start=0.5, backoff_max=5.0)
            await self.queue.__aenter__()
        return self

    def put_soon(self, measurement: dict[str, Any]) -> None:
        """Spool (then send) a finished measurement; for ``ProbeConfig.on_measurement``."""
        if self.queue is not None:
            t = asyncio.get_running_loop().create_task(self.queue.put(measurement))
            self.tasks.add(t)
            t.add_done_callback(self.tasks.discard)

    async def put(self, measurement: dict[str, Any]) -> None:
        if self.queue is not None:
            await self.queue.put(measurement)

    async def __aexit__(self, et: type[BaseException] | None, ev: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self.queue is None:
            return
        if self.tasks:
            await asyncio.gather(*self.tasks)
        self.left = await self.queue.drain(self.wait)
        await self.queue.__aexit__(et, ev, tb)

    def summary(self) -> dict[str, Any] | None:
        if self.queue is None:
            return None
        s = self.queue.stats
        return {"submission": {"delivered": s.delivered, "duplicates": s.duplicates, "rejected": s.rejected,
                               "spooled": self.left}}


async def drain(url: str, spool: Path, timeout: float) -> int:
    """Send what ``spool`` still holds to ``url`` (from wherever this runs); how many are left."""
    from censorwatch.probe.submit import SubmitQueue

    async with SubmitQueue(url, spool, timeout=5.0, backoff_start=0.5, backoff_max=5.0) as q:
        return int(await q.drain(timeout))
