"""``censorwatch demo`` (``make demo``): the lab's Pakistan-like world on a compressed timeline;
measurements are stored and analysed, and the demo prints what it found and where to look."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from pathlib import Path
from typing import Annotated, Any

import platformdirs
import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from censorwatch.cli.app import app, console, out


def _store_and_analyse(jsonl: Path, db: Path) -> dict[str, Any] | str:
    """Ingest into the store and run the analysis pipeline (docs/contracts.md); a reason if unavailable."""
    try:
        from censorwatch.pipeline import run_analysis
        from censorwatch.pipeline.ingest import ingest
        from censorwatch.store.db import Store
        from censorwatch.store.reader import read_paths
    except ImportError as exc:
        return f"storage/analysis are not in this build yet ({exc.name})"
    with Store(db) as store:
        stats = ingest(store, read_paths([jsonl]))
        results = run_analysis(store)
    return {"ingested": stats.new, "bad": stats.bad, **results}


@app.command()
def demo(
    minutes: Annotated[float, typer.Option(min=0.5, max=120, help="Length of the compressed timeline.")] = 3.0,
    rounds: Annotated[int, typer.Option(min=4, max=200, help="Probing rounds (one simulated hour each).")] = 24,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Where measurements and the database go.")] = None,
) -> None:
    """A Pakistan-like world with three ISPs: X gets blocked (SNI reset on two, DNS on the third), the
    mobile ISP goes dark, probes measure throughout; then store, analyse and report (needs root)."""
    from censorwatch.lab.demo import Demo, findings, summarize
    from censorwatch.lab.errors import LabError, NeedRoot, require_root

    try:
        require_root()
    except NeedRoot as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    out_dir = out_dir or Path(platformdirs.user_data_dir("censorwatch")) / "demo" / stamp
    out_dir.mkdir(parents=True, exist_ok=True)
    jsonl = out_dir / "measurements.jsonl"
    lock = threading.Lock()
    f = jsonl.open("w", encoding="utf-8")

    def keep(m: dict[str, Any], v: dict[str, Any]) -> None:
        with lock:
            f.write(json.dumps(m, ensure_ascii=False) + "\n")
            f.flush()

    from censorwatch.lab.instance import install_handlers

    install_handlers()  # Ctrl-C / SIGTERM tear the world down even though it runs in a worker thread
    d = Demo(minutes=minutes, rounds=rounds, on_measurement=keep,
             on_log=lambda msg: console.print(f"[cyan]demo[/cyan] {msg}", highlight=False, soft_wrap=True))
    console.print(f"[bold]censorwatch demo[/bold]: {minutes:g} min, {rounds} rounds "
                  f"(one simulated hour each), output {out_dir}", highlight=False, soft_wrap=True)
    try:
        with Progress(TextColumn("measuring"), BarColumn(), TextColumn("{task.fields[n]} measurements"),
                      TimeRemainingColumn(), console=console, transient=True) as progress:
            task = progress.add_task("demo", total=d.total, n=0)
            t0 = time.monotonic()
            worker = threading.Thread(target=_run, args=(d,), daemon=True)
            worker.start()
            while worker.is_alive():
                worker.join(timeout=0.5)
                progress.update(task, completed=min(d.total, time.monotonic() - t0), n=d.result.measurements)
        if isinstance(_RESULT.get("error"), BaseException):
            raise _RESULT["error"]
    except LabError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        from censorwatch.lab.instance import teardown_all

        teardown_all()
        console.print(f"interrupted: the world was torn down; measurements so far are in {jsonl}",
                      highlight=False, soft_wrap=True)
        raise typer.Exit(130) from None
    finally:
        f.close()
    result = d.result
    table = Table(title="What the probes saw (one column per round: . ok, X blocked, ? unknown)")
    for col in ("network", "domain", "rounds", "methods"):
        table.add_column(col)
    for row in summarize(result.rows):
        table.add_row(*row)
    out.print(table)
    out.print("[bold]What the demo found[/bold]")
    for line in findings(result.rows, d.sim_start):
        out.print(f"  {line}", highlight=False, soft_wrap=True)
    if result.platform_rows:
        from censorwatch.lab import platform_demo

        out.print("[bold]Platform and VPN tests[/bold]")
        for line in platform_demo.findings(result.platform_rows):
            out.print(f"  {line}", highlight=False, soft_wrap=True)
    for e in result.errors[:10]:
        console.print(f"[yellow]warning:[/yellow] {e}", highlight=False, soft_wrap=True)
    db = out_dir / "censorwatch.duckdb"
    analysed = _store_and_analyse(jsonl, db) if result.measurements else "no measurements"
    if isinstance(analysed, str):
        out.print(f"analysis: {analysed}; measurements are in {jsonl}", highlight=False, soft_wrap=True)
    else:
        out.print("stored and analysed: " + json.dumps(analysed, default=str), highlight=False, soft_wrap=True)
        lines = [f"  measurements  {jsonl}", f"  database      {db}"]
        have = _commands()
        for cmd, what in (("events", "events"), ("incidents", "incidents"), ("report", "report"),
                          ("serve", "dashboard")):
            if cmd in have:
                arg = " INCIDENT_ID" if cmd == "report" else ""
                lines.append(f"  {what:<13} censorwatch {cmd}{arg} --db {db}")
        out.print("where to look:\n" + "\n".join(lines), highlight=False, soft_wrap=True)


_RESULT: dict[str, Any] = {}


def _commands() -> set[str]:
    """Top-level commands and groups registered on the CLI (later issues add events, report, serve)."""
    names = {c.name or (c.callback.__name__ if c.callback else "") for c in app.registered_commands}
    names |= {g.name or "" for g in app.registered_groups}
    return {n.replace("_", "-") for n in names if n}


def _run(d: Any) -> None:
    try:
        d.run()
    except BaseException as exc:  # handed to the main thread, which reports it
        _RESULT["error"] = exc
