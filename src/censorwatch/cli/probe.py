"""``censorwatch probe``: run Web Connectivity over URLs and test lists (or, with ``--platform``, the
platform tests), once or on a schedule; the runs are the pipeline's (``pipeline/measure.py``)."""

from __future__ import annotations

import asyncio
import os
import re
import sys
import time
from collections.abc import Awaitable
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Any

import orjson
import platformdirs
import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from censorwatch.cli.app import app, console
from censorwatch.cli.platform import step_bar, summary, verdicts
from censorwatch.pipeline import measure
from censorwatch.pipeline.measure import Deliver
from censorwatch.probe import ProbeConfig, RunStats, Timeouts, consent, lists, run
from censorwatch.probe import platforms as catalogue
from censorwatch.probe.config import DEFAULT_DOH_URL, DEFAULT_PUBLIC_RESOLVER
from censorwatch.probe.runner import build_context
from censorwatch.probe.webconnectivity import check_url

_EVERY = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_every(text: str) -> float:
    m = _EVERY.match(text.strip().lower())
    if not m or float(m.group(1)) <= 0:
        raise typer.BadParameter(f"{text!r}: expected a duration like 30m, 1h, 1d")
    return float(m.group(1)) * _UNITS[m.group(2)]


def _comparison(value: str | None, env: str, default: str, lab: bool) -> str | None:
    v = value if value is not None else os.environ.get(env)
    if v is None:
        return None if lab else default  # the lab has no route out: never default to a real resolver
    return None if v.lower() == "none" else v


def _require_consent(accept_risk: bool) -> None:
    if consent.has_consented():
        return
    if accept_risk:
        consent.remember("--accept-risk")
        return
    console.print(consent.RISK_TEXT)
    if not sys.stdin.isatty():
        console.print("[red]error:[/] the first run needs your consent: run it in a terminal and answer "
                      "yes, or pass --accept-risk")
        raise typer.Exit(2)
    if not typer.confirm("Do you accept these risks and want to run measurements?", default=False):
        console.print("Not measuring. Nothing was sent.")
        raise typer.Exit(1)
    path = consent.remember("interactive")
    console.print(f"Your answer is remembered in {path}.")


def _targets(urls: list[str], input_files: list[Path], list_names: list[str]) -> list[str]:
    found: list[lists.Target] = []
    for u in urls:
        try:
            check_url(u)
        except ValueError as exc:
            raise lists.InputError(f"argument {u!r}: {exc}") from None
        found.append(lists.Target(u))
    for f in input_files:
        found += lists.read_url_file(f)
    for name in list_names:
        found += lists.read_citizenlab(lists.resolve_list(name))
    return [t.url for t in lists.dedupe(found)]


def _summary(stats: RunStats, seconds: float) -> Table:
    t = Table(title="censorwatch probe: summary", show_lines=False)
    t.add_column("verdict")
    t.add_column("blocking")
    t.add_column("measurements", justify="right")
    from censorwatch.cli.classify import STATUS_STYLE as styles
    for (status, blocking), n in sorted(stats.by_outcome.items(), key=lambda kv: -kv[1]):
        style = styles.get(status, "")
        t.add_row(f"[{style}]{status}[/]" if style else status,
                  {"False": "no", "None": "unknown"}.get(blocking, blocking), str(n))
    if stats.failed:
        t.add_row("[red]not measured[/]", "internal error", str(stats.failed))
    rate = stats.done / seconds * 60 if seconds > 0 else 0.0
    t.caption = (f"{stats.done}/{stats.total} done, {stats.blocked} blocked, "
                 f"{seconds:.1f} s, {rate:.0f} URLs/min")
    t.min_width = len(t.caption) + 2
    return t


