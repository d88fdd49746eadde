"""``censorwatch sync``: bring a selection of OONI's S3 archive into the store, resumably.

``censorwatch ingest s3://bucket/prefix`` runs the same sync over everything under a prefix.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from censorwatch.cli.app import app, console, out
from censorwatch.cli.reading import DB_HELP, FINGERPRINTS_HELP, load_fingerprints_or_exit, print_error
from censorwatch.cli.storeopts import memory_option, open_store, store_failures, temp_option, threads_option
from censorwatch.pipeline.archive import s3 as s3mod
from censorwatch.pipeline.archive.layout import BUCKET, LAYOUTS, LEGACY_BUCKET, Selection, parse_when
from censorwatch.pipeline.archive.sync import Plan, Source, SyncStats, first_raw_day, plan, sync
from censorwatch.pipeline.ingest import BATCH_SIZE
from censorwatch.store.reader import ReadError

EXIT_OK, EXIT_BAD_RECORDS, EXIT_USAGE, EXIT_STORE, EXIT_ARCHIVE = 0, 1, 2, 3, 4
ENDPOINT_HELP = "An S3-compatible server (default: $AWS_ENDPOINT_URL, else AWS)."


def _when(value: str, option: str, *, end: bool) -> datetime:
    try:
        return parse_when(value, end=end)
    except ValueError as exc:
        console.print(f"error: {option} {exc}", markup=False)
        raise typer.Exit(EXIT_USAGE) from None


def _split(values: list[str]) -> list[str]:
    return [x for v in values for x in v.split(",") if x.strip()]


def sync_progress(con: Console) -> Progress:
    """Objects, bytes, measurements and their rate; hidden when stderr is not a terminal."""
    return Progress(
        TextColumn("[bold]sync[/]"),
        BarColumn(),
        DownloadColumn(),
        TextColumn("{task.fields[objects]}"),
        TextColumn("{task.fields[msmts]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=con,
        disable=not con.is_terminal,
    )


def _plan_dict(p: Plan) -> dict[str, Any]:
    return {"objects": len(p.objects), "bytes": p.bytes, "changed": p.changed, "already": p.already,
            "already_bytes": p.already_bytes, "listed": p.listed, "prefixes": p.prefixes,
            "skipped": p.skipped}


def _stats_dict(s: SyncStats) -> dict[str, Any]:
    i = s.ingest
    return {"objects": s.objects_done, "objects_failed": s.objects_failed, "bytes": s.bytes_read,
            "measurements": s.measurements, "new": i.new, "duplicates": i.duplicates, "bad": i.bad,
            "unclassified": i.unclassified, "filtered": s.filtered, "seconds": round(s.seconds, 3),
            "msmt_per_s": round(s.rate, 1), "failures": s.failures}


def _print_plan(p: Plan, fmt: str) -> None:
    if fmt == "json":
        out.print_json(orjson.dumps(_plan_dict(p)).decode())
        return
    t = Table(title="sync --dry-run", header_style="bold")
    for col in ("would fetch", "bytes", "of which changed", "already synced", "listed", "prefixes"):
        t.add_column(col, justify="right")
    t.add_row(f"{len(p.objects):,} objects", f"{p.bytes:,}", f"{p.changed:,}", f"{p.already:,}",
              f"{p.listed:,}", f"{p.prefixes:,}")
    if p.skipped:
        t.caption = "skipped: " + "; ".join(f"{n:,} {why}" for why, n in sorted(p.skipped.items()))
    out.print(t)


def _print_stats(s: SyncStats, db: Path, fmt: str) -> None:
    if fmt == "json":
        out.print_json(orjson.dumps(_stats_dict(s)).decode())
        return
    t = Table(title=f"sync into {db}", header_style="bold")
    for col in ("objects", "bytes", "measurements", "new", "duplicates", "bad", "seconds", "msmt/s"):
        t.add_column(col, justify="right")
    i = s.ingest
    t.add_row(f"{s.objects_done:,}/{s.objects_total:,}", f"{s.bytes_read:,}", f"{s.measurements:,}",
              f"{i.new:,}", f"{i.duplicates:,}", f"[red]{i.bad:,}[/]" if i.bad else "0",
              f"{s.seconds:.2f}", f"{s.rate:,.0f}")
    if s.objects_failed:
        t.caption = f"{s.objects_failed:,} objects could not be fetched: run the same command again to resume"
    out.print(t)


def run_sync(
    source: Source, *, db: Path | None, endpoint_url: str | None, bucket: str = BUCKET,
    legacy_bucket: str = LEGACY_BUCKET, dry_run: bool = False, fmt: str = "text",
    fingerprints: Path | None = None, batch_size: int = BATCH_SIZE, memory_limit: str | None = None,
    threads: int | None = None, temp_dir: Path | None = None,
) -> None:
    """List, then (unless ``dry_run``) fetch and store; exits with the command's exit code."""
    if fmt not in ("text", "json"):
        console.print(f"error: --format must be text or json, not {fmt!r}", markup=False)
        raise typer.Exit(EXIT_USAGE)
    fps = None if dry_run else load_fingerprints_or_exit(console, fingerprints)
    store = open_store(console, db, memory_limit, threads, temp_dir, streaming=True)
    with store, store_failures(console, store):
        try:
            client = s3mod.client(endpoint_url)
            with console.status("listing the archive", spinner="dots"):
                p = plan(store, client, source, bucket=bucket, legacy_bucket=legacy_bucket)
        except s3mod.ArchiveError as exc:
            console.print(f"error: {exc}", markup=False)
            raise typer.Exit(EXIT_ARCHIVE) from None
        if dry_run:
            _print_plan(p, fmt)
            raise typer.Exit(EXIT_OK)
        with sync_progress(console) as progress:
            task = progress.add_task("sync", total=p.bytes, objects="", msmts="")

            def on_progress(s: SyncStats) -> None:
                rate = f"{s.rate:,.0f}/s" if s.seconds > 1 else ""
                progress.update(task, completed=s.bytes_read + s.bytes_current,
                                objects=f"{s.objects_done:,}/{s.objects_total:,} objects",
                                msmts=f"{s.measurements:,} msmts {rate}")

            def on_error(err: ReadError) -> None:
                print_error(progress.console, err)

            stats = sync(store, client, p, fingerprints=fps, batch_size=batch_size, on_error=on_error,
                         on_progress=on_progress)
    for failure in stats.failures:
        console.print(f"not fetched: {failure}", markup=False, highlight=False, soft_wrap=True, style="red")
    _print_stats(stats, store.path, fmt)
    if stats.objects_failed:
        raise typer.Exit(EXIT_ARCHIVE)
    raise typer.Exit(EXIT_BAD_RECORDS if stats.ingest.bad or stats.ingest.unclassified else EXIT_OK)


