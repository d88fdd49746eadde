"""``censorwatch events`` and ``censorwatch incidents``: what detection found, as JSON or a table."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import typer
from rich.table import Table

from censorwatch.cli.app import app, console, out
from censorwatch.store import detection as sql
from censorwatch.store.db import Store, StoreError

EXIT_USAGE, EXIT_STORE = 2, 3
DB_OPTION_HELP = "Database file (default: $CENSORWATCH_DB, else the user data directory)."
DETECTORS = {"ours": ("bayes", "volume"), "bayes": ("bayes", "volume"), "cusum": ("cusum",),
             "all": ("bayes", "volume", "cusum")}
_CC = re.compile(r"^[A-Za-z]{2}$")


def _since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        console.print(f"error: --since {value!r}: expected a date (YYYY-MM-DD) or an ISO 8601 time",
                      markup=False, soft_wrap=True)
        raise typer.Exit(EXIT_USAGE) from None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


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


def _short(uids: list[str]) -> str:
    return f"{len(uids)}: {uids[0]}..." if uids else "-"


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
    with _open(db) as store:
        evs = [
            e for e in sql.load_events(store.con, cc=ccu, since=when, kind=kind)
            if e.detector in DETECTORS[detector]
        ]
    if fmt == "json":
        _print_json([e.to_dict() for e in evs])
        return
    table = Table(title=f"{len(evs)} events", header_style="bold")
    for col in ("kind", "cc", "asn", "target", "start", "end", "method", "confidence", "n", "detector"):
        table.add_column(col)
    for e in evs:
        d = e.to_dict()
        table.add_row(e.kind, e.cc, e.asn or ",".join(e.asns), e.target or "-", d["start"],
                      d["end"] or "ongoing", e.method or "-", e.confidence, str(e.measurements), e.detector)
    out.print(table)


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
    with _open(db) as store:
        incs = sql.load_incidents(store.con, cc=ccu, since=when)
    if fmt == "json":
        _print_json([i.to_dict() for i in incs])
        return
    table = Table(title=f"{len(incs)} incidents", header_style="bold")
    for col in ("kind", "cc", "target", "networks", "start", "end", "methods", "confidence", "rule", "evidence"):
        table.add_column(col)
    for i in incs:
        d = i.to_dict()
        table.add_row(i.kind, i.cc, i.target or "-", ",".join(i.asns), d["start"], d["end"] or "ongoing",
                      ",".join(i.methods) or "-", i.confidence, i.confidence_rule, _short(i.evidence))
    out.print(table)
