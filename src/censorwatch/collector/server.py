"""Run the collector: on its own HTTP/1.1 server (``http="lean"``, the default; collector/http.py says
why), or as a plain ASGI app on uvicorn (``http="uvicorn"``; uvloop + httptools when installed).

``workers``: 1 = everything in this process; N >= 2 (lean only) = this process writes, N front-end
processes serve HTTP (collector/procs.py). ``None`` = ``default_workers(http)``."""

from __future__ import annotations

import importlib.util
import os

from censorwatch.collector.app import CollectorConfig, create_app


def default_workers(http: str = "lean") -> int:
    """One front-end per core with the lean server (at least 2: the writer is a process of its own);
    uvicorn runs in one process."""
    return max(2, os.cpu_count() or 1) if http == "lean" else 1


def processes(http: str, workers: int | None) -> int:
    """The number of processes ``serve`` will run for these options; ValueError saying what is wrong."""
    if http not in ("lean", "uvicorn"):
        raise ValueError(f"--http must be lean or uvicorn, not {http!r}")
    n = default_workers(http) if workers is None else workers
    if n < 1:
        raise ValueError("--workers must be at least 1")
    if http == "uvicorn" and n != 1:
        raise ValueError("--http uvicorn runs in one process: use --workers 1 (or the lean server)")
    return n


def serve(config: CollectorConfig, host: str = "127.0.0.1", port: int = 8470, *, http: str = "lean",
          log_level: str = "warning", workers: int | None = None) -> None:
    workers = processes(http, workers)
    if http == "lean" and workers > 1:
        from censorwatch.collector.procs import run as run_writer

        run_writer(config, host, port, workers)
        return
    if http == "lean":
        from censorwatch.collector.http import run

        run(config, host, port)
        return
    import uvicorn

    from censorwatch.collector.http import tune_memory

    tune_memory()
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    parser = "httptools" if importlib.util.find_spec("httptools") else "h11"
    uvicorn.run(
        create_app(config),
        host=host,
        port=port,
        loop=loop,
        http=parser,
        ws="none",
        log_level=log_level,
        access_log=False,
        backlog=2048,
        timeout_graceful_shutdown=15,
        timeout_keep_alive=30,
    )
