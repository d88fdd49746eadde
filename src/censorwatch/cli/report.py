"""``censorwatch report``: a self-contained incident report (html, pdf, md)."""

from __future__ import annotations

from pathlib import Path

import typer

from censorwatch.cli.app import app, console
from censorwatch.store.paths import resolve_db_path as resolve_db


@app.command()
def report(
    incident_id: str = typer.Argument(..., help="incident id (as on /incident/{id})"),
    fmt: str = typer.Option("html", "--format", "-f", help="html | pdf | md | json (with the log's inclusion proofs, for `censorwatch verify report`)"),
    out: Path | None = typer.Option(None, "--out", "-o", help="output file (default incident-<id>.<format>)"),
    db: Path | None = typer.Option(None, "--db", help="DuckDB store (default $CENSORWATCH_DB)"),
) -> None:
    """Write an incident report: methodology, timeline chart, per-network table, evidence and log proofs."""
    from censorwatch.report import incident as rep
    from censorwatch.store.views import open_db

    if fmt not in rep.FORMATS:
        console.print(f"[red]error:[/red] --format: one of {', '.join(rep.FORMATS)}, got {fmt!r}")
        raise typer.Exit(2)
    from censorwatch.cli import service

    dest = out or Path(f"incident-{incident_id}.{fmt}")
    info = service.service_of(db)
    if info is not None:
        with service.reader(info) as client, console.status(f"building the {fmt} report for {incident_id}"):
            body = service.call(lambda: client.report(incident_id, fmt))
        dest.write_bytes(body)
        console.print(f"wrote {dest} ({len(body)} bytes, from the observatory at {info.dashboard})")
        return
    path = resolve_db(db)
    try:
        con = open_db(path, read_only=True)
    except Exception as e:
        console.print(f"[red]error:[/red] {e}")
        raise typer.Exit(2) from None
    try:
        with console.status(f"building the {fmt} report for {incident_id}"):
            body = rep.render(rep.build(con, incident_id, path), fmt)
    except rep.ReportError as e:
        console.print(f"[red]error:[/red] {e}")
        raise typer.Exit(1) from None
    finally:
        con.close()
    dest.write_bytes(body)
    console.print(f"wrote {dest} ({len(body)} bytes)")
