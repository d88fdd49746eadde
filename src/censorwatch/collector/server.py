"""Run the collector on uvicorn (uvloop + httptools when installed)."""

from __future__ import annotations

import importlib.util

import uvicorn

from censorwatch.collector.app import CollectorConfig, create_app


def serve(config: CollectorConfig, host: str = "127.0.0.1", port: int = 8470, *, log_level: str = "warning") -> None:
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    uvicorn.run(
        create_app(config),
        host=host,
        port=port,
        loop=loop,
        http=http,
        log_level=log_level,
        access_log=False,
        backlog=2048,
        timeout_graceful_shutdown=15,
        timeout_keep_alive=30,
    )
