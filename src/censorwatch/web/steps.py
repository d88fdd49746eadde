"""A measurement's network steps as table rows for the measurement page (all values plain text)."""

from __future__ import annotations

from typing import Any

import orjson

from censorwatch.model.measurement import InvalidMeasurement, Measurement

BODY_SHOWN = 64 * 1024


def steps(raw: bytes) -> tuple[dict[str, list[dict[str, Any]]], Any, str | None]:
    """``(tables, parsed_json, problem)``: tables keyed dns/tcp/tls/http; problem explains a bad raw."""
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        return {}, None, f"raw JSON does not parse: {e}"
    try:
        m = Measurement.from_raw(obj)
    except InvalidMeasurement as e:
        return {}, obj, str(e)
    obs = m.observations(with_events=False)
    dns = [
        {"hostname": q.hostname, "type": q.query_type, "engine": q.engine, "resolver": q.resolver_address,
         "failure": q.failure, "answers": ", ".join(q.addresses)}
        for q in obs.queries
    ]
    tcp = [{"endpoint": c.endpoint, "success": c.success, "failure": c.failure, "t": c.t} for c in obs.tcp_connect]
    tls = [
        {"address": h.address, "server_name": h.server_name, "version": h.tls_version, "failure": h.failure,
         "certificates": len(h.peer_certificates), "t": h.t}
        for h in obs.tls_handshakes
    ]
    http = []
    for r in obs.requests:
        resp = r.response
        body = resp.body if resp and resp.body is not None else None
        http.append({
            "url": r.url, "method": r.method, "failure": r.failure,
            "status_code": resp.code if resp else None,
            "body_length": resp.body_length if resp else None,
            "headers": list(resp.headers_list) if resp else [],
            "body": body[:BODY_SHOWN] if body is not None else None,
            "body_truncated": bool(body is not None and len(body) > BODY_SHOWN),
        })
    return {"dns": dns, "tcp": tcp, "tls": tls, "http": http}, obj, None
