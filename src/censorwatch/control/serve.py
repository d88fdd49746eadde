"""Run the control server on uvicorn (in-process friendly: bind a socket, serve, stop)."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import uvicorn

from censorwatch.control.app import create_app
from censorwatch.control.helper import Helper, HelperConfig


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(512)
    sock.setblocking(False)
    return sock


def server(
    cfg: HelperConfig, *, tls_cert: Path | None = None, tls_key: Path | None = None,
    max_concurrency: int = 32, log_level: str = "warning", queue_wait: float = 5.0,
) -> uvicorn.Server:
    if (tls_cert is None) != (tls_key is None):
        raise ValueError("--tls-cert and --tls-key go together")
    app = create_app(Helper(cfg), max_concurrency=max_concurrency, queue_wait=queue_wait)
    config = uvicorn.Config(
        app, log_level=log_level, access_log=False, lifespan="off",
        ssl_certfile=str(tls_cert) if tls_cert else None, ssl_keyfile=str(tls_key) if tls_key else None,
        timeout_keep_alive=5, limit_concurrency=max_concurrency * 8,
    )
    return uvicorn.Server(config)


async def serve(srv: uvicorn.Server, sock: socket.socket) -> None:
    await srv.serve(sockets=[sock])


def run(srv: uvicorn.Server, sock: socket.socket) -> None:
    asyncio.run(serve(srv, sock))
