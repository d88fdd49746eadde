"""``lab run``: each scenario in its own world (``jobs`` worlds at once), probe, classify, tear down."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from censorwatch.lab import instance
from censorwatch.lab.errors import LabError, ScenarioError
from censorwatch.lab.instance import LabInstance
from censorwatch.lab.pool import POOL
from censorwatch.lab.probing import classify, run_probe
from censorwatch.lab.scenario import Scenario

STOP = threading.Event()


def run_one(sc: Scenario) -> dict[str, Any]:
    if sc.probe is None:
        return {"scenario": sc.name, "network": None, "error": f"{sc.source}: probe: required for lab run"}
    net = sc.probe.network
    result: dict[str, Any] = {"scenario": sc.name, "network": net}
    try:
        if STOP.is_set():
            raise LabError("interrupted")
        with LabInstance(sc) as lab:
            lab.apply_timeline(math.inf)
            urls = [sc.probe.input] if sc.probe.input else []
            ms = run_probe(lab, net, sc.probe.test, urls)
        if not ms:
            raise LabError("the probe returned no measurement")
        result["measurement"] = ms[0]
        result["verdict"] = classify(ms[0])
    except (LabError, ScenarioError) as exc:
        result["error"] = str(exc)
    except (OSError, ValueError, RuntimeError) as exc:  # keep the other scenarios going
        result["error"] = f"{type(exc).__name__}: {exc}"
    return result


def run_many(scenarios: list[Scenario], jobs: int = 1,
             on_result: Callable[[dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
    """Results in input order; ``on_result`` is called as each finishes (for progress)."""
    STOP.clear()
    instance.install_handlers()
    POOL.target = max(1, min(jobs, len(scenarios)) // 2)  # warm servers and probes for the next worlds
    results: list[dict[str, Any] | None] = [None] * len(scenarios)
    pool = ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="lab")
    futures: dict[Future[dict[str, Any]], int] = {pool.submit(run_one, sc): i for i, sc in enumerate(scenarios)}
    try:
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            for f in done:
                results[futures[f]] = r = f.result()
                if on_result is not None:
                    on_result(r)
    except BaseException:
        STOP.set()
        for f in futures:
            f.cancel()
        instance.teardown_all()  # kills daemons and probes: the workers fail fast
        pool.shutdown(wait=True, cancel_futures=True)
        instance.teardown_all()  # anything a worker built meanwhile
        raise
    pool.shutdown(wait=True)
    return [r for r in results if r is not None]
