"""``censorwatch collector ...``: run the collector, export its evidence log."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson
import typer
from platformdirs import user_data_dir
from rich.progress import Progress

from censorwatch.cli.app import app, console, out
from censorwatch.store.evidence import EvidenceStore, evidence_dir
from censorwatch.store.paths import resolve_db_path

collector_app = typer.Typer(help="The collector: intake of measurements and the evidence log.", no_args_is_help=True)
app.add_typer(collector_app, name="collector")


def _db(db: Path | None) -> Path:
    return resolve_db_path(db)


@collector_app.command("serve")
def serve(
    db: Path | None = typer.Option(None, "--db", help="DuckDB database; the evidence log lives in <db>.evidence/."),
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8470, help="TCP port."),
    max_body: int = typer.Option(4 * 1024 * 1024, help="Largest accepted measurement, bytes."),
    queue_size: int = typer.Option(8192, help="Submissions waiting for the writer before 429."),
    client_rate: float = typer.Option(50.0, help="Submissions per second per client address (0: no limit)."),
    client_burst: float = typer.Option(200.0, help="Burst allowance per client address."),
    http: str = typer.Option("lean", help="HTTP server: lean (the collector's own, fastest) or uvicorn (ASGI)."),
    workers: int | None = typer.Option(
        None, min=1, help="Processes: 1 = one process does everything; N >= 2 = N HTTP front-end processes "
        "plus the writer process (lean only). Default: the number of cores (at least 2); 1 with uvicorn."),
) -> None:
    """Accept measurements over HTTP into the append-only, signed evidence log."""
    from censorwatch.collector.app import CollectorConfig
    from censorwatch.collector.server import processes
    from censorwatch.collector.server import serve as run

    try:
        n = processes(http, workers)
    except ValueError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None

    where = evidence_dir(_db(db))
    config = CollectorConfig(
        evidence_dir=where, max_body_bytes=max_body, queue_size=queue_size,
        client_rate=client_rate, client_burst=client_burst,
    )
    procs = "one process" if n == 1 else f"{n} HTTP front-end processes + the writer"
    console.print(f"collector: evidence log in {where}, listening on http://{host}:{port} ({procs})")
    try:
        run(config, host, port, http=http, workers=n)
    except OSError as exc:  # e.g. the port is taken
        console.print(f"[red]error:[/] {exc}", soft_wrap=True)
        raise typer.Exit(1) from None


@collector_app.command("export")
def export(
    out_dir: Path = typer.Argument(..., help="Directory to write leaves.jsonl, receipts.jsonl, sth.json, key.json."),
    db: Path | None = typer.Option(None, "--db", help="DuckDB database whose <db>.evidence/ to export."),
) -> None:
    """Export the whole log for offline audit (``censorwatch verify log``). Safe while serving."""
    from censorwatch.collector.keys import load_or_create_key, public_key_document

    where = evidence_dir(_db(db))
    path = where / "evidence.sqlite"
    if not path.exists():
        console.print(f"[red]error:[/] {path}: no evidence log here")
        raise typer.Exit(2)
    key_path = where / "log_key.pem"
    if not key_path.exists():
        console.print(f"[red]error:[/] {key_path}: the log's key is missing; cannot export a verifiable log")
        raise typer.Exit(2)
    store = EvidenceStore(path, readonly=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    sth_bytes = store.latest_sth() or b"{}"
    size = orjson.loads(sth_bytes).get("tree_size", 0)
    with (out_dir / "leaves.jsonl").open("wb") as lf, (out_dir / "receipts.jsonl").open("wb") as rf, Progress(
        console=console
    ) as progress:
        task = progress.add_task("exporting", total=size)
        for leaf in store.leaves(0, size):
            lf.write(leaf.body + b"\n")
            rf.write(leaf.receipt + b"\n")
            progress.advance(task)
    (out_dir / "sth.json").write_bytes(sth_bytes)
    pub = load_or_create_key(key_path).public_key()
    (out_dir / "key.json").write_bytes(orjson.dumps(public_key_document(pub), option=orjson.OPT_INDENT_2))
    store.close()
    out.print(f"exported {size} leaves to {out_dir}")


@collector_app.command("submit")
def submit(
    files: list[Path] = typer.Argument(..., help="Measurement files (.json: one object; .jsonl: one a line)."),
    url: str = typer.Option(..., "--url", help="Collector base URL, e.g. http://127.0.0.1:8470."),
    spool: Path | None = typer.Option(None, help="Spool directory (default $CENSORWATCH_SPOOL or the user data dir)."),
    wait: float = typer.Option(60.0, help="Seconds to wait for delivery before leaving the rest spooled."),
) -> None:
    """Send measurement files through the probe's durable submission queue."""
    import asyncio

    from censorwatch.probe.submit import SubmitQueue

    spool_dir = spool or Path(os.environ.get("CENSORWATCH_SPOOL") or Path(user_data_dir("censorwatch")) / "spool")
    objs: list[dict[str, Any]] = []
    for f in files:
        try:
            data = f.read_bytes()
            chunks = data.splitlines() if f.suffix == ".jsonl" else [data]
            objs.extend(orjson.loads(c) for c in chunks if c.strip())
        except (OSError, orjson.JSONDecodeError) as exc:
            console.print(f"[red]error:[/] {f}: {exc}")
            raise typer.Exit(2) from None

    async def go() -> int:
        async with SubmitQueue(url, spool_dir) as q:
            for o in objs:
                await q.put(o)
            left = await q.drain(wait)
            out.print(
                f"delivered {q.stats.delivered}, duplicates {q.stats.duplicates}, rejected {q.stats.rejected}, "
                f"still spooled {left} (in {spool_dir})"
            )
            return left

    raise typer.Exit(1 if asyncio.run(go()) else 0)


