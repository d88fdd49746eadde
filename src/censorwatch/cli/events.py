"""``censorwatch events`` and ``censorwatch incidents``: what detection found, as JSON or a table."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import typer
from rich.table import Table

from censorwatch.cli import service
from censorwatch.cli.app import app, console, out
from censorwatch.model.events import iso
from censorwatch.model.names import add_names
from censorwatch.store import detection as sql
from censorwatch.store.db import Store, StoreError
from censorwatch.store.names import names as stored_names
from censorwatch.store.views import BadQuery
from censorwatch.web import params

EXIT_USAGE, EXIT_STORE = 2, 3
DB_OPTION_HELP = "Database file (default: $CENSORWATCH_DB, else the user data directory)."
DETECTORS = {"ours": ("bayes", "volume"), "bayes": ("bayes", "volume"), "cusum": ("cusum",),
             "all": ("bayes", "volume", "cusum")}
_CC = re.compile(r"^[A-Za-z]{2}$")


def _since(value: str | None) -> datetime | None:
    """``--since``, read as the dashboard reads ``since=`` (ISO 8601, naive = UTC, years 1990-2200)."""
    try:
        dt = params.when(value, "--since")
    except BadQuery as exc:
        console.print(f"error: {exc}", markup=False, soft_wrap=True)
        raise typer.Exit(EXIT_USAGE) from None
    return None if dt is None else dt.replace(tzinfo=UTC)


def _check(cc: str | None, fmt: str) -> str | None:
    if fmt not in ("json", "text"):
        console.print(f"error: --format must be json or text, not {fmt!r}", markup=False, soft_wrap=True)
        raise typer.Exit(EXIT_USAGE)
    if cc is None:
        return None
    if not _CC.match(cc):
        console.print(f"error: --cc {cc!r}: expected a two-letter country code", markup=False, soft_wrap=True)
        raise typer.Exit(EXIT_USAGE)
    return cc.upper()


def _open(db: Path | None) -> Store:
    try:
        return Store(db, read_only=True)
    except StoreError as exc:
        console.print(f"error: {exc}", markup=False, soft_wrap=True)
        raise typer.Exit(EXIT_STORE) from exc


def _print_json(items: list[dict[str, Any]]) -> None:
    typer.echo(orjson.dumps(items, option=orjson.OPT_INDENT_2).decode())


def _print_text(header: list[str], rows: list[list[str]], title: str) -> None:
    """Aligned plain columns (never wrapped, easy to grep), or a rich table on a terminal."""
    if out.is_terminal:
        table = Table(title=title, header_style="bold")
        for col in header:
            table.add_column(col)
        for r in rows:
            table.add_row(*r)
        out.print(table)
        return
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    for r in [header, *rows]:
        typer.echo("  ".join(str(x).ljust(w) for x, w in zip(r, widths, strict=True)).rstrip())


@app.command("events")
def events_cmd(
    db: Path | None = typer.Option(None, "--db", help=DB_OPTION_HELP),
    cc: str | None = typer.Option(None, "--cc", help="Only this country (ISO alpha-2)."),
    since: str | None = typer.Option(None, "--since", help="Only events running at or after DATE (UTC)."),
    fmt: str = typer.Option("text", "--format", help="json | text"),
    detector: str = typer.Option(
        "ours", "--detector", help="ours (blocking: bayes, outages: volume) | cusum (OONI baseline) | all"
    ),
    kind: str | None = typer.Option(None, "--kind", help="blocking | outage"),
) -> None:
    """Blocking and outage events, oldest first (`end` null while ongoing)."""
    ccu = _check(cc, fmt)
    if detector not in DETECTORS:
        console.print(f"error: --detector must be one of {', '.join(DETECTORS)}, not {detector!r}",
                      markup=False, soft_wrap=True)
        raise typer.Exit(EXIT_USAGE)
    if kind not in (None, "blocking", "outage"):
        console.print(f"error: --kind must be blocking or outage, not {kind!r}", markup=False, soft_wrap=True)
        raise typer.Exit(EXIT_USAGE)
    when = _since(since)
    info = service.service_of(db)
    if info is not None:
        with service.reader(info) as client:
            evs = service.call(lambda: client.events(cc=ccu, since=iso(when), kind=kind, detector=detector))
    else:
        with _open(db) as store:
            evs = add_names([
                e.to_dict() for e in sql.load_events(store.con, cc=ccu, since=when, kind=kind)
                if e.detector in DETECTORS[detector]
            ], stored_names(store.con))
    if fmt == "json":
        _print_json(evs)
        return
    rows = [
        [e["kind"], e["cc"], e["asn"] or f"country:{','.join(e['asns'])}", e["target"] or "-", e["start"] or "",
         e["end"] or "ongoing", e["method"] or "-", e["confidence"], str(e["measurements"]), e["detector"]]
        for e in evs
    ]
    _print_text(["kind", "cc", "asn", "target", "start", "end", "method", "confidence", "n", "detector"], rows,
                f"{len(evs)} events")


@app.command("incidents")
def incidents_cmd(
    db: Path | None = typer.Option(None, "--db", help=DB_OPTION_HELP),
    cc: str | None = typer.Option(None, "--cc", help="Only this country (ISO alpha-2)."),
    since: str | None = typer.Option(None, "--since", help="Only incidents running at or after DATE (UTC)."),
    fmt: str = typer.Option("text", "--format", help="json | text"),
) -> None:
    """Incidents: one target's events merged across a country's networks, with a confidence."""
    ccu = _check(cc, fmt)
    when = _since(since)
    info = service.service_of(db)
    if info is not None:
        with service.reader(info) as client:
            incs = service.call(lambda: client.incidents(cc=ccu, since=iso(when)))
    else:
        with _open(db) as store:
            incs = add_names([i.to_dict() for i in sql.load_incidents(store.con, cc=ccu, since=when)],
                             stored_names(store.con))
    if fmt == "json":
        _print_json(incs)
        return
    rows = [
        [i["kind"], i["cc"], i["target"] or "-", ",".join(i["asns"]), i["start"] or "", i["end"] or "ongoing",
         ",".join(i["methods"]) or "-", i["confidence"], i["confidence_rule"], str(len(i["evidence"]))]
        for i in incs
    ]
    _print_text(["kind", "cc", "target", "networks", "start", "end", "methods", "confidence", "rule", "evidence"],
                rows, f"{len(incs)} incidents")
