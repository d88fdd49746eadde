"""Time to alert, and the dashboard while the observatory analyses.

Alert runs (root: lab worlds): each run starts an observatory (defaults: analysis every 60 s, sooner
when new measurements arrive), a webhook receiver on loopback, and a lab world of three ISPs whose
probes measure https://x.com/ every M seconds each (at a random phase) and submit over the lab
network to the observatory's collector. After the warm-up, at T, the block is applied (TLS SNI reset
of x.com on all three networks, or on one); the script polls the observatory's API every second and
records T -> first blocked measurement stored, T -> incident on the dashboard (its API), T -> signed
webhook received, with the confidence the detector gave when it first fired. A run of the same length
with no block counts false alerts (any webhook alert at all). Runs go in parallel, each world and
observatory of its own.

Dashboard run (no root needed): a store of simulated measurements (censorwatch simulate, ingested and
analysed), the observatory on it, new measurements streaming into its collector so that it analyses
again and again, and a separate process fetching dashboard pages in a loop; each request is timed and
set against the analysis passes in the observatory's log.

    sudo PYTHONPATH=src python benchmarks/live.py --alert [--every 60] [--warmup 300] [--after 360]
        [--runs 3] [--one-network-runs 3] [--quiet-runs 2]
    PYTHONPATH=src python benchmarks/live.py --dashboard [--days 14] [--scale 8] [--rate 20] [--duration 180]

Without --alert or --dashboard: both (the alert part only as root).

Results go to benchmarks/results/live.md (each part replaces its own section).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as dt
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from censorwatch.observatory.client import Client, Spawned  # noqa: E402
from censorwatch.observatory.receiver import Receiver  # noqa: E402

TOKEN = "benchmark-admin-token"
NETWORKS = [{"name": "ptcl", "cc": "PK", "asn": "AS17557"}, {"name": "nayatel", "cc": "PK", "asn": "AS23674"},
            {"name": "jazz", "cc": "PK", "asn": "AS45669"}]
RESULTS = ROOT / "benchmarks" / "results" / "live.md"


def observatory(db: Path, *extra: str) -> tuple[Spawned, Client]:
    env = {**os.environ, "CENSORWATCH_ADMIN_TOKEN": TOKEN, "PYTHONPATH": str(ROOT / "src")}
    svc = Spawned(db, ["--port", "0", "--collector-port", "0", "--collector-workers", "1", "--log-level", "info",
                       *extra], env=env)
    info = svc.start()
    return svc, Client(info.dashboard, TOKEN)


# ------------------------------------------------------------------------------------------- alert runs


def alert_run(name: str, blocked: list[str], every: float, warmup: float, after: float, work: Path) -> dict[str, Any]:
    from censorwatch.lab import relay, scenario
    from censorwatch.lab.instance import LabInstance
    from censorwatch.lab.probing import run_probe

    work.mkdir(parents=True, exist_ok=True)
    svc, client = observatory(work / "cw.duckdb")
    receiver = Receiver()
    out: dict[str, Any] = {"name": name, "blocked": blocked}
    try:
        hook = client.webhook_add(receiver.url, "PK", None)
        receiver.secret = hook["secret"]
        assert svc.info is not None
        sc = scenario.parse({"name": name, "networks": NETWORKS}, name)
        stop = threading.Event()
        measured = {n["name"]: 0 for n in NETWORKS}
        with LabInstance(sc) as lab:
            relay.start(lab, f"127.0.0.1:{svc.info.collector.rsplit(':', 1)[1]}")
            start = time.time()

            def probe(net: str) -> None:
                k, phase = 0, random.uniform(0, every)
                while not stop.wait(max(0.0, start + phase + k * every - time.time())):
                    sub = {"submit": relay.URL, "spool": str(work / "spool" / net), "submit_wait": 5}
                    try:
                        measured[net] += len(run_probe(lab, net, "web_connectivity", ["https://x.com/"], timeout=60,
                                                       url_deadline=20, submit=sub))
                    except Exception as exc:  # a failed round is a gap in the series, reported
                        out.setdefault("errors", []).append(f"{net}: {exc}")
                    k = max(k + 1, int((time.time() - start - phase) // every) + 1)

            threads = [threading.Thread(target=probe, args=(n["name"],), daemon=True) for n in NETWORKS]
            for t in threads:
                t.start()
            stop.wait(warmup)
            t_block = time.time()
            rules = scenario.rules([{"sni": "x.com", "action": "reset"}], "censor")
            for net in blocked:
                lab.apply(net, rules)
            if blocked:
                t_block = time.time()  # the rules are in force when apply returns
            out["T"] = t_block
            end = t_block + after
            since = dt.datetime.fromtimestamp(t_block - 5, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            while time.time() < end:
                now = time.time()
                if blocked and "stored" not in out:
                    page = client.json("GET", "/api/v1/measurements",
                                       params={"target": "x.com", "status": "anomaly", "since": since, "limit": 1})
                    if page["items"]:
                        out["stored"] = now - t_block
                if "incident" not in out:
                    incs = [i for i in client.incidents() if i["kind"] == "blocking" and i["target"] == "x.com"
                            and dt.datetime.fromisoformat(i["start"].replace("Z", "+00:00")).timestamp() >= start]
                    if incs:
                        out["incident"], out["incident_confidence"] = now - t_block, incs[0]["confidence"]
                        out["incident_rule"] = incs[0]["confidence_rule"]
                alerts = [d for d in receiver.deliveries if d.event == "started"]
                for d in alerts:
                    inc = d.payload.get("incident") or {}
                    if "webhook" not in out and inc.get("target") == "x.com" and inc.get("kind") == "blocking":
                        out["webhook"], out["webhook_confidence"] = d.received - t_block, inc.get("confidence")
                        out["webhook_verified"] = d.verified
                if blocked and all(k in out for k in ("stored", "incident", "webhook")):
                    break
                time.sleep(1.0)
            stop.set()
            for t in threads:
                t.join(90)
        out["measurements"] = sum(measured.values())
        out["alerts"] = [{"event": d.event, "target": (d.payload.get("incident") or {}).get("target"),
                          "kind": (d.payload.get("incident") or {}).get("kind"),
                          "confidence": (d.payload.get("incident") or {}).get("confidence"),
                          "at": d.received - t_block} for d in receiver.deliveries]
        expected = ("x.com",) if blocked else ()
        out["false_alerts"] = [a for a in out["alerts"] if a["event"] == "started"
                               and not (a["kind"] == "blocking" and a["target"] in expected)]
    finally:
        receiver.close()
        svc.stop()
    return out


def spread(xs: list[float]) -> str:
    if not xs:
        return "-"
    return f"{min(xs):.0f} / {statistics.median(xs):.0f} / {max(xs):.0f}"


RUNS = ROOT / "benchmarks" / "results" / "live-alert-runs.json"


def alert_section(a: argparse.Namespace) -> list[str]:
    """Run a batch, add its runs to ``RUNS`` (unless ``--fresh``), and summarise every batch recorded
    at this cadence (``--every``)."""
    from censorwatch.lab.errors import require_root

    require_root()
    work = Path(tempfile.mkdtemp(prefix="censorwatch-live-"))
    plan = [(f"all-{i}", [n["name"] for n in NETWORKS]) for i in range(a.runs)]
    plan += [(f"one-{i}", [NETWORKS[i % 3]["name"]]) for i in range(a.one_network_runs)]
    plan += [(f"quiet-{i}", []) for i in range(a.quiet_runs)]
    load0 = os.getloadavg()
    t0 = time.time()
    with concurrent.futures.ThreadPoolExecutor(len(plan)) as ex:
        runs = list(ex.map(lambda p: alert_run(p[0], p[1], a.every, a.warmup, a.after, work / p[0]), plan))
    batch = {"at": f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC", "every": a.every, "warmup": a.warmup,
             "after": a.after, "parallel": len(plan), "seconds": round(time.time() - t0),
             "load": [round(load0[0], 1), round(os.getloadavg()[0], 1)]}
    for r in runs:
        r["batch"] = batch["at"]
        r.pop("alerts_raw", None)
    old = [] if a.fresh or not RUNS.exists() else json.loads(RUNS.read_text())
    batches = [*old, {**batch, "runs": runs}]
    RUNS.write_text(json.dumps(batches, indent=1, default=str) + "\n")
    mine = [b for b in batches if b["every"] == a.every]
    every_run = [r for b in mine for r in b["runs"]]
    lines = [
        "## Time to alert",
        "",
        f"Command: `sudo PYTHONPATH=src python benchmarks/live.py --alert --every {a.every:g} --warmup {a.warmup:g} "
        f"--after {a.after:g} --runs N --one-network-runs N --quiet-runs N`. Each run: its own observatory with the "
        f"default settings (analysis every 60 s, sooner after new measurements), a lab world of 3 ISPs whose probes "
        f"measure https://x.com/ once every {a.every:g} s each and submit it over the lab network; {a.warmup:g} s of "
        f"history, then at T a TLS SNI reset of x.com; polled every second for {a.after:g} s. Times are seconds "
        "after T (min / median / max over the runs). Batches (all runs of a batch in parallel):",
        "",
        *[f"- {b['at']}: {b['parallel']} runs, {b['seconds']} s, load average {b['load'][0]} before, "
          f"{b['load'][1]} after" for b in mine],
        "",
        "| block | runs | T -> blocked measurement stored | T -> incident on the dashboard | T -> webhook received "
        "| confidence when it first fired | false alerts |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, prefix in (("all 3 networks", "all-"), ("1 network", "one-")):
        rs = [r for r in every_run if r["name"].startswith(prefix)]
        if not rs:
            continue
        conf = sorted({f"{r.get('incident_confidence')} ({r.get('incident_rule')})" for r in rs if "incident" in r})
        missed = sum(1 for r in rs if "webhook" not in r)
        lines.append(
            f"| {label} | {len(rs)} | {spread([r['stored'] for r in rs if 'stored' in r])} | "
            f"{spread([r['incident'] for r in rs if 'incident' in r])} | "
            f"{spread([r['webhook'] for r in rs if 'webhook' in r])}{f' ({missed} runs: none)' if missed else ''} | "
            f"{', '.join(conf) or '-'} | {sum(len(r['false_alerts']) for r in rs)} |")
    quiet = [r for r in every_run if r["name"].startswith("quiet-")]
    if quiet:
        minutes = sum(b["warmup"] + b["after"] for b in mine for r in b["runs"] if r["name"].startswith("quiet-")) / 60
        lines.append(f"| none ({minutes:.0f} min in all, 3 networks each) | {len(quiet)} | - | - | - | - | "
                     f"{sum(len(r['false_alerts']) for r in quiet)} (of {sum(len(r['alerts']) for r in quiet)} alerts) |")

    def f(r: dict[str, Any], k: str) -> str:
        return f"{r[k]:.0f}" if k in r else "-"

    lines += ["", "Per run:", "", "| batch | run | blocked | measurements | stored s | incident s | webhook s | "
              "confidence (webhook) | alerts | errors |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in every_run:
        lines.append(f"| {r['batch']} | {r['name']} | {', '.join(r['blocked']) or '-'} | {r.get('measurements', 0)} | "
                     f"{f(r, 'stored')} | {f(r, 'incident')} | {f(r, 'webhook')} | {r.get('webhook_confidence', '-')} | "
                     f"{', '.join(a['event'] + ' ' + str(a['target']) for a in r['alerts']) or '-'} | "
                     f"{len(r.get('errors', []))} |")
    lines += ["", f"Every run's record: `{RUNS.relative_to(ROOT)}`.", ""]
    return lines


# ------------------------------------------------------------------------------------------- dashboard


PAGES = ["/", "/country/PK", "/api/v1/home", "/api/v1/countries/PK", "/api/v1/incidents?limit=50",
         "/feeds/incidents.atom", "/api/v1/measurements?cc=PK&limit=50"]


def load_generator(base: str, urls: list[str], duration: float, out: Path) -> None:
    """(In its own process.) Fetch ``urls`` round-robin, one at a time, for ``duration`` seconds."""
    rows = []
    end = time.time() + duration
    with httpx.Client(base_url=base, timeout=60) as c:
        i = 0
        while time.time() < end:
            url = urls[i % len(urls)]
            t0 = time.time()
            r = c.get(url)
            rows.append((t0, time.time(), url, r.status_code))
            i += 1
    out.write_text(json.dumps(rows))


def _scenario(start: str, days: float, scale: float) -> str:
    src = (ROOT / "src/censorwatch/pipeline/simulate/scenarios/two-weeks.yaml").read_text()
    src = re.sub(r"^start: .*$", f"start: {start}", src, flags=re.M)
    src = re.sub(r"^days: .*$", f"days: {days:g}", src, flags=re.M)
    src = re.sub(r"rate: ([0-9.]+)", lambda m: f"rate: {float(m[1]) * scale:g}", src)
    return src


def cli(*args: str, timeout: float = 7200) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    subprocess.run([sys.executable, "-m", "censorwatch", *args], check=True, timeout=timeout, env=env,
                   stdout=subprocess.DEVNULL)


def dashboard_section(a: argparse.Namespace) -> list[str]:
    import gzip

    work = Path(tempfile.mkdtemp(prefix="censorwatch-live-dash-"))
    base, feed = work / "base.yaml", work / "feed.yaml"
    base.write_text(_scenario("2024-02-10T00:00:00Z", a.days, a.scale))
    feed.write_text(_scenario(f"{(dt.date(2024, 2, 10) + dt.timedelta(days=a.days)).isoformat()}T00:00:00Z", 2,
                              a.scale * 4))
    db = work / "cw.duckdb"
    t = time.time()
    cli("simulate", "--scenario", str(base), "--out", str(work / "base.jsonl.gz"))
    cli("simulate", "--scenario", str(feed), "--out", str(work / "feed.jsonl.gz"))
    cli("ingest", str(work / "base.jsonl.gz"), "--db", str(db))
    cli("analyze", "--db", str(db))
    built = time.time() - t
    svc, client = observatory(db)
    try:
        incs = client.incidents()
        inc = next((i["id"] for i in incs if i["end"] is None), incs[0]["id"] if incs else None)
        urls = PAGES + ([f"/incident/{inc}", f"/api/v1/incidents/{inc}"] if inc else [])
        stored0 = _measurements(client)
        lines_feed = gzip.decompress((work / "feed.jsonl.gz").read_bytes()).splitlines()
        assert svc.info is not None
        rows_file = work / "requests.json"
        load0 = os.getloadavg()
        gen = subprocess.Popen([sys.executable, __file__, "--load-generator", svc.info.dashboard, json.dumps(urls),
                                str(a.duration), str(rows_file)], env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
        sent = 0
        t0 = time.time()
        with httpx.Client(base_url=svc.info.collector, timeout=30) as col:
            while time.time() - t0 < a.duration and sent < len(lines_feed):
                due = int((time.time() - t0) * a.rate)
                while sent < min(due, len(lines_feed)):
                    col.post("/api/v1/measurements", content=lines_feed[sent])
                    sent += 1
                time.sleep(0.05)
        gen.wait(a.duration + 120)
        load1 = os.getloadavg()
        n_measurements = _measurements(client)
    finally:
        svc.stop()
    passes = _passes(svc.log)
    reqs = json.loads(rows_file.read_text())
    during = [(e - s) * 1000 for s, e, _u, _c in reqs if any(s < pe and e > ps for ps, pe in passes)]
    outside = [(e - s) * 1000 for s, e, _u, _c in reqs if not any(s < pe and e > ps for ps, pe in passes)]
    errors = sum(1 for *_x, c in reqs if c != 200)
    window = (reqs[0][0], reqs[-1][1]) if reqs else (0, 0)
    busy = sum(max(0.0, min(pe, window[1]) - max(ps, window[0])) for ps, pe in passes)
    durs = [pe - ps for ps, pe in passes if ps >= window[0] - 60]
    lines = [
        "## The dashboard while the observatory analyses",
        "",
        f"Command: `PYTHONPATH=src python benchmarks/live.py --dashboard --days {a.days:g} --scale {a.scale:g} "
        f"--rate {a.rate:g} --duration {a.duration:g}` ({dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; load average "
        f"{load0[0]:.1f} before, {load1[0]:.1f} after). The store: {stored0:,} measurements, the simulated corpus "
        f"of the two-weeks scenario over {a.days:g} days at {a.scale:g}x its rates, ingested and analysed "
        f"({built:.0f} s); {n_measurements:,} at the end. {sent:,} new measurements streamed "
        f"into the collector at {a.rate:g}/s for {a.duration:g} s, so the observatory analysed again and again "
        f"({len(durs)} passes of {spread(durs)} s min / median / max; analysing {100 * busy / max(1e-9, window[1] - window[0]):.0f} % "
        f"of the time). Meanwhile one client in its own process fetched {len(urls)} pages round-robin "
        "(home, country, incident, their APIs, the incident list, the feed, a measurement list), one request at a "
        "time, with the default page cache (cleared by every analysis pass).",
        "",
        "| requests | count | p50 ms | p95 ms | max ms |",
        "|---|---|---|---|---|",
    ]
    for label, xs in (("during an analysis pass", during), ("outside", outside), ("all", during + outside)):
        if xs:
            lines.append(f"| {label} | {len(xs)} | {_pct(xs, 50):.0f} | {_pct(xs, 95):.0f} | {max(xs):.0f} |")
    lines += ["", f"Non-200 answers: {errors}. Goal: p95 < 200 ms while the service analyses.", ""]
    return lines


def _measurements(client: Client) -> int:
    text = client.request("GET", "/metrics").text
    m = re.search(r"^censorwatch_observatory_measurements (\d+)$", text, re.M)
    return int(m[1]) if m else 0


def _pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(p / 100 * (len(xs) - 1)))]


def _passes(log: Path) -> list[tuple[float, float]]:
    """(start, end) wall times of the analysis passes, from the observatory's log."""
    out = []
    for line in log.read_text(errors="replace").splitlines():
        m = re.match(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) .*analysis pass took ([0-9.]+) s", line)
        if m:
            end = dt.datetime.strptime(m[1], "%Y-%m-%d %H:%M:%S,%f").timestamp()
            out.append((end - float(m[2]), end))
    return out


