"""Measurement runs, on a schedule: what ``censorwatch probe``, ``platform`` and ``vpn`` ask for.

The CLI parses options and renders progress; the runs themselves live here:

- ``run_platforms``: each named platform of the catalogue, endpoint by endpoint;
- ``run_endpoints``: circumvention reachability of each VPN/Tor endpoint;
- ``repeatedly``: one run, or one run every ``every`` seconds (``repeat`` times, or until stopped),
  each measurement handed to ``deliver`` as soon as it is made; with ``submit``, the collector's
  durable submission queue gets every measurement of every run (``probe.submit``), and what is not
  delivered at the end stays spooled for the next run;
- ``store``: a run's measurements into the store, with their verdicts (``pipeline.ingest``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from censorwatch.model.addresses import AddressPolicy
from censorwatch.model.measurement import Measurement
from censorwatch.pipeline.ingest import ingest
from censorwatch.probe import ProbeConfig, build_context, vpn
from censorwatch.probe import platforms as catalogue
from censorwatch.probe.circumvention.endpoints import Endpoint
from censorwatch.probe.platforms import experiment
from censorwatch.probe.submit import SubmitQueue
from censorwatch.store.db import Store

Deliver = Callable[[dict[str, Any]], None]
#: (what is being measured, how many are done, how many in all)
Step = Callable[[str, int, int], None]


def platform_names(names: list[str], catalogue_path: Path | None = None) -> list[str]:
    """The platforms ``names`` stands for (``all`` = every one); ValueError naming unknown ones."""
    cat = catalogue.load(catalogue_path)
    chosen = list(cat) if "all" in names else names
    unknown = [n for n in chosen if n not in cat]
    if unknown:
        raise ValueError(f"unknown platform(s) {', '.join(unknown)}; known: {', '.join(cat)}, all")
    return chosen


async def run_platforms(names: list[str], config: ProbeConfig, *, catalogue_path: Path | None = None,
                        address_map: dict[str, str] | None = None, deliver: Deliver | None = None,
                        step: Step | None = None) -> list[dict[str, Any]]:
    """Measure each named platform in turn; ValueError on unknown names (before anything is measured)."""
    cat = catalogue.load(catalogue_path)
    chosen = platform_names(names, catalogue_path)
    ctx = build_context(config)
    results = []
    for i, name in enumerate(chosen):
        if step is not None:
            step(f"platform {name}", i, len(chosen))
        m = await experiment.run(cat[name], ctx, address_map=address_map)
        results.append(m)
        if deliver is not None:
            deliver(m)
    if step is not None:
        step("platforms", len(chosen), len(chosen))
    return results


async def run_endpoints(endpoints: list[Endpoint], *, timeout: float, policy: AddressPolicy, lab: bool = False,
                        deliver: Deliver | None = None, step: Step | None = None) -> list[dict[str, Any]]:
    """Circumvention reachability of each endpoint in turn (``unreachable`` vs ``vpn.blocked``)."""
    results = []
    for i, ep in enumerate(endpoints):
        if step is not None:
            step(ep.public_uri, i, len(endpoints))
        m = await vpn.run(ep, timeout=timeout, policy=policy, annotations={"censorwatch_lab": True} if lab else None)
        results.append(m)
        if deliver is not None:
            deliver(m)
    return results


def store(db: Path, measurements: list[dict[str, Any]]) -> int:
    """Keep a run's measurements in the store with their verdicts; the number that were new."""
    with Store(db) as s:
        stats = ingest(s, (Measurement.from_raw(m, source="probe") for m in measurements))
    return int(stats.new)


async def repeatedly(run_once: Callable[[Deliver], Awaitable[int]], *, every: float | None = None,
                     repeat: int | None = None, submit: str | None = None, spool: Path | None = None,
                     deliver: Deliver | None = None, on_wait: Callable[[float], None] | None = None,
                     on_undelivered: Callable[[int], None] | None = None, drain_timeout: float = 10.0) -> int:
    """Run ``run_once(deliver)`` once, or every ``every`` seconds (``repeat`` times when given);
    return the last run's exit code. Each measurement goes to ``deliver`` and, with ``submit`` (the
    collector's URL; ``spool`` its local queue), into the durable submission queue."""
    if submit is not None and spool is None:
        raise ValueError("submitting needs a spool directory")
    queue = SubmitQueue(submit, spool) if submit is not None and spool is not None else None
    pending: set[asyncio.Task[Any]] = set()

    def each(m: dict[str, Any]) -> None:
        if deliver is not None:
            deliver(m)
        if queue is not None:
            task = asyncio.get_running_loop().create_task(queue.put(m))
            pending.add(task)
            task.add_done_callback(pending.discard)

    async def loop() -> int:
        runs = 0
        while True:
            runs += 1
            started = time.monotonic()
            try:
                code = await run_once(each)
            finally:
                if pending:  # every measurement of the run is in the spool before the next one starts
                    await asyncio.gather(*pending, return_exceptions=True)
            if every is None or (repeat is not None and runs >= repeat):
                return code
            if on_wait is not None:
                on_wait(every)
            await asyncio.sleep(max(0.0, every - (time.monotonic() - started)))

    if queue is None:
        return await loop()
    async with queue:
        try:
            return await loop()
        finally:
            left = await queue.drain(timeout=drain_timeout)
            if left and on_undelivered is not None:
                on_undelivered(left)
