"""A webhook receiver on loopback that checks every alert's signature: what a newsroom's endpoint
would do, for the demo and the benchmarks (``Receiver(secret)``, then its ``url`` as a webhook)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

from censorwatch.pipeline.alerts import EVENT_HEADER, SIGNATURE_HEADER, verify_signature

MAX_BODY = 1 << 20


@dataclass(frozen=True, slots=True)
class Delivery:
    received: float  # wall clock
    event: str
    verified: bool
    payload: dict[str, Any]


class Receiver:
    def __init__(self, secret: str | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.secret = secret  # may be set later (the observatory makes the secret when the hook is added)
        self.deliveries: list[Delivery] = []
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                if not 0 < n <= MAX_BODY:
                    self.send_error(413)
                    return
                body = self.rfile.read(n)
                ok = receiver.secret is not None and verify_signature(
                    receiver.secret, body, self.headers.get(SIGNATURE_HEADER))
                try:
                    payload = orjson.loads(body)
                except orjson.JSONDecodeError:
                    payload = {}
                receiver._add(Delivery(time.time(), self.headers.get(EVENT_HEADER) or "", ok, payload))
                self.send_response(204 if ok else 401)
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="webhook-receiver", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host.decode() if isinstance(host, bytes) else host}:{port}/hook"

    def _add(self, d: Delivery) -> None:
        with self._arrived:
            self.deliveries.append(d)
            self._arrived.notify_all()

    def since(self, n: int) -> list[Delivery]:
        with self._lock:
            return self.deliveries[n:]

    def wait(self, n: int, timeout: float) -> bool:
        """Wait until more than ``n`` deliveries arrived."""
        with self._arrived:
            return self._arrived.wait_for(lambda: len(self.deliveries) > n, timeout)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
