"""Webhook alerts: find incident changes, sign JSON payloads with HMAC-SHA256, POST them with retries.

Trigger: call ``deliver_alerts(store)`` after the pipeline updated incidents (``censorwatch analyze`` does,
and ``censorwatch alerts deliver`` / ``censorwatch serve --deliver-every N`` run it on demand or on a
timer). Each call (1) diffs incidents against ``alert_state`` and queues one delivery per change and
matching webhook, then (2) POSTs every due delivery. A failed POST is retried by a later call after an
exponential backoff (``BACKOFF_BASE * 2**(attempts-1)``); after ``MAX_ATTEMPTS`` it is marked failed.
Everything is recorded in ``webhook_deliveries``.

Receivers verify ``X-Censorwatch-Signature: sha256=<hex HMAC-SHA256(secret, body)>`` over the exact
body bytes, with a constant-time comparison.

Events: ``started``, ``confidence_changed``, ``ended``, and ``withdrawn`` (detection revised the
incident away: later data no longer supports it). An incident revised under a new id (a live
detector moved its start) keeps alerting as the same incident; ``replaces`` names the id it had.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import httpx
import orjson

from censorwatch.model.names import Names, add_names
from censorwatch.store import alerts as store_alerts
from censorwatch.store.db import Store
from censorwatch.store.names import names as stored_names

SIGNATURE_HEADER = "X-Censorwatch-Signature"
EVENT_HEADER = "X-Censorwatch-Event"
DELIVERY_HEADER = "X-Censorwatch-Delivery"
BACKOFF_BASE = timedelta(seconds=30)
MAX_ATTEMPTS = 6
TIMEOUT = 10.0
CONCURRENCY = 8


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, header: str | None) -> bool:
    return header is not None and hmac.compare_digest(sign(secret, body), header)


def _iso(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.strftime("%Y-%m-%dT%H:%M:%SZ")
    return v


def payload(ev: store_alerts.AlertEvent, base_url: str | None, names: Names | None = None) -> bytes:
    """The signed body: the incident (with ``network_names`` beside ``asns`` and ``target_name``
    beside ``target``), the change, and a link."""
    inc = {k: _iso(v) for k, v in ev.incident.items()}
    inc["start"], inc["end"] = inc.pop("start_time"), inc.pop("end_time")
    add_names(inc, names or Names())
    body = {
        "event": ev.event,
        "incident": inc,
        "previous_confidence": ev.previous_confidence,
        "replaces": ev.replaces,
        "url": f"{base_url.rstrip('/')}/incident/{ev.incident_id}" if base_url and ev.event != "withdrawn" else None,
        "created_at": _iso(datetime.now(UTC).replace(tzinfo=None)),
    }
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


def collect(con: duckdb.DuckDBPyConnection, base_url: str | None = None) -> int:
    """Queue deliveries for incident changes since the last call; returns how many were queued."""
    n = 0
    names = stored_names(con)
    for ev in store_alerts.diff_incidents(con):
        body = payload(ev, base_url, names)
        for hook in store_alerts.matching_webhooks(con, ev.incident["cc"], ev.incident["target"]):
            store_alerts.enqueue_delivery(con, hook["id"], ev.incident_id, ev.event, body)
            n += 1
    return n


@dataclass(slots=True)
class Attempt:
    delivery_id: int
    ok: bool
    status_code: int | None
    error: str | None


async def _post(client: httpx.AsyncClient, d: dict[str, Any], sem: asyncio.Semaphore) -> Attempt:
    body = d["payload"].encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "censorwatch-alerts",
        SIGNATURE_HEADER: sign(d["secret"], body),
        EVENT_HEADER: d["event"],
        DELIVERY_HEADER: str(d["id"]),
    }
    async with sem:
        try:
            r = await client.post(d["url"], content=body, headers=headers)
        except httpx.HTTPError as e:
            return Attempt(d["id"], False, None, f"{type(e).__name__}: {e}"[:500])
    ok = 200 <= r.status_code < 300
    return Attempt(d["id"], ok, r.status_code, None if ok else f"HTTP {r.status_code}")


async def send_due(
    con: duckdb.DuckDBPyConnection, *, timeout: float = TIMEOUT, now: datetime | None = None
) -> list[Attempt]:
    """POST every pending delivery whose time has come; record each attempt and schedule retries."""
    due = store_alerts.due_deliveries(con, now)
    if not due:
        return []
    sem = asyncio.Semaphore(CONCURRENCY)
    async with (
        httpx.AsyncClient(timeout=httpx.Timeout(timeout), follow_redirects=False) as client,
        asyncio.TaskGroup() as tg,
    ):
        tasks = [tg.create_task(_post(client, d, sem)) for d in due]
    results = [t.result() for t in tasks]
    attempts = {d["id"]: d["attempts"] for d in due}
    base = now or datetime.now(UTC).replace(tzinfo=None)
    for a in results:
        n = attempts[a.delivery_id] + 1
        retry = None if a.ok or n >= MAX_ATTEMPTS else base + BACKOFF_BASE * (2 ** (n - 1))
        store_alerts.record_attempt(con, a.delivery_id, ok=a.ok, status_code=a.status_code, error=a.error,
                                    next_attempt_at=retry)
    return results


@dataclass(slots=True)
class DeliveryStats:
    queued: int
    attempted: int
    delivered: int


async def deliver_alerts_async(
    con: duckdb.DuckDBPyConnection, base_url: str | None = None, *, timeout: float = TIMEOUT
) -> DeliveryStats:
    queued = collect(con, base_url)
    results = await send_due(con, timeout=timeout)
    return DeliveryStats(queued, len(results), sum(1 for r in results if r.ok))


def deliver_alerts(
    store: Store | duckdb.DuckDBPyConnection, base_url: str | None = None, *, timeout: float = TIMEOUT
) -> DeliveryStats:
    """Synchronous entry point for the pipeline / CLI (runs its own event loop).

    Call it after the stages that update ``incidents``, e.g. as the last line of ``run_analysis``:
    ``results["alerts"] = asdict(alerts.deliver_alerts(store))``. Must not be called from a running
    event loop (use ``deliver_alerts_async`` there).
    """
    con = store.con if isinstance(store, Store) else store
    return asyncio.run(deliver_alerts_async(con, base_url, timeout=timeout))
