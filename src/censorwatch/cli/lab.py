"""``censorwatch lab``: run scenarios in a censored internet built from network namespaces."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from censorwatch.cli.app import app, console, out
from censorwatch.lab import cleanup, scenario
from censorwatch.lab.errors import LabError, NeedRoot, ScenarioError, require_root

lab_app = typer.Typer(help="The lab: a censored internet in network namespaces (needs root).",
                      no_args_is_help=True)
app.add_typer(lab_app, name="lab")


def _fail(msg: str, code: int = 2) -> typer.Exit:
    console.print(f"[red]error:[/red] {msg}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _load(paths: list[Path]) -> list[scenario.Scenario]:
    from censorwatch.lab.censor import check_scenario
    from censorwatch.lab.world import DEFAULT_WORLD

    try:
        scs = scenario.load_many(paths)
        for sc in scs:
            check_scenario(sc, DEFAULT_WORLD)
    except ScenarioError as exc:
        raise _fail(str(exc)) from None
    return scs


def _root() -> None:
    try:
        require_root()
    except NeedRoot as exc:
        raise _fail(str(exc)) from None


@lab_app.command("check")
def check(scenarios: Annotated[list[Path], typer.Argument(help="Scenario YAML files.")]) -> None:
    """Validate scenario files without building anything."""
    for sc in _load(scenarios):
        out.print(f"ok  {sc.name}  ({sc.source})", highlight=False, soft_wrap=True)


def _text(r: dict) -> str:
    if "error" in r:
        return f"{r['scenario']:<32} {r.get('network') or '-':<10} ERROR {r['error']}"
    v = r.get("verdict") or {}
    return (f"{r['scenario']:<32} {r['network']:<10} blocking={v.get('blocking')!s:<13} "
            f"status={v.get('status')!s:<9} method={v.get('method')}")


@lab_app.command("run")
def run(
    scenarios: Annotated[list[Path], typer.Argument(help="Scenario YAML files.")],
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, max=64, help="Worlds running at once.")] = 1,
    fmt: Annotated[str, typer.Option("--format", help="json (one line per scenario) or text.")] = "json",
) -> None:
    """Build a world per scenario, apply it, run its probe, classify, tear down; one JSON line each."""
    if fmt not in ("json", "text"):
        raise _fail(f"--format: expected json or text, got {fmt!r}")
    scs = _load(scenarios)
    _root()
    from censorwatch.lab.runner import run_many

    failed = 0
    with Progress(TextColumn("lab run"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True, disable=len(scs) < 2) as progress:
        task = progress.add_task("scenarios", total=len(scs))

        def done(r: dict) -> None:
            nonlocal failed
            failed += "error" in r
            progress.advance(task)
            if fmt == "json":
                print(json.dumps(r, ensure_ascii=False), flush=True)
            else:
                out.print(_text(r), highlight=False, soft_wrap=True)

        try:
            run_many(scs, jobs, on_result=done)
        except KeyboardInterrupt:
            raise _fail("interrupted; every world was torn down", 130) from None
    if failed:
        raise typer.Exit(1)


@lab_app.command("up")
def up(
    scenario_file: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
    foreground: Annotated[bool, typer.Option(help="Stay in the foreground until Ctrl-C.")] = False,
    collector: Annotated[str | None, typer.Option(
        "--collector", help="HOST:PORT of a collector on this machine (e.g. the observatory's): the world's "
        "collector host (http://collector.lab.censorwatch.test/, 198.18.0.80) relays to it.")] = None,
) -> None:
    """Start a world and keep it running for manual use (``lab exec``, ``lab down``)."""
    (sc,) = _load([scenario_file])
    _root()
    from censorwatch.lab import relay
    from censorwatch.lab.instance import LabInstance

    if collector is not None:
        try:
            relay.parse_upstream(collector)
        except LabError as exc:
            raise _fail(f"--collector: {exc}") from None
    lab = LabInstance(sc)
    try:
        lab.up()
        lab.apply_timeline(0)
        if collector is not None:
            relay.start(lab, collector)
    except (LabError, ScenarioError) as exc:
        lab.down()
        raise _fail(str(exc), 1) from None
    run_id = lab.topo.run_id
    out.print(f"lab world {run_id} is up ({lab.timings['up_s']:.2f}s): scenario {sc.name}", highlight=False, soft_wrap=True)
    for net in sc.networks:
        i = lab.network_info(net.name)
        out.print(f"  network {net.name}: {i['cc']} {i['asn']}, namespace {i['namespace']}, client {i['client']}, "
                  f"resolver {i['resolver']}", highlight=False, soft_wrap=True)
    out.print(f"  lab CA: {lab.certs.ca_file}", highlight=False, soft_wrap=True)
    from censorwatch.lab.instance import CONTROL_URL, DOH_URL

    if lab.control is not None:
        out.print(f"  control server: {CONTROL_URL}  public DoH: {DOH_URL}", highlight=False, soft_wrap=True)
    first = sc.networks[0].name
    if collector is not None:
        from censorwatch.lab.world import COLLECTOR_NAME

        out.print(f"  collector host: http://{COLLECTOR_NAME}/ ({relay.URL}) relays to {collector}; probes submit "
                  f"with: censorwatch lab exec {first} -- censorwatch probe URL --lab --submit {relay.URL}",
                  highlight=False, soft_wrap=True)
    out.print(f"use it:  censorwatch lab exec {first} -- curl --cacert {lab.certs.ca_file} https://www.example.com/\n"
              f"         censorwatch lab exec {first} -- python -m censorwatch.lab.probe_entry < request.json\n"
              f"stop it: censorwatch lab down {run_id}", highlight=False, soft_wrap=True)
    if not foreground:
        lab.detach()
        return
    try:
        while lab.daemon is not None and lab.daemon.poll() is None:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        lab.down()


def _find(run_id: str | None) -> cleanup.RunInfo:
    live = [r for r in cleanup.runs() if r.alive and r.networks]
    if run_id:
        live = [r for r in live if r.run_id == run_id]
    if not live:
        raise _fail(f"no running lab world{' ' + run_id if run_id else ''} (start one with `censorwatch lab up`)")
    if len(live) > 1:
        raise _fail(f"several worlds run ({', '.join(r.run_id for r in live)}): pick one with --run")
    return live[0]


@lab_app.command("exec", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def exec_(
    ctx: typer.Context,
    network: Annotated[str, typer.Argument(help="Network name from the scenario.")],
    run_id: Annotated[str | None, typer.Option("--run", help="World id (when several run).")] = None,
) -> None:
    """Run a command inside a network of a running world: ``lab exec NETWORK -- CMD...``."""
    _root()
    cmd = [a for a in ctx.args if a != "--"] if ctx.args[:1] == ["--"] else list(ctx.args)
    if not cmd:
        raise _fail("no command given: lab exec NETWORK -- CMD ...")
    info = _find(run_id)
    if network not in info.networks:
        raise _fail(f"world {info.run_id} has no network {network!r} (networks: {', '.join(info.networks)})")
    from censorwatch.lab.topology import Topology

    ns = Topology(info.run_id, info.networks).isp(info.networks.index(network))
    os.execvp("ip", ["ip", "netns", "exec", ns, *cmd])


@lab_app.command("down")
def down(run_id: Annotated[str | None, typer.Argument(help="World id; default: every `lab up` world.")] = None) -> None:
    """Stop worlds started with ``lab up``."""
    _root()
    targets = [r for r in cleanup.runs() if r.detached and (run_id is None or r.run_id == run_id)]
    if run_id and not targets:
        raise _fail(f"no `lab up` world {run_id}")
    for r in targets:
        problems = cleanup.remove(r)
        out.print(f"stopped {r.run_id}" + (f" (problems: {'; '.join(problems)})" if problems else ""),
                  highlight=False, soft_wrap=True)
    if not targets:
        out.print("no `lab up` world is running")


@lab_app.command("clean")
def clean(run_ids: Annotated[list[str] | None, typer.Argument(
              help="Only these worlds (ids from `lab list`); default: every world on this machine.")] = None,
          everything: Annotated[bool, typer.Option("--all", help="Also remove worlds whose owner is alive.")] = False
          ) -> None:
    """Remove leftovers of dead runs: namespaces (with their veths and rules), processes, state files."""
    _root()
    removed, problems = cleanup.clean(everything=everything, only=set(run_ids) if run_ids else None)
    out.print(f"removed {len(removed)} world(s)" + (f": {', '.join(removed)}" if removed else ""), highlight=False, soft_wrap=True)
    for p in problems:
        console.print(f"[yellow]warning:[/yellow] {p}", highlight=False, soft_wrap=True)
    if problems:
        raise typer.Exit(1)


@lab_app.command("list")
def list_() -> None:
    """List the lab worlds on this machine."""
    for r in cleanup.runs():
        state = "up (lab up)" if r.detached and r.alive else "running" if r.alive else "dead (lab clean)"
        out.print(f"{r.run_id}  {state:<16}  networks: {', '.join(r.networks) or '?'}  "
                  f"namespaces: {len(r.namespaces)}", highlight=False, soft_wrap=True)

