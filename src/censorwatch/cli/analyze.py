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
from censorwatch.cli.storeopts import memory_option, open_store, store_failures, temp_option, threads_option
from censorwatch.pipeline import ENGINES, run_analysis
from censorwatch.pipeline.alerts import deliver_alerts
from censorwatch.pipeline.spark.engine import SparkUnavailable

EXIT_OK, EXIT_ERRORS, EXIT_USAGE = 0, 1, 2


@app.command("analyze")
def analyze_cmd(
    db: Path | None = typer.Option(None, "--db", help=DB_HELP),
    engine: str = typer.Option("local", "--engine", help=f"Aggregation engine: {' | '.join(ENGINES)}."),
    fingerprints: Path | None = typer.Option(None, "--fingerprints", help=FINGERPRINTS_HELP),
    spark_output: Path | None = typer.Option(
        None, "--spark-output", help="Load a Spark job's output directory (job.py --out) instead of running "
        "Spark here; implies --engine spark."),
    memory_limit: str | None = memory_option(),
    threads: int | None = threads_option(),
    temp_dir: Path | None = temp_option(),
) -> None:
    """Bring stored verdicts up to the current rules, then run the later analysis stages.

    Re-classifies only measurements whose verdict is missing or was made by another rules version.
    With --spark-output, the verdicts and aggregates of a Spark job run elsewhere (a cluster over
    OONI's archive) are loaded instead, then events and incidents run here.
    Exit code: 0 done, 1 some measurements could not be classified, 2 usage error, 3 the database
    cannot be opened or failed midway (out of its memory budget: rerun with a larger --memory-limit).
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
    store = open_store(console, db, memory_limit, threads, temp_dir)
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
        with store, store_failures(console, store), progress:
            results = run_analysis(store, "spark" if spark_output else engine, fingerprints=fps,
                                   on_progress=on_progress, spark_output=spark_output)
            # incidents that started, changed confidence or ended go to the webhooks now
            # (failed deliveries are retried by later runs, `alerts deliver` or `serve --deliver-every`)
            results["alerts"] = asdict(deliver_alerts(store))
    except (SparkUnavailable, FileNotFoundError) as exc:  # no PySpark or Java, no output: said plainly
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
