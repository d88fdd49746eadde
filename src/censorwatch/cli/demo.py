"""``censorwatch demo`` (``make demo``): the observatory watching a censored lab world, live.

The observatory starts first (its dashboard URL is printed); a webhook receiver on loopback subscribes
to its alerts; then the lab's Pakistan-like world runs its timeline (lab/demo.py) while every probe
submits what it measures to the observatory's collector over the lab network. As the observatory
finds the block, the shutdown and the throttled VPNs, the demo shows each new incident as the
dashboard has it, each signed webhook alert and each Atom entry. At the end: the observatory's own
incidents and events, every measurement's receipt, an incident report whose inclusion proofs and
signed tree head are verified offline, and the findings held against the demo's own timeline.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Annotated, Any

import platformdirs
import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from censorwatch.cli.app import app, console, out

DASHBOARD_PORT = 8000
WIDE = 150  # the summary tables' width when the output is not a terminal
OBSERVATORY_ARGS = ["--analyze-every", "10", "--analyze-min-gap", "2", "--ingest-every", "0.5",
                    "--collector-port", "0", "--collector-workers", "1", "--cache-ttl", "5", "--log-level", "warning"]


def _port() -> int:
    """8000 when it is free, else any free port."""
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", DASHBOARD_PORT))
            return DASHBOARD_PORT
        except OSError:
            return 0


def _say(msg: str) -> None:
    console.print(msg, highlight=False, soft_wrap=True)


@app.command()
def demo(
    minutes: Annotated[float, typer.Option(min=1.0, max=120, help="Length of the timeline (real time).")] = 3.0,
    rounds: Annotated[int, typer.Option(min=4, max=400, help="Probing rounds per network.")] = 24,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Where measurements and the database go.")] = None,
    keep_serving: Annotated[bool, typer.Option("--keep-serving", help="Keep the observatory running at the end "
                                                                      "(until Ctrl-C).")] = False,
) -> None:
    """The observatory watching a Pakistan-like lab world with three ISPs, live: X gets blocked (SNI
    reset on two, DNS on the third), VPNs throttled, the mobile ISP goes dark; the probes submit
    everything to the observatory, which detects, alerts and documents it as it happens (needs root).

    Exit code: 0 every finding true and shown, proofs verified; 1 otherwise (what is wrong is printed);
    2 not root.
    """
    from censorwatch.lab.errors import LabError, NeedRoot, require_root
    from censorwatch.observatory.client import ServiceError

    try:
        require_root()
    except NeedRoot as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    out_dir = out_dir or Path(platformdirs.user_data_dir("censorwatch")) / "demo" / stamp
    out_dir.mkdir(parents=True, exist_ok=True)
    from censorwatch.lab.instance import install_handlers

    install_handlers()  # Ctrl-C / SIGTERM tear the world down even though it runs in a worker thread
    run = LiveDemo(out_dir, minutes, rounds)
    try:
        ok = run.run(keep_serving)
    except (LabError, ServiceError) as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        from censorwatch.lab.instance import teardown_all

        teardown_all()
        _say(f"interrupted: the world was torn down; measurements so far are in {run.jsonl}")
        raise typer.Exit(130) from None
    finally:
        run.close()
    raise typer.Exit(0 if ok else 1)


class LiveDemo:
    def __init__(self, out_dir: Path, minutes: float, rounds: int) -> None:
        from censorwatch.lab.demo import Demo

        self.out_dir = out_dir
        self.db = out_dir / "censorwatch.duckdb"
        self.jsonl = out_dir / "measurements.jsonl"
        self.token = secrets.token_urlsafe(24)
        self.service: Any = None
        self.receiver: Any = None
        self.watcher: Any = None
        self._file = self.jsonl.open("w", encoding="utf-8")
        self._lock = threading.Lock()
        self._error: BaseException | None = None
        self.problems: list[str] = []
        self._news: list[Any] = []
        self.minutes, self.rounds = minutes, rounds
        self.lab: Demo | None = None

    # -- set-up and tear-down ----------------------------------------------------------------------
    def start_observatory(self) -> Any:
        from censorwatch.observatory.client import Client, Spawned
        from censorwatch.observatory.receiver import Receiver
        from censorwatch.observatory.watch import Watcher

        env = {**os.environ, "CENSORWATCH_ADMIN_TOKEN": self.token}
        self.service = Spawned(self.db, ["--port", str(_port()), *OBSERVATORY_ARGS], env=env,
                               log=self.out_dir / "observatory.log")
        info = self.service.start()
        self.client = Client(info.dashboard, self.token)
        self.receiver = Receiver()
        hook = self.client.webhook_add(self.receiver.url, "PK", None)
        self.receiver.secret = hook["secret"]
        (self.out_dir / "log_key.json").write_bytes(
            Client(info.collector).request("GET", "/api/v1/log/key").content)
        self.watcher = Watcher(self.client, self.receiver)
        return info

    def close(self) -> None:
        self._file.close()
        if self.receiver is not None:
            self.receiver.close()
        if self.service is not None:
            self.service.stop()

    def keep(self, m: dict[str, Any]) -> None:
        with self._lock:
            self._file.write(json.dumps(m, ensure_ascii=False) + "\n")
            self._file.flush()

    # -- the run -----------------------------------------------------------------------------------
    def run(self, keep_serving: bool) -> bool:
        from censorwatch.lab.demo import Demo

        info = self.start_observatory()
        out.print(f"[bold]censorwatch demo[/bold]: the observatory is up; dashboard [link={info.dashboard}]"
                  f"{info.dashboard}[/link] (collector {info.collector}, store {self.db})", soft_wrap=True)
        _say(f"webhook alerts for PK go to {self.receiver.url} (a receiver that checks their signatures)")
        collector_port = info.collector.rsplit(":", 1)[1]
        self.lab = d = Demo(self.minutes, self.rounds, collector=f"127.0.0.1:{collector_port}",
                            spool=self.out_dir / "spool", on_measurement=self.keep,
                            on_log=lambda msg: _say(f"[cyan]demo[/cyan] {msg}"))
        _say(f"{self.minutes:g} min, {self.rounds} probing rounds per network, output in {self.out_dir}")
        worker = threading.Thread(target=self._lab, args=(d,), daemon=True)
        with Progress(TextColumn("measuring"), BarColumn(), TextColumn("{task.fields[n]} measurements"),
                      TimeRemainingColumn(), console=console, transient=True) as progress:
            task = progress.add_task("demo", total=d.total, n=0)
            t0 = time.monotonic()
            worker.start()
            while worker.is_alive():
                worker.join(timeout=2.0)
                progress.update(task, completed=min(d.total, time.monotonic() - t0), n=d.result.measurements)
                self.show(self.watcher.poll())
        if self._error is not None:
            raise self._error
        for e in d.result.errors[:10]:
            _say(f"[yellow]warning:[/yellow] {e}")
        self.finish()
        ok = self.summary()
        if keep_serving:
            _say(f"the observatory keeps serving {info.dashboard} (Ctrl-C to stop)")
            with contextlib.suppress(KeyboardInterrupt):
                while self.service.proc.poll() is None:
                    time.sleep(1)
        return ok

    def _lab(self, d: Any) -> None:
        try:
            d.run()
        except BaseException as exc:  # handed to the main thread, which reports it
            self._error = exc

    def show(self, news: list[Any]) -> None:
        self._news += news
        if self.lab is None or self.lab.truth is None:
            return  # the world is not up yet
        truth = self.lab.truth
        news, self._news = self._news, []
        for n in news:
            inc = n.incident
            when = f"+{_mmss(n.at - truth.start.timestamp())}"
            if n.kind in ("incident", "confidence", "ended", "withdrawn"):
                what = {"incident": "new incident", "confidence": f"confidence {n.detail}", "ended": "ended",
                        "withdrawn": "gone (later data no longer supports it)"}[n.kind]
                _say(f"[green]{when} dashboard[/green] {what}: {_incident_line(inc, truth)}  "
                     f"{self.client.base_url}/incident/{inc['id']}")
            elif n.kind == "webhook":
                d = n.delivery
                sig = "signature verified" if d.verified else "[red]BAD SIGNATURE[/red]"
                _say(f"[magenta]{when} webhook[/magenta] {n.detail} {inc.get('id')} "
                     f"({_target(inc) if inc.get('target') else 'outage'}, {inc.get('confidence')}): {sig}")
            elif n.kind == "feed":
                _say(f"[blue]{when} atom feed[/blue] new entry: {n.detail}")

    # -- the end -----------------------------------------------------------------------------------
    def finish(self) -> None:
        """Everything measured reaches the store and is analysed once more."""
        from censorwatch.lab.submission import drain

        assert self.lab is not None and self.service.info is not None
        left = 0
        for net in ("ptcl", "nayatel", "jazz"):
            spool = self.lab.spool_of(net)
            if spool is not None and spool.exists():
                left += asyncio.run(drain(self.service.info.collector, spool, 60.0))
        if left:
            self.problems.append(f"{left} measurements could not be delivered (still spooled)")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            h = self.client.health()["lag"]
            if h["stored"] >= h["log_size"]:
                break
            time.sleep(0.5)
        self.results = self.client.analyze()
        deadline = time.monotonic() + 15  # the alerts of the last pass
        while time.monotonic() < deadline:
            self.show(self.watcher.poll())
            pending = self.client.health()["lag"]["alerts_pending"]
            if not pending:
                break
            time.sleep(1)
        self.show(self.watcher.poll())

    def summary(self) -> bool:
        from censorwatch.lab.demo import check, missing

        assert self.lab is not None and self.lab.truth is not None
        truth = self.lab.truth
        incidents = self.client.incidents()
        events = self.client.events()
        table = Table(title="What the observatory found: its incidents (times from the start of the demo)")
        for col in ("kind", "target", "networks", "from", "until", "methods", "confidence (rule)", "measurements"):
            table.add_column(col)
        for i in incidents:
            table.add_row(i["kind"], _target(i), _networks(i, truth),
                          _rel(i["start"], truth), _rel(i["end"], truth) if i["end"] else "ongoing",
                          ", ".join(i["methods"]), f"{i['confidence']} ({i['confidence_rule']})",
                          str(i["measurements"]))
        _wide(table)
        table = Table(title="Its events (per network, and country-wide)")
        for col in ("kind", "target", "network", "from", "until", "method", "confidence", "detector"):
            table.add_column(col)
        for e in events:
            net = (e.get("network_name") or truth.name(e["asn"]) if e["asn"]
                   else "country: " + _networks(e, truth))
            table.add_row(e["kind"], _target(e), net, _rel(e["start"], truth),
                          _rel(e["end"], truth) if e["end"] else "ongoing", e["method"] or "-", e["confidence"],
                          e["detector"] + (f" ({e['details'].get('mode')})" if e["details"].get("mode") else ""))
        _wide(table)
        self.receipts()
        self.report(incidents)
        false = check([*incidents, *events], truth)
        gone = missing(incidents, truth)
        out.print("[bold]Against the demo's own timeline[/bold] (block at "
                  f"+{_mmss((truth.block - truth.start).total_seconds())}, {truth.dark_network} dark "
                  f"+{_mmss((truth.dark[0] - truth.start).total_seconds())} to "
                  f"+{_mmss((truth.dark[1] - truth.start).total_seconds())}):", soft_wrap=True)
        if not false:
            out.print(f"  no false finding: {len(incidents)} incidents and {len(events)} events, each explained "
                      "by what the demo did", soft_wrap=True)
        for f in false:
            out.print(f"  [red]FALSE FINDING[/red] {f}", soft_wrap=True)
        for g in gone:
            out.print(f"  [red]NOT FOUND[/red] {g}", soft_wrap=True)
        alerts = [d for d in self.receiver.deliveries if d.event == "started"]
        if not alerts or not all(d.verified for d in self.receiver.deliveries):
            self.problems.append("no signed webhook alert arrived" if not alerts else "a webhook had a bad signature")
        for p in self.problems:
            out.print(f"  [red]PROBLEM[/red] {p}", soft_wrap=True)
        out.print(f"\nmeasurements  {self.jsonl}\ndatabase      {self.db}\nrevisit with  censorwatch observatory "
                  f"--db {self.db}   (or: censorwatch incidents --db {self.db})", soft_wrap=True, highlight=False)
        return not (false or gone or self.problems)

    def receipts(self) -> None:
        assert self.lab is not None
        measured = sum(1 for _ in self.jsonl.open())
        uids: set[str] = set()
        pending = rejected = 0
        for net in ("ptcl", "nayatel", "jazz"):
            spool = self.lab.spool_of(net)
            if spool is None or not spool.exists():
                continue
            uids |= {p.stem for p in (spool / "receipts").glob("*.json")}
            pending += sum(1 for p in (spool / "pending").glob("*.json") if not p.name.startswith("."))
            rejected += sum(1 for _ in (spool / "rejected").glob("*.json"))
        stored = sum(1 for u in uids
                     if self.client.request("GET", f"/api/v1/measurements/{u}").status_code == 200)
        line = (f"{measured} measurements, {len(uids)} receipts from the collector's log ({pending} still spooled, "
                f"{rejected} rejected), {stored} of them in the store")
        if measured == len(uids) == stored and not pending and not rejected:
            out.print(f"[bold]Evidence[/bold]: {line}: every measurement has a receipt", soft_wrap=True)
        else:
            self.problems.append(f"receipts: {line}")

    def report(self, incidents: list[dict[str, Any]]) -> None:
        from censorwatch.lab.demo import is_x

        xs = sorted((i for i in incidents if i["kind"] == "blocking" and is_x(i["target"])),
                    key=lambda i: -i["measurements"])
        if not xs:
            return
        inc = xs[0]
        path = self.out_dir / f"incident-{inc['id']}.json"
        path.write_bytes(self.client.report(inc["id"], "json"))
        (self.out_dir / f"incident-{inc['id']}.md").write_bytes(self.client.report(inc["id"], "md"))
        cmd = ["verify", "report", str(path), "--key", str(self.out_dir / "log_key.json"),
               "--measurements", str(self.jsonl)]
        out.print(f"[bold]Incident report[/bold] {path} (and .md), checked offline: censorwatch {' '.join(cmd)}",
                  soft_wrap=True, highlight=False)
        res = subprocess.run([sys.executable, "-m", "censorwatch", *cmd], capture_output=True, text=True,
                             timeout=300, env={**os.environ, "NO_COLOR": "1"})
        for line in res.stdout.splitlines():
            out.print(f"  {line}", highlight=False, soft_wrap=True)
        if res.returncode != 0:
            self.problems.append(f"the report's proofs did not verify: {res.stderr.strip()[-300:]}")


def _wide(renderable: Any) -> None:
    """Tables at full width also when the output is a file or a pipe (rich assumes 80 columns)."""
    from rich.console import Console

    (out if out.is_terminal else Console(width=WIDE, no_color=True)).print(renderable)


def _mmss(seconds: float) -> str:
    s = max(0, round(seconds))
    return f"{s // 60}:{s % 60:02d}"


def _rel(iso: str | None, truth: Any) -> str:
    if not iso:
        return "-"
    t = dt.datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return f"+{_mmss((t - truth.start).total_seconds())}"


def _incident_line(inc: dict[str, Any], truth: Any) -> str:
    what = f"{_target(inc)} blocked" if inc["kind"] == "blocking" else "network outage"
    nets = _networks(inc, truth)
    return (f"{what} in {inc['cc']} on {nets} ({', '.join(inc.get('methods') or [])}; {inc['confidence']}, "
            f"{inc['confidence_rule']})")


def _target(x: dict[str, Any]) -> str:
    """The target as the product names it (``X``, ``WireGuard 198.18.5.1:51820``), else as stored."""
    return str(x.get("target_name") or x.get("target") or "-")


def _networks(x: dict[str, Any], truth: Any) -> str:
    """The networks of an incident or event as the product names them, else by the lab's names."""
    names = x.get("network_names") or [None] * len(x.get("asns") or [])
    return ", ".join(n or truth.name(a) for a, n in zip(x.get("asns") or [], names, strict=False))
