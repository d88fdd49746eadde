"""``censorwatch verify ...``: offline checks of the evidence log (receipts, proofs, tree heads)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import typer

from censorwatch.cli.app import app, console, out
from censorwatch.collector.keys import LogVerifier
from censorwatch.collector.verify import (
    BadInput,
    Report,
    check_consistency,
    check_inclusion,
    check_log,
    check_receipt,
    check_report,
    load_key,
)

verify_app = typer.Typer(help="Check measurements, receipts and the evidence log offline.", no_args_is_help=True)
app.add_typer(verify_app, name="verify")

KEY = typer.Option(..., "--key", help="The log's public key: /api/v1/log/key JSON, PEM, or base64 raw key.")


def _run(check: Callable[[], Report]) -> None:
    try:
        report = check()
    except BadInput as exc:
        console.print(f"[red]error:[/] {exc}", soft_wrap=True, highlight=False)
        raise typer.Exit(2) from None
    for ok, msg in report.findings:
        out.print(f"[green]ok[/]    {msg}" if ok else f"[red]FAIL[/]  {msg}", highlight=False, soft_wrap=True)
    if not report.passed:
        out.print("[red]verification FAILED[/]")
        raise typer.Exit(1)
    out.print("[green]verified[/]")


def _key(path: Path) -> LogVerifier:
    try:
        return load_key(path)
    except BadInput as exc:
        console.print(f"[red]error:[/] {exc}", soft_wrap=True, highlight=False)
        raise typer.Exit(2) from None


@verify_app.command("receipt")
def receipt(
    measurement: Path = typer.Argument(..., help="The measurement file (as served, or any formatting of it)."),
    receipt_file: Path = typer.Argument(..., help="The receipt (or the collector's whole 201/200 answer)."),
    key: Path = KEY,
) -> None:
    """Is this measurement exactly the one the log signed a receipt for?"""
    v = _key(key)
    _run(lambda: check_receipt(measurement, receipt_file, v))


@verify_app.command("inclusion")
def inclusion(
    proof: Path = typer.Argument(..., help="GET /api/v1/log/proof/inclusion answer."),
    key: Path = KEY,
    sth: Path | None = typer.Option(None, help="Tree head to check against (default: the one in the proof)."),
    measurement: Path | None = typer.Option(None, help="Also check this measurement file is the proven leaf."),
    receipt_file: Path | None = typer.Option(None, "--receipt", help="Also check the receipt's promise (index, hash)."),
) -> None:
    """Is the entry in the tree the signed tree head describes?"""
    v = _key(key)
    _run(lambda: check_inclusion(proof, v, sth_path=sth, measurement=measurement, receipt_path=receipt_file))


@verify_app.command("consistency")
def consistency(
    old: Path = typer.Argument(..., help="The older signed tree head you kept."),
    new: Path = typer.Argument(..., help="The newer signed tree head."),
    key: Path = KEY,
    proof: Path | None = typer.Option(None, help="GET /api/v1/log/proof/consistency?first=OLD&second=NEW answer."),
) -> None:
    """Is the newer tree an append-only extension of the older (no rollback, no rewrite)?"""
    v = _key(key)
    _run(lambda: check_consistency(old, new, proof, v))


@verify_app.command("log")
def log(
    export_dir: Path = typer.Argument(..., help="Directory written by `censorwatch collector export`."),
    key: Path | None = typer.Option(None, "--key", help="Public key (default: key.json in the export; pin your own!)."),
    sth: Path | None = typer.Option(None, help="Tree head to check against (default: sth.json in the export)."),
) -> None:
    """Recompute the whole log from an export: every entry, every receipt, the root."""
    v = _key(key) if key is not None else None
    _run(lambda: check_log(export_dir, v, sth))


@verify_app.command("report")
def report_cmd(
    report_file: Path = typer.Argument(..., help="An incident report in JSON (censorwatch report ID --format json)."),
    key: Path = KEY,
    measurements: Path | None = typer.Option(None, "--measurements",
                                             help="Also check each proven leaf is one of these (JSON lines)."),
) -> None:
    """Are an incident report's evidence measurements in the log its signed tree head describes?"""
    v = _key(key)
    _run(lambda: check_report(report_file, v, measurements))
