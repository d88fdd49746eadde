"""``censorwatch platform | vpn | throughput``: platform tests, circumvention reachability, throttling.

The runs are the pipeline's (``pipeline/measure.py``); here: options, consent, output, the tables.
``summary`` and ``step_bar`` also serve ``censorwatch probe --platform``.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from censorwatch.analysis import classify
from censorwatch.cli.app import app, console
from censorwatch.model.addresses import AddressPolicy
from censorwatch.model.measurement import Measurement
from censorwatch.pipeline import measure
from censorwatch.pipeline.measure import Step
from censorwatch.probe import ProbeConfig, build_context, consent, throughput
from censorwatch.probe import platforms as catalogue
from censorwatch.probe.circumvention import endpoints as vpn_endpoints


def _fail(msg: str) -> typer.Exit:
    console.print(f"[red]error:[/red] {msg}")
    return typer.Exit(2)


def _require_consent(accept_risk: bool) -> None:
    if consent.has_consented():
        return
    if accept_risk:
        consent.remember("--accept-risk")
        return
    console.print(consent.RISK_TEXT)
    if not sys.stdin.isatty() or not typer.confirm("Do you accept these risks?", default=False):
        raise _fail("consent is required: answer yes interactively or pass --accept-risk")
    consent.remember("interactive")


def _writer(out: Path | None) -> Callable[[dict[str, Any]], None]:
    fh = None if out is None or str(out) == "-" else out.open("ab")

    def write(m: dict[str, Any]) -> None:
        line = orjson.dumps(m) + b"\n"
        if fh is None:
            sys.stdout.buffer.write(line)
            sys.stdout.buffer.flush()
        else:
            fh.write(line)
            fh.flush()

    return write


def summary(rows: list[tuple[str, Any]]) -> None:
    t = Table(title="results")
    for col in ("target", "status", "method", "explanation"):
        t.add_column(col, overflow="fold")
    for target, v in rows:
        t.add_row(target, v.status, v.method or "", v.explanation)
    console.print(t)


def verdicts(results: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    return [(m["input"], classify(Measurement.from_raw(m, "probe"))) for m in results]


def _config(control: str | None, ca_file: list[Path], lab: bool, resolver: str | None, cc: str | None,
            asn: str | None) -> ProbeConfig:
    return ProbeConfig(control_url=control, ca_files=list(ca_file), lab=lab, system_resolver=resolver,
                       probe_cc=cc, probe_asn=asn)


@contextmanager
def step_bar(what: str) -> Iterator[Step]:
    """A transient progress bar driven by the pipeline's ``step(description, done, total)``."""
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as bar:
        task = bar.add_task(what, total=None)

        def step(description: str, done: int, total: int) -> None:
            bar.update(task, description=description, completed=done, total=total)

        yield step


@app.command("platform")
def platform_cmd(
    names: list[str] = typer.Argument(..., help="x, tiktok, youtube, facebook, instagram, whatsapp, telegram, signal, all"),
    control: str | None = typer.Option(None, "--control", help="test-helper URL (OONI protocol)"),
    ca_file: list[Path] = typer.Option([], "--ca-file", help="extra trust anchors (PEM)"),
    lab: bool = typer.Option(False, "--lab", help="lab run: 198.18.0.0/15 is public, annotated as lab"),
    resolver: str | None = typer.Option(None, "--system-resolver", help="ip[:port] instead of resolv.conf"),
    catalogue_path: Path | None = typer.Option(None, "--catalogue", help="a catalogue YAML instead of the shipped one"),
    out: Path | None = typer.Option(None, "--out", help="JSONL file ('-' or unset: stdout)"),
    cc: str | None = typer.Option(None, "--cc"),
    asn: str | None = typer.Option(None, "--asn"),
    accept_risk: bool = typer.Option(False, "--accept-risk"),
    allow_loopback: bool = typer.Option(False, "--allow-loopback", hidden=True, envvar="CENSORWATCH_ALLOW_LOOPBACK",
                                        help="Tests only: measure 127.0.0.0/8 endpoints."),
) -> None:
    """Measure platforms endpoint by endpoint and say which parts are blocked."""
    _require_consent(accept_risk)
    write = _writer(out)
    config = _config(control, ca_file, lab, resolver, cc, asn)
    config.allow_loopback = allow_loopback
    try:
        with step_bar("platforms") as step:
            results = asyncio.run(measure.run_platforms(names, config, catalogue_path=catalogue_path,
                                                        deliver=write, step=step))
    except (ValueError, catalogue.CatalogueError) as e:
        raise _fail(str(e)) from None
    summary(verdicts(results))


