"""Talking to a running observatory: what the CLI does instead of opening a store the service holds
(DuckDB lets no other process open it, not even to read), and what the demo and the benchmarks use.

``running(db)`` finds the service of a store from its state file; ``Client`` calls its API. Every
failure is a ``ServiceError`` whose message is one sentence saying what went wrong and what to do.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx
import orjson

from censorwatch.observatory.statefile import ServiceInfo, read

TOKEN_ENV = "CENSORWATCH_ADMIN_TOKEN"


class ServiceError(RuntimeError):
    """The observatory did not do what was asked; the message says why."""


def running(db: Path) -> ServiceInfo | None:
    """The observatory serving store ``db``, if one runs."""
    return read(db)


def token_from_env() -> str | None:
    return os.environ.get(TOKEN_ENV) or None


class Client:
    def __init__(self, base_url: str, token: str | None = None, *, timeout: float = 60.0) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout,
                                  follow_redirects=False)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transport -----------------------------------------------------------------------------------
    def request(self, method: str, path: str, *, timeout: float | None = None, **kw: Any) -> httpx.Response:
        try:
            r = self._http.request(method, path, timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
                                   **kw)
        except httpx.TimeoutException:
            raise ServiceError(f"the observatory at {self.base_url} did not answer {method} {path} in time") from None
        except httpx.HTTPError as exc:
            raise ServiceError(f"the observatory at {self.base_url} does not answer ({type(exc).__name__}): "
                               "is it still running? See its log") from None
        if r.status_code < 400:
            return r
        try:
            detail = r.json().get("detail")
        except ValueError:
            detail = None
        detail = detail if isinstance(detail, str) else r.text[:300]
        if r.status_code in (401, 403):
            raise ServiceError(f"the observatory refused the admin request ({detail}): set {TOKEN_ENV} "
                               "to the token it was started with")
        raise ServiceError(f"the observatory answered {r.status_code}: {detail}")

    def json(self, method: str, path: str, **kw: Any) -> Any:
        return self.request(method, path, **kw).json()

    # -- reads ---------------------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        """``/healthz``'s body (also when it answers 503: the body says what is down)."""
        try:
            body: dict[str, Any] = self._http.get("/healthz", timeout=10.0).json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ServiceError(f"the observatory at {self.base_url} does not answer /healthz "
                               f"({type(exc).__name__}): is it still running?") from None
        return body

    def events(self, **filters: str | None) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = self.json("GET", "/api/v1/all/events", params=_clean(filters))
        return out

    def incidents(self, **filters: str | None) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = self.json("GET", "/api/v1/all/incidents", params=_clean(filters))
        return out

    def report(self, incident_id: str, fmt: str) -> bytes:
        return self.request("GET", f"/incident/{incident_id}/report.{fmt}", timeout=300.0).content

    # -- admin ---------------------------------------------------------------------------------------
    def ingest(self, records: Iterable[tuple[str, bytes]]) -> dict[str, Any]:
        """Store measurements given as (source, raw bytes); the ingest statistics and errors."""
        body = b"\n".join(orjson.dumps({"source": s, "raw": raw.decode("utf-8")}) for s, raw in records)
        out: dict[str, Any] = self.json("POST", "/api/v1/admin/ingest", content=body, timeout=3600.0,
                                        headers={"Content-Type": "application/x-ndjson"})
        return out

    def analyze(self) -> dict[str, Any]:
        out: dict[str, Any] = self.json("POST", "/api/v1/admin/analyze", timeout=24 * 3600.0)
        return out

    def webhook_add(self, url: str, cc: str | None, target: str | None) -> dict[str, Any]:
        out: dict[str, Any] = self.json("POST", "/api/v1/admin/webhooks", json={"url": url, "cc": cc, "target": target})
        return out

    def webhooks(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = self.json("GET", "/api/v1/admin/webhooks")
        return out

    def webhook_remove(self, webhook_id: int) -> None:
        self.request("DELETE", f"/api/v1/admin/webhooks/{webhook_id}")

    def deliveries(self, webhook_id: int | None = None) -> list[dict[str, Any]]:
        params = {"webhook": webhook_id} if webhook_id is not None else {}
        out: list[dict[str, Any]] = self.json("GET", "/api/v1/admin/deliveries", params=params)
        return out

    def annotate(self, incident_id: str, kind: str, text: str | None, url: str | None) -> dict[str, Any]:
        out: dict[str, Any] = self.json("POST", f"/api/v1/incidents/{incident_id}/annotations",
                                        json={"kind": kind, "text": text, "url": url})
        return out

    def false_positive(self, incident_id: str, value: bool, reason: str | None) -> dict[str, Any]:
        out: dict[str, Any] = self.json("POST", f"/api/v1/incidents/{incident_id}/false-positive",
                                        json={"false_positive": value, "reason": reason})
        return out


def _clean(d: dict[str, str | None]) -> dict[str, str]:
    return {k: v for k, v in d.items() if v is not None}


class Spawned:
    """``censorwatch observatory`` started as a child process (the demo, the benchmarks): up and
    answering when ``start`` returns; ``info`` says where."""

    def __init__(self, db: Path, args: list[str], *, env: dict[str, str] | None = None,
                 log: Path | None = None) -> None:
        self.db = db
        self.args = args
        self.env = env
        self.log = log or db.with_name(db.name + ".observatory.log")
        self.proc: Any = None
        self.info: ServiceInfo | None = None

    def start(self, timeout: float = 120.0) -> ServiceInfo:
        import subprocess
        import sys
        import time

        with self.log.open("ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "censorwatch", "observatory", "--db", str(self.db),
                                          *self.args], env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = self.log.read_text(errors="replace")[-2000:]
                raise ServiceError(f"the observatory exited with {self.proc.returncode}: {tail.strip()}")
            info = read(self.db)
            if info is not None and info.pid == self.proc.pid:
                self.info = info
                return info
            time.sleep(0.2)
        self.kill()
        raise ServiceError(f"the observatory did not come up within {timeout:.0f} s (see {self.log})")

    def stop(self, timeout: float = 60.0) -> int | None:
        """SIGTERM and wait: it drains (everything acknowledged is stored) and exits."""
        import subprocess

        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return int(self.proc.returncode) if self.proc.returncode is not None else None

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