@app.command("sync")
def sync_cmd(
    db: Path | None = typer.Option(None, "--db", help=DB_HELP),
    cc: list[str] = typer.Option([], "--cc", help="Countries (ISO alpha-2): repeat or comma-separate; default all."),
    test: list[str] = typer.Option([], "--test", help="OONI test names (web_connectivity or webconnectivity); default all."),
    since: str | None = typer.Option(None, "--since", help="First day or hour (UTC): YYYY-MM-DD or YYYY-MM-DDTHH "
                                     "(default: the first day in the bucket's raw/; older layouts need --since)."),
    until: str | None = typer.Option(None, "--until", help="Last day or hour, included (UTC; default: now)."),
    layout: str = typer.Option("auto", "--layout", help=f"Archive layout: {' | '.join(LAYOUTS)} (auto: raw/ "
                               "from 2020-10-20, jsonl/ before; can: the tar.lz4 cans instead of jsonl/)."),
    bucket: str = typer.Option(BUCKET, "--bucket", help="The archive's bucket."),
    legacy_bucket: str = typer.Option(LEGACY_BUCKET, "--legacy-bucket", help="The bucket of cans before 2020-06-02."),
    endpoint_url: str | None = typer.Option(None, "--endpoint-url", help=ENDPOINT_HELP),
    dry_run: bool = typer.Option(False, "--dry-run", help="List only: how many objects and bytes would be fetched."),
    fmt: str = typer.Option("text", "--format", help="Summary as text or json (on stdout)."),
    fingerprints: Path | None = typer.Option(None, "--fingerprints", help=FINGERPRINTS_HELP),
    batch_size: int = typer.Option(BATCH_SIZE, "--batch-size", min=1, help="Measurements per write."),
    memory_limit: str | None = memory_option(),
    threads: int | None = threads_option(),
    temp_dir: Path | None = temp_option(),
) -> None:
    """Sync measurements from OONI's archive (s3://ooni-data-eu-fra), selected by country, test and time.

    Lists only the prefixes the selection needs (raw/DAY/HOUR/CC/TEST/), fetches anonymously,
    stores like `ingest`, and remembers every object done (key and ETag): an interrupted sync
    resumes where it stopped, a re-run fetches only new or changed objects. Times select the
    archive's hour (when OONI received a measurement). Bad records are reported on stderr as
    `s3://bucket/key:line: reason`; every good record is kept.
    Exit code: 0 done, 1 some records were bad (the rest are stored), 2 usage error, 3 the database
    cannot be opened or failed midway (out of its memory budget: rerun with more), 4 the archive
    could not be listed or some objects could not be fetched (run again to resume).
    """
    stop = _when(until, "--until", end=True) if until else datetime.now(UTC).replace(tzinfo=None)
    if since is not None:
        start = _when(since, "--since", end=False)
    elif layout not in ("auto", "raw"):
        console.print(f"error: --layout {layout} needs --since", markup=False)
        raise typer.Exit(EXIT_USAGE)
    else:
        try:
            first = first_raw_day(s3mod.client(endpoint_url), bucket)
        except s3mod.ArchiveError as exc:
            console.print(f"error: {exc}", markup=False)
            raise typer.Exit(EXIT_ARCHIVE) from None
        if first is None:
            console.print(f"error: s3://{bucket}/raw/ holds no day directories: give --since", markup=False)
            raise typer.Exit(EXIT_ARCHIVE)
        start = first
    try:
        sel = Selection.of(start, stop, _split(cc), _split(test), layout)
    except ValueError as exc:
        console.print(f"error: {exc}", markup=False)
        raise typer.Exit(EXIT_USAGE) from None
    run_sync(sel, db=db, endpoint_url=endpoint_url, bucket=bucket, legacy_bucket=legacy_bucket,
             dry_run=dry_run, fmt=fmt, fingerprints=fingerprints, batch_size=batch_size,
             memory_limit=memory_limit, threads=threads, temp_dir=temp_dir)