def _ingest_once(path: Path, fps: Any) -> int:
    """One incremental pass from the evidence log into the DuckDB store; returns the exit code."""
    from censorwatch.pipeline.fromlog import NoLog, ingest_from_log, log_size
    from censorwatch.store.db import Store, StoreError

    size = log_size(path)
    if size is None:
        console.print(f"[red]error:[/] {evidence_dir(path) / 'evidence.sqlite'}: no evidence log here "
                      "(has the collector run?)", soft_wrap=True)
        return 2
    try:
        store = Store(path)
    except StoreError as exc:
        console.print(f"error: {exc}", markup=False, soft_wrap=True)
        return 3
    with store, Progress(console=console) as progress:
        task = progress.add_task("ingest from the log", total=None)
        try:
            run = ingest_from_log(store, fingerprints=fps,
                                  on_progress=lambda done, total: progress.update(task, completed=done, total=total))
        except NoLog as exc:
            console.print(f"[red]error:[/] {exc}", soft_wrap=True)
            return 2
    stats = run.stats
    out.print(f"leaves {run.start}..{run.end}: {stats.new} new, {stats.duplicates} already stored, "
              f"{stats.bad} unreadable, {stats.unclassified} unclassified")
    return 1 if stats.bad or stats.unclassified else 0


@collector_app.command("ingest")
def ingest_cmd(
    db: Path | None = typer.Option(None, "--db", help="DuckDB database; reads the log in <db>.evidence/."),
    fingerprints: Path | None = typer.Option(None, "--fingerprints", help="Fingerprint directory (as for ingest)."),
    every: float = typer.Option(0.0, "--every", help="Repeat every SECONDS (0: once). DuckDB is open only while ingesting."),
) -> None:
    """Store and classify what the collector accepted since the last run (incremental, idempotent).

    Safe while the collector serves: the evidence log is read from a committed snapshot.
    Exit code: 0 done, 1 some leaves could not be read or classified, 2 no log, 3 the database cannot be opened.
    """
    import time

    from censorwatch.cli import service
    from censorwatch.cli.reading import load_fingerprints_or_exit

    path = _db(db)
    info = service.service_of(path)
    if info is not None:
        raise service.refuse(info, "it stores every leaf of the log itself as it arrives (its /metrics shows "
                             "how far it is): there is nothing to do")
    fps = load_fingerprints_or_exit(console, fingerprints)
    while True:
        code = _ingest_once(path, fps)
        if every <= 0 or code in (2, 3):
            raise typer.Exit(code)
        time.sleep(every)