@app.command("vpn")
def vpn_cmd(
    uris: list[str] = typer.Argument(None, help="wireguard://IP:PORT?public_key=..., openvpn://IP:PORT?transport=udp|tcp, tor://IP:PORT"),
    endpoints_file: Path | None = typer.Option(None, "--endpoints", help="file with one endpoint URI per line"),
    timeout: float = typer.Option(6.0, "--timeout", min=0.1, help="seconds per handshake (UDP: all retries)"),
    lab: bool = typer.Option(False, "--lab"),
    out: Path | None = typer.Option(None, "--out"),
    accept_risk: bool = typer.Option(False, "--accept-risk"),
    allow_loopback: bool = typer.Option(False, "--allow-loopback", hidden=True, envvar="CENSORWATCH_ALLOW_LOOPBACK",
                                        help="Tests only: probe 127.0.0.0/8 endpoints."),
) -> None:
    """Circumvention reachability: is the endpoint unreachable, or is its protocol blocked?"""
    try:
        eps = [vpn_endpoints.parse(u, f"argument {i + 1}") for i, u in enumerate(uris or [])]
        if endpoints_file is not None:
            eps += vpn_endpoints.load(endpoints_file)
    except vpn_endpoints.EndpointError as e:
        raise _fail(str(e)) from None
    if not eps:
        raise _fail("give endpoint URIs or --endpoints FILE (censorwatch ships no list of real servers)")
    policy = AddressPolicy(lab=lab, allow_private=True, allow_loopback=allow_loopback)
    for ep in eps:
        why = policy.refusal(ep.ip)
        if why is not None:
            raise _fail(f"{ep.public_uri}: refusing to probe a {why} address")
    _require_consent(accept_risk)
    with step_bar("endpoints") as step:
        results = asyncio.run(measure.run_endpoints(eps, timeout=timeout, policy=policy, lab=lab,
                                                    deliver=_writer(out), step=step))
    summary(verdicts(results))


@app.command("throughput")
def throughput_cmd(
    target: str = typer.Argument(..., help="https URL of a large download on the platform"),
    reference: str = typer.Option(..., "--reference", help="a same-network reference download URL"),
    samples: int = typer.Option(3, "--samples", min=1, help="transfers per side, interleaved"),
    duration: float = typer.Option(3.0, "--duration", min=0.2, help="seconds per transfer"),
    ca_file: list[Path] = typer.Option([], "--ca-file"),
    lab: bool = typer.Option(False, "--lab"),
    resolver: str | None = typer.Option(None, "--system-resolver"),
    control_from: Path | None = typer.Option(None, "--control-from",
                                             help="a throughput measurement (JSON) of the same pair made from an "
                                                  "uncensored network: its ratio is divided out"),
    out: Path | None = typer.Option(None, "--out"),
    accept_risk: bool = typer.Option(False, "--accept-risk"),
) -> None:
    """Sustained throughput of TARGET vs REFERENCE; a throttle verdict with the measured rate."""
    _require_consent(accept_risk)
    try:
        control = None
        if control_from is not None:
            try:
                control = throughput.control_keys(orjson.loads(control_from.read_bytes()))
            except (OSError, orjson.JSONDecodeError) as e:
                raise ValueError(f"--control-from {control_from}: {e}") from None
        ctx = build_context(_config(None, ca_file, lab, resolver, None, None))
        with console.status(f"{2 * samples} transfers of up to {duration:g} s"):
            m = asyncio.run(throughput.run(ctx, target, reference, samples=samples, duration=duration,
                                           control=control))
    except ValueError as e:
        raise _fail(str(e)) from None
    _writer(out)(m)
    summary(verdicts([m]))
