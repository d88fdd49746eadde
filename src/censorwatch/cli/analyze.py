"""``censorwatch analyze``: bring every stored verdict up to the current rules, then the later stages."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from censorwatch.cli.app import app, console, out
from censorwatch.cli.reading import DB_HELP, FINGERPRINTS_HELP, load_fingerprints_or_exit
from censorwatch.pipeline import ENGINES, run_analysis
from censorwatch.pipeline.alerts import deliver_alerts
from censorwatch.pipeline.spark.engine import SparkUnavailable
from censorwatch.store.db import Store, StoreError

EXIT_OK, EXIT_ERRORS, EXIT_USAGE, EXIT_STORE = 0, 1, 2, 3


@app.command("analyze")
def analyze_cmd(
    db: Path | None = typer.Option(None, "--db", help=DB_HELP),
    engine: str = typer.Option("local", "--engine", help=f"Aggregation engine: {' | '.join(ENGINES)}."),
    fingerprints: Path | None = typer.Option(None, "--fingerprints", help=FINGERPRINTS_HELP),
) -> None:
    """Bring stored verdicts up to the current rules, then run the later analysis stages.

    Re-classifies only measurements whose verdict is missing or was made by another rules version.
    Exit code: 0 done, 1 some measurements could not be classified, 2 usage error, 3 the database
    cannot be opened.
    """
    if engine not in ENGINES:
        console.print(f"error: --engine must be one of {', '.join(ENGINES)}, not {engine!r}", markup=False)
        raise typer.Exit(2)
    from censorwatch.cli import service

    info = service.service_of(db)
    if info is not None:
        if engine != "local" or fingerprints is not None:
            raise service.refuse(info, "it analyses with the local engine and its own fingerprints: leave out "
                                 "--engine and --fingerprints, or stop it to run this analysis")
        client = service.admin(info)
        with console.status("analysing in the observatory"):
            results = service.call(client.analyze)
        _print_results(results, f"analyze {info.dashboard}")
        return
    fps = load_fingerprints_or_exit(console, fingerprints)
    try:
        store = Store(db)
    except StoreError as exc:
        console.print(f"error: {exc}", markup=False, soft_wrap=True)
        raise typer.Exit(EXIT_STORE) from exc
    tasks: dict[str, TaskID] = {}
    progress = Progress(
        TextColumn("[bold]{task.description}[/]"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, disable=not console.is_terminal,
    )

    def on_progress(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = progress.add_task(stage, total=total)
        progress.update(tasks[stage], completed=done, total=total)

    try:
        with store, progress:
            results = run_analysis(store, engine, fingerprints=fps, on_progress=on_progress)
            # incidents that started, changed confidence or ended go to the webhooks now
            # (failed deliveries are retried by later runs, `alerts deliver` or `serve --deliver-every`)
            results["alerts"] = asdict(deliver_alerts(store))
    except SparkUnavailable as exc:  # no PySpark or no Java: said plainly, no traceback
        console.print(f"error: {exc}", markup=False, soft_wrap=True)
        raise typer.Exit(EXIT_USAGE) from None
    _print_results(results, f"analyze {store.path}")


def _print_results(results: dict[str, Any], title: str) -> None:
    table = Table(title=title, header_style="bold")
    table.add_column("stage")
    table.add_column("result")
    for stage, res in results.items():
        table.add_row(stage, ", ".join(f"{k}={v:,}" if isinstance(v, int) else f"{k}={v}" for k, v in res.items()))
    out.print(table)
    failed = any(int(r.get("errors", 0) or 0) for r in results.values())
    raise typer.Exit(EXIT_ERRORS if failed else EXIT_OK)