async def _urls_once(config: ProbeConfig, deliver: Deliver, *, db: Path | None, show_progress: bool) -> int:
    """One run over the URLs with a live progress display, then the store and the summary."""
    stats = RunStats()
    started = time.monotonic()
    columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[blocked]} blocked"), _RateColumn(), TimeRemainingColumn()]
    progress = Progress(*columns, console=console, transient=False, disable=not show_progress)
    task = progress.add_task("measuring", total=len(config.urls), blocked=0)

    def on_measurement(m: dict[str, Any]) -> None:
        deliver(m)
        progress.update(task, completed=stats.done, blocked=stats.blocked)

    config.on_measurement = on_measurement
    done: list[dict[str, Any]] = []
    try:
        with progress:
            done = await run(config, stats)
    finally:
        if db is not None and (done or stats.done):
            console.print(f"stored {measure.store(db, done)} new measurements in {db}")
        console.print(_summary(stats, time.monotonic() - started))
        for err in stats.errors[:10]:
            console.print(f"[red]error:[/] {err}")
    return 1 if stats.failed else 0


async def _platforms_once(names: list[str], config: ProbeConfig, deliver: Deliver, *, db: Path | None,
                          catalogue_path: Path | None) -> int:
    """One run over the platforms, then the store and the part verdicts."""
    with step_bar("platforms") as step:
        results = await measure.run_platforms(names, config, catalogue_path=catalogue_path, deliver=deliver,
                                              step=step)
    if db is not None:
        console.print(f"stored {measure.store(db, results)} new measurements in {db}")
    summary(verdicts(results))
    return 0


class _RateColumn(ProgressColumn):
    """URLs per minute so far."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed * 60:6.0f} URLs/min" if speed else "     - URLs/min")


def _spool() -> Path:
    """The probe's durable submission queue for ``--submit`` (probe/submit.py)."""
    return Path(os.environ.get("CENSORWATCH_SPOOL") or Path(platformdirs.user_data_dir("censorwatch")) / "spool")


