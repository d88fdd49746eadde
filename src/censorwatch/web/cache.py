"""A small page-data cache (home, country, target, incident) with stale-while-revalidate.

While the server holds the DuckDB file no other process can write it (DuckDB's file lock), so page data
only changes through this process: admin writes clear the cache at once, and the TTL bounds staleness
for in-process writers (a collector sharing the process). An entry older than ``ttl`` is still served
(for up to ``stale_for`` more seconds) while one background thread recomputes it on its own cursor,
so no visitor waits for the recomputation. ``ttl=0`` disables caching.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

import duckdb

MAX_ENTRIES = 512
log = logging.getLogger("censorwatch.web")

Compute = Callable[[duckdb.DuckDBPyConnection], Any]


class PageCache:
    def __init__(self, ttl: float, stale_for: float | None = None) -> None:
        self.ttl = ttl
        self.stale_for = 10 * ttl if stale_for is None else stale_for
        self._lock = threading.Lock()
        self._items: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
        self._refreshing: dict[Hashable, threading.Thread] = {}
        self._closed = False
        self._generation = 0

    def get(self, key: Hashable, compute: Compute, con: duckdb.DuckDBPyConnection,
            root: duckdb.DuckDBPyConnection) -> Any:
        """The cached value for ``key``; ``compute(con)`` on a miss, a background refresh when stale."""
        if self.ttl <= 0:
            return compute(con)
        now = time.monotonic()
        with self._lock:
            hit = self._items.get(key)
            generation = self._generation
            if hit is not None:
                self._items.move_to_end(key)
                born, value = hit
                if now - born <= self.ttl:
                    return value
                if now - born <= self.ttl + self.stale_for:
                    if key not in self._refreshing and not self._closed:
                        t = threading.Thread(target=self._refresh, args=(key, compute, root, generation),
                                             daemon=True, name="censorwatch-cache-refresh")
                        self._refreshing[key] = t
                        t.start()
                    return value
        value = compute(con)
        self._put(key, now, value, generation)
        return value

    def _put(self, key: Hashable, born: float, value: Any, generation: int) -> None:
        with self._lock:
            if generation != self._generation:
                return  # cleared meanwhile (an admin write): do not resurrect old data
            self._items[key] = (born, value)
            self._items.move_to_end(key)
            while len(self._items) > MAX_ENTRIES:
                self._items.popitem(last=False)

    def _refresh(self, key: Hashable, compute: Compute, root: duckdb.DuckDBPyConnection, generation: int) -> None:
        born = time.monotonic()
        cur = root.cursor()
        try:
            self._put(key, born, compute(cur), generation)
        except Exception:  # the stale value stays; the next request tries again
            log.exception("background refresh of %r failed", key)
        finally:
            cur.close()
            with self._lock:
                self._refreshing.pop(key, None)

    def close(self, timeout: float = 60.0) -> None:
        """Start no more refreshes and wait for running ones: after this the owner may close the
        connection (DuckDB refuses to close one a refresh cursor still uses)."""
        with self._lock:
            self._closed = True
            threads = list(self._refreshing.values())
        deadline = time.monotonic() + timeout
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._generation += 1
