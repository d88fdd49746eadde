"""``censorwatch fingerprints``: what the classifier's fingerprints are, and what a page matches."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import orjson
import typer
from rich.table import Table

from censorwatch.analysis.fingerprints import FingerprintRule
from censorwatch.cli.app import app, console, out
from censorwatch.cli.reading import FINGERPRINTS_HELP, load_fingerprints_or_exit
from censorwatch.model.observations import HTTPResponse

fingerprints_app = typer.Typer(help="Inspect blocking fingerprints (OONI, Censored Planet, censorwatch's own).",
                               no_args_is_help=True)
app.add_typer(fingerprints_app, name="fingerprints")


@fingerprints_app.command("show")
def show(
    fingerprints: Path | None = typer.Option(None, "--fingerprints", help=FINGERPRINTS_HELP),
    errors: bool = typer.Option(False, "--errors", help="List every skipped row as path:line: reason."),
) -> None:
    """Count the loaded fingerprints by source, location, pattern type and scope."""
    fps = load_fingerprints_or_exit(console, fingerprints)
    t = Table(title=f"{len(fps)} fingerprints", header_style="bold")
    for col in ("source", "location", "pattern type", "scope", "count"):
        t.add_column(col, justify="right" if col == "count" else "left")
    counts = Counter((r.source, r.location, r.pattern_type, r.scope) for r in fps.rules)
    for (source, loc, ptype, scope), n in sorted(counts.items()):
        t.add_row(source, loc, ptype, scope, f"{n:,}")
    t.caption = "read from: " + "; ".join(fps.sources)
    out.print(t)
    if errors:
        for e in fps.errors:
            console.print(e, markup=False, highlight=False, soft_wrap=True, style="red")
    elif fps.errors:
        console.print(f"{len(fps.errors)} rows skipped (--errors lists them)", style="yellow")


@fingerprints_app.command("match")
def match(
    path: str = typer.Argument(..., metavar="FILE", help="A response body (or '-' for stdin)."),
    header: list[str] = typer.Option([], "--header", "-H", help="A response header, 'Name: value' (repeatable)."),
    dns: list[str] = typer.Option([], "--dns", help="A DNS answer to check (repeatable)."),
    cc: str = typer.Option("ZZ", "--cc", help="The probe's country, for expected-country fingerprints."),
    fingerprints: Path | None = typer.Option(None, "--fingerprints", help=FINGERPRINTS_HELP),
) -> None:
    """Which fingerprints a page (and headers / DNS answers) matches, false positives first, as JSON.

    Exit code: 0 a blockpage matched, 1 nothing (or only a false positive) matched, 2 usage error.
    """
    fps = load_fingerprints_or_exit(console, fingerprints)
    try:
        data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as exc:
        console.print(f"error: {path}: {exc.strerror}", markup=False)
        raise typer.Exit(2) from exc
    pairs: list[tuple[str, str]] = []
    for h in header:
        name, sep, value = h.partition(":")
        if not sep or not name.strip():
            console.print(f"error: --header {h!r}: expected 'Name: value'", markup=False)
            raise typer.Exit(2)
        pairs.append((name.strip(), value.strip()))
    resp = HTTPResponse(code=200, headers=dict(pairs), headers_list=pairs, body=data.decode("utf-8", "replace"))
    res = fps.match_response(resp)
    dns_hits = [(a, r) for a in dns for r in fps.match_dns(a, lab=True)]

    def row(r: FingerprintRule) -> dict[str, object]:
        return {"id": r.id, "scope": r.scope, "location": r.location, "pattern_type": r.pattern_type,
                "source": r.source, "confirms": r.confirms(cc.upper())}

    result = {
        "false_positive": row(res.false_positive) if res.false_positive else None,
        "blockpages": [row(r) for r in res.blockpages],
        "suppressed_by_false_positive": [row(r) for r in res.suppressed],
        "dns": [{"answer": a, **row(r)} for a, r in dns_hits],
    }
    sys.stdout.buffer.write(orjson.dumps(result, option=orjson.OPT_INDENT_2) + b"\n")
    raise typer.Exit(0 if res.blockpages or dns_hits else 1)