@app.command("probe")
def probe_cmd(
    urls: list[str] = typer.Argument(None, help="URLs to measure."),
    input_file: list[Path] = typer.Option([], "--input-file", "-f", help="File of URLs (one a line) or a CSV list."),
    list_name: list[str] = typer.Option([], "--list", "-l",
                                        help="Citizen Lab list: a name (global, pk, ...) under $CENSORWATCH_TEST_LISTS, or a .csv path."),
    control: str | None = typer.Option(None, "--control", envvar="CENSORWATCH_CONTROL",
                                       help="Test-helper URL (OONI protocol)."),
    concurrency: int = typer.Option(16, "--concurrency", "-c", min=1, max=1024),
    per_host: int = typer.Option(2, "--per-host", min=1, max=64, help="Connections at once per destination."),
    out: str | None = typer.Option(None, "--out", "-o", help="Write JSONL here ('-' for stdout)."),
    db: Path | None = typer.Option(None, "--db", help="Store measurements (and verdicts) in this database."),
    submit: str | None = typer.Option(None, "--submit", help="Collector URL; undelivered ones stay spooled."),
    cc: str | None = typer.Option(None, "--cc", help="Country code (else from the control server)."),
    asn: str | None = typer.Option(None, "--asn", help="AS number (else from the control server)."),
    no_asn: bool = typer.Option(False, "--no-asn", help="Withhold the network: probe_asn AS0."),
    accept_risk: bool = typer.Option(False, "--accept-risk", help="Accept the risk notice without a prompt."),
    every: str | None = typer.Option(None, "--every", help="Repeat the run on a schedule: 30m, 1h, 1d."),
    repeat: int | None = typer.Option(None, "--repeat", min=1, help="With --every: stop after N runs."),
    lab: bool = typer.Option(False, "--lab", envvar="CENSORWATCH_LAB",
                             help="Lab run: annotate censorwatch_lab, 198.18.0.0/15 is public."),
    ca_file: list[Path] = typer.Option([], "--ca-file", help="Extra trust anchors (PEM)."),
    resolver: str | None = typer.Option(None, "--resolver", help="Public comparison resolver ip[:port] or 'none'."),
    doh_url: str | None = typer.Option(None, "--doh-url", help="DoH comparison resolver URL or 'none'."),
    system_resolver: str | None = typer.Option(None, "--system-resolver",
                                               help="ip[:port] instead of resolv.conf's nameserver."),
    resolv_conf: Path = typer.Option(Path("/etc/resolv.conf"), "--resolv-conf", envvar="CENSORWATCH_RESOLV_CONF"),
    url_deadline: float = typer.Option(60.0, "--url-deadline", min=1.0, help="Seconds for one URL."),
    deadline: float | None = typer.Option(None, "--deadline", min=1.0, help="Seconds for the whole run."),
    timeout: float | None = typer.Option(None, "--timeout", min=0.1, help="One timeout for every step."),
    allow_loopback: bool = typer.Option(False, "--allow-loopback", hidden=True, envvar="CENSORWATCH_ALLOW_LOOPBACK",
                                        help="Tests only: measure 127.0.0.0/8 targets."),
    source_address: str | None = typer.Option(None, "--source-address",
                                              help="Connect from this local address (one uplink)."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show the live progress display."),
    platform: list[str] = typer.Option([], "--platform", help="Platform tests instead of URLs: x, tiktok, youtube, "
                                       "facebook, instagram, whatsapp, telegram, signal, all (docs/platforms.md)."),
    catalogue_path: Path | None = typer.Option(None, "--catalogue",
                                               help="With --platform: a catalogue YAML instead of the shipped one."),
) -> None:
    """Measure websites with OONI's Web Connectivity method, fast and without hammering any host."""
    _require_consent(accept_risk)
    env_ca = os.environ.get("CENSORWATCH_CA_FILE")
    cas = list(ca_file) + ([Path(env_ca)] if env_ca and not ca_file else [])
    try:
        targets = _targets(urls or [], input_file, list_name)
    except lists.InputError as exc:
        console.print(f"[red]error:[/] {exc}", soft_wrap=True)
        raise typer.Exit(2) from None
    if not targets and not platform:
        console.print("[red]error:[/] nothing to measure: give URLs, --input-file or --list")
        raise typer.Exit(2)
    config = ProbeConfig(
        urls=targets, control_url=control, ca_files=cas, lab=lab, allow_loopback=allow_loopback,
        resolv_conf=resolv_conf, system_resolver=system_resolver,
        public_resolver=_comparison(resolver, "CENSORWATCH_PUBLIC_RESOLVER", DEFAULT_PUBLIC_RESOLVER, lab),
        doh_url=_comparison(doh_url, "CENSORWATCH_DOH_URL", DEFAULT_DOH_URL, lab),
        concurrency=concurrency, per_host=per_host, url_deadline=url_deadline, run_deadline=deadline,
        timeouts=Timeouts.uniform(timeout) if timeout else Timeouts(),
        probe_cc=cc, probe_asn=asn, no_asn=no_asn, source_address=source_address,
    )
    if db is not None:
        from censorwatch.cli import service

        info = service.service_of(db)
        if info is not None:
            raise service.refuse(info, f"send the measurements to its collector instead: --submit {info.collector}")
    if platform:
        try:
            measure.platform_names(platform, catalogue_path)
        except (ValueError, catalogue.CatalogueError) as exc:
            console.print(f"[red]error:[/] {exc}", soft_wrap=True)
            raise typer.Exit(2) from None
    else:
        try:
            build_context(config)  # validate resolvers, CA files, cc/asn before measuring
        except ValueError as exc:
            console.print(f"[red]error:[/] {exc}", soft_wrap=True)
            raise typer.Exit(2) from None
    interval = parse_every(every) if every else None
    with ExitStack() as stack:
        sink: IO[bytes] | None = None
        if out == "-":
            sink = sys.stdout.buffer
        elif out is not None:
            sink = stack.enter_context(open(out, "ab"))

        def deliver(m: dict[str, Any]) -> None:
            if sink is not None:
                sink.write(orjson.dumps(m) + b"\n")
                sink.flush()

        def once(each: Deliver) -> Awaitable[int]:
            if platform:
                return _platforms_once(platform, config, each, db=db, catalogue_path=catalogue_path)
            return _urls_once(config, each, db=db, show_progress=progress)

        try:
            code = asyncio.run(measure.repeatedly(
                once, every=interval, repeat=repeat, submit=submit, spool=_spool() if submit else None,
                deliver=deliver, on_wait=lambda s: console.print(f"next run in {s:.0f} s (Ctrl-C to stop)"),
                on_undelivered=lambda n: console.print(
                    f"{n} measurements not delivered yet: kept in the spool for the next run")))
        except KeyboardInterrupt:
            console.print("[yellow]interrupted:[/] finished measurements were written")
            raise typer.Exit(130) from None
    raise typer.Exit(code)
