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
#: integrity holds, but only against the export's own key: authenticity not established
EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_UNAUTHENTICATED = 0, 1, 2, 3


def _print(report: Report) -> None:
    for ok, msg in report.findings:
        out.print(f"[green]ok[/]    {msg}" if ok else f"[red]FAIL[/]  {msg}", highlight=False, soft_wrap=True)


def _report(check: Callable[[], Report]) -> Report:
    try:
        return check()
    except BadInput as exc:
        console.print(f"[red]error:[/] {exc}", soft_wrap=True, highlight=False)
        raise typer.Exit(EXIT_BAD_INPUT) from None


def _run(what: str, check: Callable[[], Report]) -> None:
    out.print(f"checking {what}", highlight=False, soft_wrap=True)
    report = _report(check)
    _print(report)
    if not report.passed:
        out.print("[red]verification FAILED[/]")
        raise typer.Exit(EXIT_FAILED)
    out.print("[green]verified[/]")


def _key(path: Path) -> LogVerifier:
    try:
        return load_key(path)
    except BadInput as exc:
        console.print(f"[red]error:[/] {exc}", soft_wrap=True, highlight=False)
        raise typer.Exit(EXIT_BAD_INPUT) from None


def _with(key: Path, v: LogVerifier) -> str:
    return f"signatures checked with the key in {key} (log id {v.log_id[:16]}...)"


@verify_app.command("receipt")
def receipt(
    measurement: Path = typer.Argument(..., help="The measurement file (as served, or any formatting of it)."),
    receipt_file: Path = typer.Argument(..., help="The receipt (or the collector's whole 201/200 answer)."),
    key: Path = KEY,
) -> None:
    """Is this measurement exactly the one the log signed a receipt for?"""
    v = _key(key)
    _run(f"the measurement {measurement} against the receipt {receipt_file}; {_with(key, v)}",
         lambda: check_receipt(measurement, receipt_file, v))


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
    also = "".join(f", and {what} {p}" for what, p in (("the measurement", measurement), ("the receipt", receipt_file))
                   if p is not None)
    head = f"the tree head {sth}" if sth is not None else "the tree head embedded in the proof"
    _run(f"the inclusion proof {proof}{also} against {head}; {_with(key, v)}",
         lambda: check_inclusion(proof, v, sth_path=sth, measurement=measurement, receipt_path=receipt_file))


@verify_app.command("consistency")
def consistency(
    old: Path = typer.Argument(..., help="The older signed tree head you kept."),
    new: Path = typer.Argument(..., help="The newer signed tree head."),
    key: Path = KEY,
    proof: Path | None = typer.Option(None, help="GET /api/v1/log/proof/consistency?first=OLD&second=NEW answer."),
) -> None:
    """Is the newer tree an append-only extension of the older (no rollback, no rewrite)?"""
    v = _key(key)
    _run(f"the tree head {new} against the older one {old}" + (f" with the proof {proof}" if proof else "")
         + f"; {_with(key, v)}", lambda: check_consistency(old, new, proof, v))


@verify_app.command("log")
def log(
    export_dir: Path = typer.Argument(..., help="Directory written by `censorwatch collector export`."),
    key: Path | None = typer.Option(None, "--key", help="The log's public key you trust (obtained before, out of "
                                    "band). Without it authenticity cannot be established."),
    sth: Path | None = typer.Option(None, help="Tree head to check against (default: sth.json in the export); "
                                    "one you kept detects a rollback."),
    accept_export_key: bool = typer.Option(False, "--accept-export-key",
                                           help="Accept the export's own key.json: checks integrity only (anyone "
                                           "who rewrote the export could have re-signed it with a key of theirs)."),
) -> None:
    """Recompute the whole log from an export: every entry, every receipt, the root.

    Exit code: 0 verified (with --key, or integrity only with --accept-export-key), 1 tampering found,
    2 a file cannot be read, 3 consistent but authenticity not established (no --key).
    """
    own = export_dir / "key.json"
    v = _key(key if key is not None else own)
    sth_file = sth if sth is not None else export_dir / "sth.json"
    trust = (f"the key you gave, {key}" if key is not None
             else f"the export's own {own}, NOT a key you trust")
    out.print(f"checking every entry of {export_dir / 'leaves.jsonl'} and every receipt of "
              f"{export_dir / 'receipts.jsonl'} against the tree head {sth_file}; signatures checked with "
              f"{trust} (log id {v.log_id[:16]}...)", highlight=False, soft_wrap=True)
    report = _report(lambda: check_log(export_dir, v, sth))
    _print(report)
    if key is not None and own.exists():
        try:
            if load_key(own).log_id != v.log_id:
                out.print(f"note  the export's {own.name} is another key than the one you gave (ignored)",
                          highlight=False)
        except BadInput:
            out.print(f"note  the export's {own.name} is not a key (ignored)", highlight=False)
    if not report.passed:
        out.print("[red]verification FAILED[/]")
        raise typer.Exit(EXIT_FAILED)
    if key is not None:
        out.print("[green]verified[/]: intact, and signed by the key you trust")
        return
    if accept_export_key:
        out.print("[yellow]intact, NOT authenticated[/]: consistent with the export's own key, accepted with "
                  "--accept-export-key; a forger who rewrote and re-signed the whole export would pass too",
                  soft_wrap=True)
        return
    out.print("[yellow]authenticity could not be established[/]: the log is consistent with the key the export "
              "itself carries, which proves nothing (a fully re-signed forgery passes this). Give the log's key "
              "you obtained before with --key, or pass --accept-export-key to accept an integrity check only.",
              soft_wrap=True)
    raise typer.Exit(EXIT_UNAUTHENTICATED)


@verify_app.command("report")
def report_cmd(
    report_file: Path = typer.Argument(..., help="An incident report in JSON (censorwatch report ID --format json)."),
    key: Path = KEY,
    measurements: Path | None = typer.Option(None, "--measurements",
                                             help="Also check each proven leaf is one of these (JSON lines)."),
) -> None:
    """Are an incident report's evidence measurements in the log its signed tree head describes?"""
    v = _key(key)
    also = f", and each proven leaf against {measurements}" if measurements is not None else ""
    _run(f"the evidence of the report {report_file}{also}; {_with(key, v)}",
         lambda: check_report(report_file, v, measurements))
