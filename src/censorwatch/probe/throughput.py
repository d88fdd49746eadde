"""Sustained throughput, TLS handshake time and time to first byte, for a target and a reference.

One run downloads from the *target* (say ``https://video.twimg.com/big``) and from a *reference* on
the same network path (another site, ideally on the same hosting or the same ISP uplink), ``samples``
times each, interleaved (target, reference, target, ...) so that a change of network conditions hits
both alike. Each transfer reads for at most ``duration`` seconds or ``max_bytes`` bytes through the
probe's own steps (``dns.lookup``, ``http.open_conn`` = TCP connect + TLS, ``tcp.Conn`` reads), so every
read lands in ``network_events`` with its size and time: the rate is computed from those events by
``analysis/throttle.py``, never from a stopwatch around the whole transfer.

``test_keys``: ``target``, ``reference``, ``samples`` (one row per transfer: ``role``, ``url``,
``address``, ``transaction_id``, ``tls_handshake_time``, ``ttfb``, ``bytes``, ``duration``, ``failure``),
``queries``, ``tcp_connect``, ``tls_handshakes``, ``network_events``, optional ``control`` (the same
keys measured from an uncensored vantage point, attached by whoever ran it there), and the
analysis summary (``throttling``, ``rate_kbps``, ``ratio``) filled by ``classify_throughput``.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from censorwatch.model.measurement import Measurement
from censorwatch.probe import dns, errors, http
from censorwatch.probe.circumvention.envelope import envelope
from censorwatch.probe.netpolicy import parse_ip
from censorwatch.probe.trace import Trace
from censorwatch.probe.webconnectivity import Context, check_url

TEST_NAME = "throughput"
TEST_VERSION = "0.1.0"


async def _one(
    trace: Trace, ctx: Context, role: str, url: str, duration: float, max_bytes: int
) -> dict[str, Any]:
    scheme, host, port = check_url(url)
    u = urlsplit(url)
    path = (u.path or "/") + (f"?{u.query}" if u.query else "")
    row: dict[str, Any] = {"role": role, "url": url, "address": None, "transaction_id": None,
                           "tls_handshake_time": None, "ttfb": None, "bytes": 0, "duration": None,
                           "failure": None, "failure_raw": None}
    out = http.FetchResult()
    try:
        ipaddr = [host.strip("[]")] if parse_ip(host) is not None else None
        if ipaddr is None:
            queries, addrs, failure = await dns.lookup(trace, host, timeout=ctx.settings.timeouts.dns,
                                                       server=ctx.system_resolver)
            row["queries"] = queries
            if failure is not None:
                row["failure"] = failure
                return row
            ipaddr = [a for a in addrs if ":" not in a] or addrs
        conn, failure, raw = await http.open_conn(trace, scheme, host, port, ipaddr, ctx.settings, out)
        row["tcp_connect"], row["tls_handshakes"] = out.tcp_connect, out.tls_handshakes
        if conn is None:
            row["failure"], row["failure_raw"] = failure, raw
            return row
        row["address"], row["transaction_id"] = conn.address, conn.tid
        if out.tls_handshakes:
            hs = out.tls_handshakes[-1]
            row["tls_handshake_time"] = round(hs["t"] - hs["t0"], 6)
        try:
            request = (f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: censorwatch-throughput\r\n"
                       "Accept: */*\r\nConnection: close\r\n\r\n").encode()
            await conn.write(request, ctx.settings.timeouts.http_headers)
            t_req = trace.now()
            deadline = time.monotonic() + duration
            total = 0
            while total < max_bytes:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                try:
                    chunk = await conn.read_chunk(min(left, ctx.settings.timeouts.http_body))
                except TimeoutError:
                    if time.monotonic() >= deadline - 1e-3:
                        break  # the duration is up: a slow stream is a measurement, not a failure
                    raise
                if not chunk:
                    break
                if row["ttfb"] is None:
                    row["ttfb"] = round(trace.now() - t_req, 6)
                total += len(chunk)
            row["bytes"] = total
            row["duration"] = round(trace.now() - t_req, 6)
        finally:
            # abort (RST): a graceful TLS close would wait for close_notify behind a stream that a
            # throttled server keeps sending, and keep receiving it meanwhile
            conn.writer.transport.abort()
            await conn.close()
    except errors.CAUGHT as exc:
        row["failure"], row["failure_raw"] = errors.failure_of(exc)
    return row


async def measure(
    ctx: Context,
    target: str,
    reference: str,
    *,
    samples: int = 3,
    duration: float = 3.0,
    max_bytes: int = 8 << 20,
) -> dict[str, Any]:
    """Interleaved transfers from ``target`` and ``reference``; the ``test_keys`` (see module doc)."""
    if samples < 1 or duration <= 0 or max_bytes < 1:
        raise ValueError("samples, duration and max_bytes must be positive")
    check_url(target)
    check_url(reference)
    trace = Trace()
    rows: list[dict[str, Any]] = []
    for _ in range(samples):
        for role, url in (("target", target), ("reference", reference)):
            rows.append(await _one(trace, ctx, role, url, duration, max_bytes))
    keys: dict[str, Any] = {
        "target": target,
        "reference": reference,
        "samples": [{k: v for k, v in r.items() if k not in ("queries", "tcp_connect", "tls_handshakes")}
                    for r in rows],
        "queries": [q for r in rows for q in r.get("queries", [])],
        "tcp_connect": [e for r in rows for e in r.get("tcp_connect", [])],
        "tls_handshakes": [e for r in rows for e in r.get("tls_handshakes", [])],
        "network_events": trace.network_events,
        "settings": {"samples": samples, "duration": duration, "max_bytes": max_bytes},
    }
    return keys


def control_keys(measurement: dict[str, Any]) -> dict[str, Any]:
    """The raw keys of a ``throughput`` measurement made elsewhere, to attach as ``control``.

    Raises ValueError when it is not one (wrong test, no samples)."""
    if not isinstance(measurement, dict):
        raise ValueError("the control must be a throughput measurement (a JSON object)")
    tk = measurement.get("test_keys")
    if measurement.get("test_name") != TEST_NAME or not isinstance(tk, dict) or not tk.get("samples"):
        raise ValueError("the control must be a throughput measurement with samples")
    return {k: tk[k] for k in ("target", "reference", "samples", "network_events") if k in tk}


async def run(
    ctx: Context,
    target: str,
    reference: str,
    *,
    samples: int = 3,
    duration: float = 3.0,
    max_bytes: int = 8 << 20,
    control: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A full ``throughput`` measurement with the summary keys of ``classify_throughput``."""
    from censorwatch.analysis.throttle import classify_throughput

    start = datetime.now(UTC)
    t = time.monotonic()
    keys = await measure(ctx, target, reference, samples=samples, duration=duration, max_bytes=max_bytes)
    if control is not None:
        keys["control"] = control
    m = envelope(TEST_NAME, TEST_VERSION, target, keys, start=start, runtime=time.monotonic() - t,
                 probe_cc=ctx.network.cc, probe_asn=ctx.network.asn,
                 annotations={"censorwatch_lab": True} if ctx.lab else {},
                 options={"reference": reference, "samples": samples, "duration": duration})
    v = classify_throughput(Measurement.from_raw(m, "probe"))
    keys["throttling"] = v.method == "throttle"
    keys["rate_kbps"] = v.details.get("rate_kbps")
    keys["reference_rate_kbps"] = v.details.get("reference_rate_kbps")
    keys["ratio"] = v.details.get("ratio")
    return m
