"""``censorwatch ingest PATH...``: store measurements with their observations and verdicts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from censorwatch.cli.app import app, console, out
from censorwatch.cli.reading import (
    DB_HELP,
    FINGERPRINTS_HELP,
    byte_progress,
    limits_or_exit,
    load_fingerprints_or_exit,
    max_file_option,
    print_error,
    tracked,
)
from censorwatch.cli.storeopts import memory_option, open_store, store_failures, temp_option, threads_option
from censorwatch.cli.sync import ENDPOINT_HELP, run_sync
from censorwatch.pipeline.archive.sync import s3_prefixes
from censorwatch.pipeline.ingest import BATCH_SIZE, IngestStats, ingest, ingest_through
from censorwatch.store.paths import resolve_db_path
from censorwatch.store.reader import Limits, ReadError

EXIT_OK, EXIT_BAD_RECORDS, EXIT_USAGE = 0, 1, 2


def _summary(stats: IngestStats, db: Path | str) -> Table:
    t = Table(title=f"ingest into {db}", show_header=True, header_style="bold")
    for col in ("read", "new", "duplicates", "conflicts", "bad", "seconds", "msmt/s"):
        t.add_column(col, justify="right")
    t.add_row(
        f"{stats.read:,}", f"{stats.new:,}", f"{stats.duplicates:,}",
        f"[red]{stats.conflicts:,}[/]" if stats.conflicts else "0",
        f"[red]{stats.bad:,}[/]" if stats.bad else "0",
        f"{stats.seconds:.2f}", f"{stats.rate:,.0f}",
    )
    if stats.unclassified:
        t.caption = f"{stats.unclassified:,} stored without a verdict (classification failed; `analyze` retries)"
    return t


def _through_service(client: Any, paths: list[str], batch_size: int, limits: Limits) -> IngestStats:
    """Read the files here (bad records reported here, with file:line) and hand the good ones to the
    observatory's admin API."""
    from censorwatch.cli.service import call

    with byte_progress(console, "ingest") as progress:
        task = progress.add_task("ingest", total=None, records=0)
        return ingest_through(
            lambda batch: call(lambda: client.ingest(batch)), tracked(paths, progress, task, limits),
            batch_size=batch_size, on_error=lambda e: print_error(progress.console, e),
            on_remote_error=lambda e: progress.console.print(e, markup=False, highlight=False, soft_wrap=True,
                                                             style="red"))


@app.command("ingest")
def ingest_cmd(
    paths: list[str] = typer.Argument(
        ..., metavar="PATH...", help="Measurement files or directories ('-' = stdin), or s3://bucket/prefix URLs."
    ),
    db: Path | None = typer.Option(None, "--db", help=DB_HELP),
    fingerprints: Path | None = typer.Option(None, "--fingerprints", help=FINGERPRINTS_HELP),
    batch_size: int = typer.Option(BATCH_SIZE, "--batch-size", min=1, help="Measurements per write."),
    endpoint_url: str | None = typer.Option(None, "--endpoint-url", help=ENDPOINT_HELP + " For s3:// paths."),
    memory_limit: str | None = memory_option(),
    threads: int | None = threads_option(),
    temp_dir: Path | None = temp_option(),
    max_file_size: str | None = max_file_option(),
) -> None:
    """Store measurements (raw bytes, observations, verdict); re-ingesting adds nothing.

    Bad records are reported on stderr as `path:line: reason`; every good record is kept. A
    measurement_uid already stored with different content is reported as a conflict and not stored.
    `s3://bucket/prefix` paths are synced like `censorwatch sync` (every measurement object under
    the prefix, fetched anonymously, resumable; exit code 4 when some could not be fetched).
    Exit code: 0 all records stored or already present, 1 some records were bad or conflicting (the
    rest are stored), 2 usage error, 3 the database cannot be opened or failed midway (out of its
    memory budget: what was stored before is kept, and running again goes on from there).
    """
    remote = [p for p in paths if p.startswith("s3://")]
    if remote:
        if len(remote) < len(paths):
            console.print("error: give either local paths or s3:// URLs, not both", markup=False)
            raise typer.Exit(EXIT_USAGE)
        try:
            prefixes = s3_prefixes(remote)
        except ValueError as exc:
            console.print(f"error: {exc}", markup=False)
            raise typer.Exit(EXIT_USAGE) from None
        run_sync(prefixes, db=db, endpoint_url=endpoint_url, fingerprints=fingerprints, batch_size=batch_size,
                 memory_limit=memory_limit, threads=threads, temp_dir=temp_dir)
    from censorwatch.cli import service

    limits = limits_or_exit(console, max_file_size)
    info = service.service_of(db)
    if info is not None:
        if fingerprints is not None:
            raise service.refuse(info, "it classifies with its own fingerprints (its --fingerprints setting): "
                                 "leave --fingerprints out")
        stats = _through_service(service.admin(info), paths, batch_size, limits)
        out.print(_summary(stats, f"{resolve_db_path(db)} (through the observatory at {info.dashboard})"))
        raise typer.Exit(EXIT_BAD_RECORDS if stats.bad or stats.conflicts or stats.unclassified else EXIT_OK)
    fps = load_fingerprints_or_exit(console, fingerprints)
    store = open_store(console, db, memory_limit, threads, temp_dir, streaming=True)
    with store, store_failures(console, store), byte_progress(console, "ingest") as progress:
        task = progress.add_task("ingest", total=None, records=0)

        def report(err: ReadError) -> None:
            print_error(progress.console, err)

        stats = ingest(
            store, tracked(paths, progress, task, limits), fingerprints=fps, batch_size=batch_size, on_error=report
        )
    out.print(_summary(stats, store.path))
    raise typer.Exit(EXIT_BAD_RECORDS if stats.bad or stats.conflicts or stats.unclassified else EXIT_OK)
