"""``censorwatch simulate``: OONI-format measurement streams with a ground truth, from a scenario."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from censorwatch.cli.app import app, console, out
from censorwatch.pipeline.simulate import ScenarioError, load, write


def truth_path_for(out_path: Path) -> Path:
    name = out_path.name
    for suffix in (".jsonl.gz", ".json.gz", ".jsonl", ".gz"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    return out_path.with_name(f"{name}.truth.json")


@app.command("simulate")
def simulate_cmd(
    scenario: Path = typer.Option(..., "--scenario", help="Scenario file (YAML or JSON), see docs/detection.md."),
    out_path: Path = typer.Option(..., "--out", help="Measurements to write (gzip JSON lines, .jsonl.gz)."),
    truth: Path | None = typer.Option(None, "--truth", help="Ground truth JSON (default: <out>.truth.json)."),
) -> None:
    """Write simulated web_connectivity measurements over days or weeks, with their ground truth."""
    try:
        sc = load(scenario)
    except ScenarioError as exc:
        console.print(f"error: {exc}", markup=False, soft_wrap=True)
        raise typer.Exit(2) from exc
    truth_path = truth or truth_path_for(out_path)
    progress = Progress(TextColumn("[bold]networks[/]"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        console=console, disable=not console.is_terminal)
    try:
        with progress:
            task = progress.add_task("networks", total=len(sc.networks))
            stats = write(sc, out_path, truth_path, on_network=lambda n: progress.advance(task, n))
    except OSError as exc:
        console.print(f"error: cannot write {exc.filename or out_path}: {exc.strerror or exc}", markup=False, soft_wrap=True)
        raise typer.Exit(1) from exc
    outcomes = ", ".join(f"{k}={v:,}" for k, v in sorted(stats.by_outcome.items()))
    out.print(f"wrote {stats.measurements:,} measurements to {out_path} ({outcomes}); truth: {truth_path}",
              markup=False, soft_wrap=True)
