"""Run the collector: on its own HTTP/1.1 server (``http="lean"``, the default; collector/http.py says
why), or as a plain ASGI app on uvicorn (``http="uvicorn"``; uvloop + httptools when installed)."""

from __future__ import annotations

import importlib.util

from censorwatch.collector.app import CollectorConfig, create_app


def serve(config: CollectorConfig, host: str = "127.0.0.1", port: int = 8470, *, http: str = "lean",
          log_level: str = "warning") -> None:
    if http == "lean":
        from censorwatch.collector.http import run

        run(config, host, port)
        return
    if http != "uvicorn":
        raise ValueError(f"unknown HTTP server {http!r} (lean or uvicorn)")
    import uvicorn

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