# ------------------------------------------------------------------------------------------- main


def write(section: str, lines: list[str]) -> None:
    text = RESULTS.read_text() if RESULTS.exists() else "# Live: time to alert, and the dashboard while analysing\n\n"
    parts = re.split(r"(?m)^(?=## )", text)
    head, sections = parts[0], {p.splitlines()[0]: p for p in parts[1:]}
    sections[section] = "\n".join(lines).rstrip() + "\n\n"
    order = ["## Time to alert", "## The dashboard while the observatory analyses"]
    RESULTS.write_text(head + "".join(sections[k] for k in order if k in sections))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--load-generator":
        load_generator(sys.argv[2], json.loads(sys.argv[3]), float(sys.argv[4]), Path(sys.argv[5]))
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--alert", action="store_true", help="the time-to-alert runs (root)")
    ap.add_argument("--dashboard", action="store_true", help="dashboard latency while analysing")
    ap.add_argument("--every", type=float, default=60.0, help="seconds between a network's measurements")
    ap.add_argument("--warmup", type=float, default=300.0)
    ap.add_argument("--after", type=float, default=360.0)
    ap.add_argument("--runs", type=int, default=3, help="runs with x.com blocked on all three networks")
    ap.add_argument("--one-network-runs", type=int, default=3, help="runs with x.com blocked on one network")
    ap.add_argument("--quiet-runs", type=int, default=2, help="runs without a block (false alerts)")
    ap.add_argument("--fresh", action="store_true", help="forget the batches recorded before")
    ap.add_argument("--days", type=float, default=14)
    ap.add_argument("--scale", type=float, default=8)
    ap.add_argument("--rate", type=float, default=20)
    ap.add_argument("--duration", type=float, default=180)
    a = ap.parse_args()
    if not (a.alert or a.dashboard):  # both (`make bench`); the alert runs need root for the lab
        a.dashboard, a.alert = True, os.geteuid() == 0
        if not a.alert:
            print("the time-to-alert runs need root (lab worlds): only the dashboard part runs", file=sys.stderr)
    if a.dashboard:
        lines = dashboard_section(a)
        write("## The dashboard while the observatory analyses", lines)
        print("\n".join(lines))
    if a.alert:
        lines = alert_section(a)
        write("## Time to alert", lines)
        print("\n".join(lines))


if __name__ == "__main__":
    main()
