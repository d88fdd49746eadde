"""``censorwatch fingerprints``: which sets are active, fetching OONI's and Censored Planet's on
request, what the loaded fingerprints are, and what a page matches."""

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

fingerprints_app = typer.Typer(help="Blocking fingerprints (censorwatch's own, OONI's, Censored Planet's): "
                                    "status, sync, show, match.", no_args_is_help=True)
app.add_typer(fingerprints_app, name="fingerprints")


@fingerprints_app.command("status")
def status(
    fingerprints: Path | None = typer.Option(None, "--fingerprints", help=FINGERPRINTS_HELP),
    fmt: str = typer.Option("text", "--format", help="text or json"),
) -> None:
    """Which fingerprint sets classification uses now: name, source, revision, rules, path, licence."""
    from censorwatch.analysis.fingerprints.sets import synced_root

    if fmt not in ("text", "json"):
        console.print("error: --format: text or json", markup=False)
        raise typer.Exit(2)
    fps = load_fingerprints_or_exit(console, fingerprints)
    if fmt == "json":
        doc = {"identity": fps.identity, "synced_root": str(synced_root()), "sets": [s.to_dict() for s in fps.sets],
               "rules": len(fps), "skipped": len(fps.errors)}
        sys.stdout.buffer.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")
        return
    t = Table(title=f"active fingerprints: {fps.identity}", header_style="bold")
    for col in ("set", "source", "revision", "date", "rules", "path", "licence"):
        t.add_column(col, justify="right" if col == "rules" else "left", overflow="fold")
    for fs in fps.sets:
        t.add_row(fs.name, fs.source_url or ("this package" if fs.name == "censorwatch" else "your folder"),
                  fs.commit[:12] if fs.commit else fs.revision, (fs.date or "")[:10], f"{fs.rules:,}", fs.path,
                  fs.licence or "-")
    t.caption = (f"sync keeps OONI's and Censored Planet's sets in {synced_root()}; "
                 "`censorwatch fingerprints sync` fetches them (never done implicitly)")
    out.print(t)
    for fs in fps.sets:
        if fs.attribution:
            out.print(f"{fs.name}: {fs.attribution}", markup=False, highlight=False)
    if fps.errors:
        console.print(f"{len(fps.errors)} rows or sets skipped (`fingerprints show --errors` lists them)",
                      style="yellow")


@fingerprints_app.command("sync")
def sync(
    source: str = typer.Option("all", "--source", help="ooni, censoredplanet or all"),
    base_url: str | None = typer.Option(None, "--base-url", help="Where the repositories' raw files are served "
                                        "({base}/{owner}/{repo}/{commit}/{path}); default GitHub's."),
    api_url: str | None = typer.Option(None, "--api-url", help="The repository host's API, asked for the "
                                       "current commit; default GitHub's."),
) -> None:
    """Download OONI's blocking-fingerprints and Censored Planet's signatures into the data directory.

    Every file is checked (every row parses, every pattern compiles) before it replaces the previous
    copy; a source that fails keeps its previous set. Exit code: 0 every source synced, 1 one failed.
    """
    from censorwatch.pipeline import fingerprint_sync as fsync

    names = list(fsync.SOURCES) if source == "all" else [source]
    if any(n not in fsync.SOURCES for n in names):
        console.print(f"error: --source: one of {', '.join(fsync.SOURCES)} or all, got {source!r}", markup=False)
        raise typer.Exit(2)
    kw: dict[str, str] = {}
    if base_url:
        kw["raw_url"] = base_url
    if api_url:
        kw["api_url"] = api_url
    with console.status("fetching fingerprints ..."):
        results = fsync.sync(names, **kw)
    for r in results:
        style = "green" if r.ok else "red"
        console.print(f"{r.source}: {r.message}", style=style, markup=False, highlight=False)
        if not r.ok and r.kept is not None:
            console.print(f"{r.source}: keeping {r.kept.label} ({r.kept.path})", markup=False, highlight=False)
        if r.ok and r.fset is not None:
            console.print(f"{r.source}: {r.fset.licence}; {r.fset.attribution}", markup=False, highlight=False)
    raise typer.Exit(0 if all(r.ok for r in results) else 1)


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
    t.caption = f"identity {fps.identity}; read from: " + "; ".join(fps.sources)
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
