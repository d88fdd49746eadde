"""Webhooks verified by a real receiver on 127.0.0.1; reports in every format; log proofs."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import random
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest
import web_fixture_db as fixture_db

from censorwatch.pipeline import alerts
from censorwatch.report import incident as report
from censorwatch.report import proofs
from censorwatch.store import alerts as store_alerts


class Receiver:
    """A minimal HTTP/1.1 server that records POSTs and answers with scripted status codes."""

    def __init__(self, codes: list[int]) -> None:
        self.codes = codes
        self.got: list[tuple[dict[str, str], bytes]] = []
        self.server: asyncio.Server | None = None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        lines = head.decode().split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
        body = await asyncio.wait_for(reader.readexactly(int(headers.get("content-length", "0"))), 5)
        self.got.append((headers, body))
        code = self.codes.pop(0) if self.codes else 200
        writer.write(f"HTTP/1.1 {code} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".encode())
        await writer.drain()
        writer.close()

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/hook"

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()


def _verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    want = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(want, headers["x-censorwatch-signature"])


async def test_webhooks_signed_filtered_retried(store: tuple[Path, duckdb.DuckDBPyConnection]) -> None:
    _, con = store
    rx = Receiver([500])  # the first POST fails: it must be retried later
    async with rx as url:
        pk = store_alerts.add_webhook(con, url, "PK", "x.com")  # not the PK outage, not IR
        store_alerts.add_webhook(con, url, "DE", None)  # never matches
        stats = await alerts.deliver_alerts_async(con, "http://dash.example")
        assert (stats.queued, stats.attempted, stats.delivered) == (1, 1, 0)
        row = store_alerts.deliveries(con)[0]
        assert row["status"] == "pending" and row["attempts"] == 1 and row["last_status_code"] == 500
        # not due yet: nothing is sent
        assert await alerts.send_due(con) == []
        later = datetime.utcnow() + alerts.BACKOFF_BASE + timedelta(seconds=1)
        assert [a.ok for a in await alerts.send_due(con, now=later)] == [True]
        # confidence change and end of the incident each alert once
        con.execute("UPDATE incidents SET confidence = 'likely' WHERE id = ?", [fixture_db.INCIDENT_PK])
        await alerts.deliver_alerts_async(con)
        con.execute("UPDATE incidents SET end_time = TIMESTAMP '2024-02-18 00:00:00' WHERE id = ?", [fixture_db.INCIDENT_PK])
        await alerts.deliver_alerts_async(con)
        assert (await alerts.deliver_alerts_async(con)).queued == 0
    assert len(rx.got) == 4
    events = []
    for headers, body in rx.got:
        assert _verify(pk["secret"], headers, body)
        assert not _verify("wrong", headers, body)
        p = json.loads(body)
        assert p["incident"]["cc"] == "PK"
        events.append(p["event"])
    assert events == ["started", "started", "confidence_changed", "ended"]
    assert json.loads(rx.got[0][1])["url"] == f"http://dash.example/incident/{fixture_db.INCIDENT_PK}"
    assert json.loads(rx.got[2][1])["previous_confidence"] == "confirmed"
    assert {r["status"] for r in store_alerts.deliveries(con)} == {"delivered"}


async def test_gives_up_after_max_attempts(store: tuple[Path, duckdb.DuckDBPyConnection]) -> None:
    _, con = store
    rx = Receiver([503] * 100)
    async with rx as url:
        store_alerts.add_webhook(con, url, None, "example.org")
        await alerts.deliver_alerts_async(con)
        t = datetime.utcnow()
        for i in range(alerts.MAX_ATTEMPTS):
            t += alerts.BACKOFF_BASE * 2**i + timedelta(seconds=1)
            await alerts.send_due(con, now=t)
    rows = store_alerts.deliveries(con)
    assert len(rx.got) == alerts.MAX_ATTEMPTS * len(rows) and rows
    assert {(r["status"], r["attempts"]) for r in rows} == {("failed", alerts.MAX_ATTEMPTS)}


def test_reports_are_self_contained(store: tuple[Path, duckdb.DuckDBPyConnection], tmp_path: Path) -> None:
    path, con = store
    data = report.build(con, fixture_db.INCIDENT_PK, path)
    html = report.render(data, "html").decode()
    assert "<svg" in html and 'fill="#c62828"' in html  # the confirmed bars are drawn
    assert "<script" not in html.lower() and "http://" not in html.split("<body>")[1].replace("http://www.w3.org", "")
    assert "&lt;b&gt;fingerprint&lt;/b&gt;" in html
    assert all(e["measurement_uid"] in html for e in data.evidence) and len(data.evidence) == 48
    md = report.render(data, "md").decode()
    assert "## How to verify independently" in md and fixture_db.HOSTILE_UID.replace("_", "\\_") in md
    assert "<b>" not in md
    pdf = report.render(data, "pdf")
    assert pdf.startswith(b"%PDF") and len(pdf) > 5000
    with pytest.raises(report.ReportError):
        report.build(con, "nope")


def test_inclusion_proofs_verify() -> None:
    rng = random.Random(7)
    for n in (1, 2, 3, 5, 8, 13, 64, 100):
        leaves = [hashlib.sha256(b"\x00" + rng.randbytes(8)).digest() for _ in range(n)]
        r = proofs.root(leaves)
        for m in range(n):
            path = proofs.audit_path(m, leaves)
            assert proofs.verify(leaves[m], m, n, path, r)
            assert not proofs.verify(leaves[(m + 1) % n], m, n, path, r) or n == 1


def test_log_proofs_from_the_collector_log(store: tuple[Path, duckdb.DuckDBPyConnection]) -> None:
    """Evidence logged by the collector's store gets an inclusion proof that verifies against the STH root."""
    from censorwatch.store.evidence import EvidenceStore, Leaf, evidence_dir

    path, con = store
    uids = sorted(r[0] for r in con.execute(
        "SELECT unnest(evidence) FROM incidents WHERE id = ?", [fixture_db.INCIDENT_PK]).fetchall())[:7]
    bodies = [f"canonical-{u}".encode() for u in uids]
    hashes = [hashlib.sha256(b"\x00" + b).digest() for b in bodies]
    es = EvidenceStore(evidence_dir(path) / "evidence.sqlite")
    sth = json.dumps({"tree_size": len(uids), "root_hash": proofs.root(hashes).hex()}).encode()
    es.append_batch([Leaf(i, u, hashes[i], 0, bodies[i], b"{}") for i, u in enumerate(uids)],
                    (len(uids), 0, sth), keep_sth_in_history=True)
    es.close()
    data = report.build(con, fixture_db.INCIDENT_PK, path)
    assert data.log is not None and data.log.tree_size == len(uids)
    assert set(data.log.leaves) == set(uids)
    root = bytes.fromhex(data.log.root_hash)
    for u, leaf in data.log.leaves.items():
        assert leaf.leaf_hash == hashes[uids.index(u)].hex()
        assert proofs.verify(bytes.fromhex(leaf.leaf_hash), leaf.index, data.log.tree_size,
                             [bytes.fromhex(h) for h in leaf.audit_path], root)
    html = report.render(data, "html").decode()
    assert data.log.root_hash in html and f"#{data.log.leaves[uids[0]].index} leaf" in html
