"""The page cache: fresh hits, stale-while-revalidate on its own cursor, clear() wins over refreshes."""

from __future__ import annotations

import threading
import time
from typing import Any

import duckdb

from censorwatch.web.cache import PageCache


def test_stale_while_revalidate() -> None:
    root = duckdb.connect()
    root.execute("CREATE TABLE t (v INTEGER)")
    root.execute("INSERT INTO t VALUES (1)")
    calls: list[int] = []
    gate = threading.Event()

    def compute(con: duckdb.DuckDBPyConnection) -> int:
        calls.append(1)
        if len(calls) > 1:
            assert gate.wait(10)
        return int(con.execute("SELECT max(v) FROM t").fetchone()[0])  # type: ignore[index]

    cache = PageCache(ttl=0.3, stale_for=60)
    cur = root.cursor()
    assert cache.get("k", compute, cur, root) == 1
    root.execute("INSERT INTO t VALUES (2)")
    assert cache.get("k", compute, cur, root) == 1 and len(calls) == 1  # fresh hit
    time.sleep(0.4)
    t0 = time.monotonic()
    assert cache.get("k", compute, cur, root) == 1  # stale value served at once, refresh started
    assert time.monotonic() - t0 < 1.0
    assert cache.get("k", compute, cur, root) == 1 and len(calls) == 2  # one refresh at a time
    gate.set()
    deadline = time.monotonic() + 10
    while cache.get("k", compute, cur, root) != 2:
        assert time.monotonic() < deadline
        time.sleep(0.02)


def _counting(gate: threading.Event, second: int | None = None) -> tuple[list[int], Any]:
    """A compute that counts its calls; the second call waits for ``gate`` (then gives ``second``,
    or its count)."""
    n = [0]

    def compute(con: duckdb.DuckDBPyConnection) -> int:
        n[0] += 1
        if n[0] == 2:
            assert gate.wait(10)
            return n[0] if second is None else second
        return n[0]

    return n, compute


def test_clear_is_not_undone_by_a_running_refresh() -> None:
    root = duckdb.connect()
    gate = threading.Event()
    _, compute = _counting(gate, second=-1)  # the second value is computed before clear(): dropped

    cache = PageCache(ttl=0.2, stale_for=60)
    cur = root.cursor()
    assert cache.get("k", compute, cur, root) == 1
    time.sleep(0.3)
    assert cache.get("k", compute, cur, root) == 1  # refresh (call 2) blocks on the gate
    cache.clear()
    gate.set()
    time.sleep(0.3)
    assert cache.get("k", compute, cur, root) == 3


def test_ttl_zero_never_caches() -> None:
    root = duckdb.connect()
    n = [0]

    def compute(con: duckdb.DuckDBPyConnection) -> int:
        n[0] += 1
        return n[0]

    cache = PageCache(ttl=0)
    assert [cache.get("k", compute, root, root) for _ in range(3)] == [1, 2, 3]


def test_close_waits_for_refreshes_then_the_connection_closes() -> None:
    root = duckdb.connect()
    gate = threading.Event()
    n, compute = _counting(gate)
    cache = PageCache(ttl=0.2, stale_for=60)
    cur = root.cursor()
    assert cache.get("k", compute, cur, root) == 1
    time.sleep(0.3)
    assert cache.get("k", compute, cur, root) == 1  # a refresh now holds a cursor on root
    threading.Timer(0.3, gate.set).start()
    t0 = time.monotonic()
    cache.close()
    assert time.monotonic() - t0 >= 0.25 and n[0] == 2  # it waited for the running refresh
    time.sleep(0.3)
    assert cache.get("k", compute, cur, root) == 2  # stale again: served, but no refresh after close
    assert n[0] == 2
    cur.close()
    root.close()  # nothing holds the connection any more
