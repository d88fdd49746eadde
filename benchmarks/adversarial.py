"""The adversarial pass over every entry point, with counts (issue 15's acceptance pass):

1. collector: the hostile corpus of raw HTTP requests (tests/fuzz/hostile.py) in rounds against each
   server mode (``--workers`` default, ``--workers 1``, ``--http uvicorn``) as real processes: empty
   replies (a dropped connection), 500s, 4xx without a reason, tracebacks in the log, front-end RSS per
   round, and whether the log still verifies with the pinned key;
2. control: SSRF attempts through the real control server (literal targets, probe endpoints, DNS
   answers, redirects) in every embedded-IPv4 form, and random non-public addresses: connections that
   reached a non-public address;
3. web: every hostile value in every query and path parameter of every GET route, over a store full
   of hostile strings: 500s, responses without the security headers, raw bidi controls shown;
4. files: malformed files of mutated records through the reader and ``ingest``: aborted files (a
   record neither stored nor reported), plus the peak RSS of ``ingest`` on a 1 GiB line (gzip) and a
   200 MB line;
5. kills: ``censorwatch ingest`` SIGKILLed at random moments, then run to the end: measurements lost,
   duplicated, or without a verdict;
6. tampering: an exported evidence log tampered with or reformatted in many ways, then ``verify log``:
   tamperings not detected (exit 0 on altered content), and what reformatting does.

    .venv/bin/python benchmarks/adversarial.py [--quick] [--results benchmarks/results/security.md]

Everything runs on loopback and in temporary directories. ``--quick`` runs each part small.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "src"), str(REPO / "tests"), str(REPO / "tests" / "probe")]

from censorwatch.model.display import BIDI_CONTROLS  # noqa: E402
from censorwatch.model.measurement import Measurement  # noqa: E402
from censorwatch.pipeline.ingest import ingest  # noqa: E402
from censorwatch.store.db import Store  # noqa: E402
from censorwatch.store.reader import ReadError, read_paths  # noqa: E402
from collector.helpers import CollectorProcess, cli, resign_export  # noqa: E402
from fuzz import hostile_store  # noqa: E402
from fuzz.hostile import (  # noqa: E402
    HOSTILE_QUERY_VALUES,
    exchange,
    hostile_bodies,
    hostile_raw_requests,
    huge_line_files,
    measurement,
    mutate,
    peak_rss_mb,
)

SECURITY = ("content-security-policy", "x-content-type-options", "referrer-policy", "x-frame-options")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def has_reason(body: bytes) -> bool:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return len(body.strip()) >= 10
    return isinstance(doc, dict) and bool(doc.get("reason") or doc.get("detail"))


# ----------------------------------------------------------------------------------------- collector
def collector_pass(tmp: Path, rounds: int) -> dict[str, Any]:
    modes = {"workers (default)": (), "--workers 1": ("--workers", "1"), "--http uvicorn": ("--http", "uvicorn")}
    out: dict[str, Any] = {}
    for name, flags in modes.items():
        d = tmp / f"collector-{len(out)}"
        d.mkdir()
        proc = CollectorProcess(d / "c.duckdb", None, "--client-rate", "0", *flags).start()
        c: Counter[str] = Counter()
        rss: list[list[float]] = []
        try:
            time.sleep(1.0)
            pids = proc.children() or [proc.proc.pid]  # type: ignore[union-attr]
            start = [rss_mb(p) for p in pids]
            for _ in range(rounds):
                for raw in hostile_raw_requests():
                    c["requests"] += max(1, raw.replies)
                    try:
                        replies, _ = exchange("127.0.0.1", proc.port, raw)
                    except OSError:
                        c["connection errors"] += 1
                        continue
                    c["empty replies"] += max(0, raw.replies - len(replies))
                    for rep in replies:
                        c[f"{rep.status // 100}xx"] += 1
                        if rep.status >= 500:
                            c["500s"] += 1
                        elif rep.status >= 400 and not has_reason(rep.body):
                            c["4xx without a reason"] += 1
                rss.append([rss_mb(p) for p in pids])
            key = d / "key.json"
            key.write_bytes(__import__("httpx").get(proc.url + "/api/v1/log/key", timeout=30).content)
            metrics = __import__("httpx").get(proc.url + "/metrics", timeout=30).text
        finally:
            proc.stop()
        rejected = sum(int(n) for n in re.findall(r'_rejected_total\{reason="[a-z_]+"\} (\d+)', metrics))
        exp = cli("collector", "export", str(d / "export"), "--db", str(d / "c.duckdb"), timeout=300)
        ver = cli("verify", "log", str(d / "export"), "--key", str(key), timeout=300)
        log = proc.log.read_text(errors="replace")
        out[name] = {**c, "rejected in /metrics": rejected, "tracebacks in the log": log.count("Traceback"),
                     "log lines": len(log.splitlines()), "log verifies": exp.returncode == 0 and ver.returncode == 0,
                     "RSS MB start": [round(x) for x in start], "RSS MB by round": [[round(x) for x in r] for r in rss]}
    return out


# ----------------------------------------------------------------------------------------- control
def control_pass(tmp: Path, random_attempts: int) -> dict[str, Any]:
    import httpx
    from controlnet import running_control
    from probenet import HTTP_SITE, start_net

    from control.test_control_fuzz import non_public
    from control.test_ssrf_embedded import ALL, METADATA_FORMS

    async def run() -> dict[str, Any]:
        import ssl

        net = await start_net(tmp)
        c: Counter[str] = Counter()
        try:
            rng = random.Random(152)
            addrs = list(ALL) + [non_public(rng) for _ in range(random_attempts)]
            before = sum(net.accepted.values())
            async with running_control(net, lab=False) as ctl, httpx.AsyncClient(
                    verify=ssl.create_default_context(cafile=str(ctl.ca_file)), timeout=60) as cl:
                for a in addrs:
                    host = f"[{a}]" if ":" in a else a
                    r = await cl.post(ctl.url, json={"http_request": f"http://{host}:{net.http_port}/"})
                    c["attempts"] += 1
                    c["literal target refused (403)"] += r.status_code == 403
                for i in range(0, len(addrs), 32):
                    chunk = addrs[i:i + 32]
                    assert net.th_dns is not None
                    net.th_dns.zone[f"adv{i}.test"] = chunk
                    eps = [f"[{a}]:{net.http_port}" if ":" in a else f"{a}:{net.http_port}" for a in chunk]
                    r = await cl.post(ctl.url, json={"http_request": net.url(f"adv{i}.test"), "tcp_connect": eps})
                    doc = r.json()
                    c["attempts"] += 2 * len(chunk)  # each address as an endpoint and as a DNS answer
                    c["reached (tcp_connect entries)"] += len(doc.get("tcp_connect") or {})
                    c["refused (x_refused)"] += len(doc.get("x_refused") or {})
            outside = sum(net.accepted.values()) - before
            async with running_control(net, lab=True) as ctl, httpx.AsyncClient(
                    verify=ssl.create_default_context(cafile=str(ctl.ca_file)), timeout=60) as cl:
                for a in METADATA_FORMS:
                    first = net.accepted.get(HTTP_SITE, 0)
                    target = quote(f"http://[{a}]/latest/meta-data/" if ":" in a else f"http://{a}/", safe="")
                    r = await cl.post(ctl.url, json={"http_request": net.url("ok.test", "/to/" + target)})
                    c["attempts"] += 1
                    failure = r.json()["http_request"]["failure"] or ""
                    c["redirect refused"] += "destination refused" in failure
                    c["connections past the first hop"] += net.accepted.get(HTTP_SITE, 0) - first - 1
        finally:
            await net.close()
        c["connections to non-public addresses (outside lab mode)"] = outside
        return dict(c)

    return asyncio.run(run())


# ----------------------------------------------------------------------------------------- web
def web_pass(tmp: Path, per_param: int) -> dict[str, Any]:
    from censorwatch.web import api, feeds, pages

    good = {"cc": "PK", "domain": "x.com", "incident_id": hostile_store.INCIDENT, "uid": hostile_store.fixture_db.HOSTILE_UID,
            "what": "verdicts", "fmt": "csv"}
    routes = [(r.path, [p.name for p in r.dependant.query_params], [p.name for p in r.dependant.path_params])
              for rt in (api.router, pages.router, feeds.router) for r in rt.routes if "GET" in r.methods]
    values = HOSTILE_QUERY_VALUES[:per_param]
    c: Counter[str] = Counter()

    def fill(p: str, names: list[str], hit: str | None = None, value: str = "") -> str:
        for n in names:
            v = quote(value, safe="") if n == hit else ("html" if n == "fmt" and "report" in p else good[n])
            p = p.replace("{" + n + "}", v)
        return p

    with hostile_store.serve(tmp / "h.duckdb") as client:
        def check(resp: Any) -> None:
            c["requests"] += 1
            c[f"{resp.status_code // 100}xx"] += 1
            c["500s"] += resp.status_code >= 500
            c["without security headers"] += not all(h in resp.headers for h in SECURITY)
            ctype = resp.headers.get("content-type", "")
            if not ctype.startswith("application/json") and "parquet" not in ctype:
                c["raw bidi controls shown"] += any(ch in BIDI_CONTROLS for ch in resp.text)

        for path_t, query, path_params in routes:
            base = fill(path_t, path_params)
            check(client.get(base))
            for name in query:
                for v in values:
                    check(client.get(base, params={name: v}))
            for name in path_params:
                for v in values:
                    check(client.get(fill(path_t, path_params, name, v)))
        check(client.get("/feeds/incidents.atom", headers={"Host": "attacker.invalid"}))
        c["Host header reflected in the feed"] = "attacker.invalid" in client.get(
            "/feeds/incidents.atom", headers={"Host": "attacker.invalid"}).text
    return dict(c)


# ----------------------------------------------------------------------------------------- files
def files_pass(tmp: Path, n_files: int, per_file: int, huge: bool) -> dict[str, Any]:
    rng = random.Random(75)
    hostile = [b for _, b in hostile_bodies(7) if b"\n" not in b and b.strip()]
    d = tmp / "files"
    d.mkdir()
    c: Counter[str] = Counter()
    kinds = ["jsonl", "jsonl.gz", "json", "ndjson", "json.gz"]
    with Store(d / "s.duckdb") as store:
        for k in range(n_files):
            lines = []
            for i in range(rng.randint(per_file // 2, per_file * 3 // 2)):
                good = orjson.dumps(measurement(k * 100_000 + i))
                r = rng.random()
                lines.append(good if r < 0.55 else mutate(rng, good) if r < 0.85 else rng.choice(hostile))
            kind = kinds[k % len(kinds)]
            f = d / f"f{k}.{kind}"
            body = b"\n".join(lines) + b"\n"
            f.write_bytes(gzip.compress(body, 1) if kind.endswith(".gz") else body)
            c["files"] += 1
            c["records"] += len(lines)
            located: set[int] = set()
            errors: list[ReadError] = []

            def tracked(items: Any, located: set[int] = located, f: Path = f) -> Any:
                for it in items:
                    src = it.source or ""
                    # "path" (a whole document), "path:N" or "path:N[i]" (an array element)
                    located.add(1 if src == str(f) else int(src[len(str(f)) + 1:].split("[")[0] or 0))
                    yield it

            try:
                stats = ingest(store, tracked(read_paths([f])), on_error=errors.append)
            except Exception as exc:  # an aborted file
                c["aborted files"] += 1
                print(f"  aborted: {f.name}: {exc!r}", file=sys.stderr)
                continue
            unlocated = {i + 1 for i, ln in enumerate(lines) if ln.strip()} - located
            if unlocated and not (kind.startswith("json") and not kind.startswith("jsonl") and len(errors) == 1):
                c["files with records neither stored nor reported"] += 1
            c["stored"] += stats.new
            c["duplicates"] += stats.duplicates
            c["reported (bad)"] += stats.bad
            c["conflicts"] += stats.conflicts
            c["errors without file:line"] += sum(1 for e in errors if not e.source.startswith(str(f)))
    out: dict[str, Any] = dict(c)
    if huge:
        out.update(_huge_lines(d))
    return out


def _huge_lines(d: Path) -> dict[str, Any]:
    gz, plain, small = huge_line_files(d, orjson.dumps(measurement(1)), orjson.dumps(measurement(2)))
    base, _ = peak_rss_mb("ingest", small, "--db", d / "base.duckdb")
    out: dict[str, Any] = {"ingest peak RSS MB, small file (baseline)": base}
    for f in (gz, plain):
        peak, err = peak_rss_mb("ingest", f, "--db", d / f"{f.stem}.duckdb")
        out[f"ingest peak RSS MB, {f.name} ({f.stat().st_size // 2**20} MB on disk)"] = peak
        out[f"{f.name} reported"] = next((ln for ln in err.splitlines() if ln.startswith(str(f))), "")[len(str(d)) + 1:]
    return out


# ----------------------------------------------------------------------------------------- kills
def kills_pass(tmp: Path, kills: int, count: int) -> dict[str, Any]:
    d = tmp / "kills"
    d.mkdir()
    corpus = d / "corpus.jsonl.gz"
    with gzip.open(corpus, "wb", compresslevel=1) as fh:
        for i in range(count):
            fh.write(orjson.dumps(measurement(i, test_keys={**measurement(i)["test_keys"], "pad": "x" * 2000})) + b"\n")
    db = d / "k.duckdb"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    rng = random.Random(10)
    c: Counter[str] = Counter()
    for _ in range(kills):
        p = subprocess.Popen([sys.executable, "-m", "censorwatch", "ingest", str(corpus), "--db", str(db),
                              "--batch-size", "500"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(1.0, 6.0))
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            c["SIGKILLed"] += 1
        p.wait()
    final = subprocess.run([sys.executable, "-m", "censorwatch", "ingest", str(corpus), "--db", str(db)],
                           env=env, capture_output=True, text=True, timeout=1800)
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        n, distinct = con.execute("SELECT count(*), count(DISTINCT measurement_uid) FROM measurements").fetchone()  # type: ignore[misc]
        no_verdict = con.execute("SELECT count(*) FROM measurements m ANTI JOIN verdicts v USING (measurement_uid)").fetchone()[0]  # type: ignore[index]
    with Store(db, read_only=True) as store:
        uids = [r[0] for r in store.con.execute("SELECT measurement_uid FROM measurements USING SAMPLE 50").fetchall()]
        unreadable = sum(1 for u in uids if (raw := store.raw(u)) is None or not Measurement.from_raw(orjson.loads(raw)))
    c.update({"final ingest exit": final.returncode, "expected": count, "stored": n, "lost": count - distinct,
              "duplicated": n - distinct, "without a verdict": no_verdict, "raw unreadable (sample of 50)": unreadable})
    return dict(c)


# ----------------------------------------------------------------------------------------- tampering
def tamper_pass(tmp: Path, entries: int) -> dict[str, Any]:
    import httpx

    d = tmp / "tamper"
    d.mkdir()
    proc = CollectorProcess(d / "t.duckdb", None, "--client-rate", "0", "--workers", "1").start()
    try:
        with httpx.Client(base_url=proc.url, timeout=30) as cl:
            for i in range(entries):
                assert cl.post("/api/v1/measurements", content=orjson.dumps(measurement(500 + i))).status_code == 201
            (d / "key.json").write_bytes(cl.get("/api/v1/log/key").content)
            (d / "sth-old.json").write_bytes(cl.get("/api/v1/log/sth").content)
            for i in range(3):
                cl.post("/api/v1/measurements", content=orjson.dumps(measurement(900 + i)))
            (d / "sth-new.json").write_bytes(cl.get("/api/v1/log/sth").content)
    finally:
        proc.stop()
    export = d / "export"
    assert cli("collector", "export", str(export), "--db", str(d / "t.duckdb")).returncode == 0
    leaves = (export / "leaves.jsonl").read_bytes().splitlines()
    rng = random.Random(58)
    cases: list[tuple[str, str, Any]] = []  # (kind: tamper|reformat|rollback, name, edit(dir))

    def lines_edit(which: str, fn: Any) -> Any:
        def edit(x: Path) -> None:
            p = x / which
            p.write_bytes(b"\n".join(fn(p.read_bytes().splitlines())) + b"\n")
        return edit

    for k in range(10):
        i, j = rng.randrange(len(leaves)), None

        def flip(ls: list[bytes], i: int = i, seed: int = k) -> list[bytes]:
            r = random.Random(seed)
            b = bytearray(ls[i])
            pos = r.randrange(len(b))
            b[pos] = (b[pos] + 1) % 128 or 65
            ls[i] = bytes(b)
            return ls
        cases.append(("tamper", f"one byte of entry {i}", lines_edit("leaves.jsonl", flip)))
    for i in rng.sample(range(len(leaves)), 5):
        cases.append(("tamper", f"entry {i} dropped", lines_edit("leaves.jsonl", lambda ls, i=i: ls[:i] + ls[i + 1:])))
    for _ in range(5):
        i, j = sorted(rng.sample(range(len(leaves)), 2))
        cases.append(("tamper", f"entries {i} and {j} swapped", lines_edit(
            "leaves.jsonl", lambda ls, i=i, j=j: [*ls[:i], ls[j], *ls[i + 1:j], ls[i], *ls[j + 1:]])))
    for i in rng.sample(range(len(leaves)), 5):
        cases.append(("tamper", f"entry {i} duplicated", lines_edit("leaves.jsonl", lambda ls, i=i: [*ls[:i + 1], ls[i], *ls[i + 1:]])))
    def set_field(ls: list[bytes], i: int, field: str, value: Any) -> list[bytes]:
        ls[i] = orjson.dumps({**orjson.loads(ls[i]), field: value})
        return ls

    for field, value in (("leaf_index", 0), ("leaf_hash", "00" * 32), ("measurement_uid", "x"), ("timestamp", 1),
                         ("signature", "AAAA")):
        cases.append(("tamper", f"receipt 3: {field} changed", lines_edit(
            "receipts.jsonl", lambda ls, f=field, v=value: set_field(ls, 3, f, v))))
    for field, value in (("root_hash", "11" * 32), ("tree_size", len(leaves) - 1), ("signature", "AAAA")):
        def sth(x: Path, field: str = field, value: Any = value) -> None:
            doc = orjson.loads((x / "sth.json").read_bytes())
            doc[field] = value
            (x / "sth.json").write_bytes(orjson.dumps(doc))
        cases.append(("tamper", f"tree head: {field} changed", sth))
    cases.append(("tamper", "leaves.jsonl cut mid-line", lambda x: (x / "leaves.jsonl").write_bytes(
        (x / "leaves.jsonl").read_bytes()[:-40])))
    cases.append(("tamper", "receipts.jsonl cut mid-line", lambda x: (x / "receipts.jsonl").write_bytes(
        (x / "receipts.jsonl").read_bytes()[:-40])))
    cases.append(("tamper", "last entry and receipt removed", lambda x: (lines_edit("leaves.jsonl", lambda ls: ls[:-1])(x),
                                                                          lines_edit("receipts.jsonl", lambda ls: ls[:-1])(x))))
    cases.append(("tamper", "leaves.jsonl emptied", lambda x: (x / "leaves.jsonl").write_bytes(b"")))
    cases.append(("tamper", "receipts.jsonl missing", lambda x: (x / "receipts.jsonl").unlink()))
    cases.append(("tamper", "sth.json not JSON", lambda x: (x / "sth.json").write_bytes(b"{nope")))

    def cc_to_ir(ls: list[bytes]) -> list[bytes]:
        ls[2] = ls[2].replace(b'"PK"', b'"IR"')
        return ls

    for alter in (True, False, True):
        cases.append(("forgery", f"re-signed with another key ({'altered' if alter else 'same entries'})",
                      lambda x, alter=alter: resign_export(x, cc_to_ir if alter else None)))
    for field, value in (("probe_cc", "IR"), ("input", "https://other.example/"), ("test_keys", {}),
                         ("measurement_start_time", "2024-02-18 10:00:00"), ("extra", 1)):
        cases.append(("tamper", f"entry 5: {field} changed", lines_edit(
            "leaves.jsonl", lambda ls, f=field, v=value: set_field(ls, 5, f, v))))
    cases.append(("tamper", "entry 5: a key removed", lines_edit("leaves.jsonl", lambda ls: [
        *ls[:5], orjson.dumps({k: v for k, v in orjson.loads(ls[5]).items() if k != "probe_asn"}), *ls[6:]])))
    cases.append(("tamper", "entry 5: an integer made a float", lines_edit("leaves.jsonl", lambda ls: [
        *ls[:5], ls[5].replace(b'"answers"', b'"n":1.0,"answers"', 1), *ls[6:]])))
    # reformatting: the same JSON values written another way (not tampering)
    cases.append(("reformat", "every entry with its keys reversed", lines_edit("leaves.jsonl", lambda ls: [
        json.dumps(dict(reversed(list(orjson.loads(x).items())))).encode() for x in ls])))
    cases.append(("reformat", "CRLF line ends", lambda x: (x / "leaves.jsonl").write_bytes(
        (x / "leaves.jsonl").read_bytes().replace(b"\n", b"\r\n"))))
    cases.append(("reformat", "spaces after separators", lines_edit("leaves.jsonl", lambda ls: [
        json.dumps(orjson.loads(x), separators=(", ", ": ")).encode() for x in ls])))
    cases.append(("reformat", "non-ASCII escaped (\\uXXXX)", lines_edit("leaves.jsonl", lambda ls: [
        json.dumps(orjson.loads(x), ensure_ascii=True).encode() for x in ls])))
    cases.append(("reformat", "entries pretty-printed over several lines", lambda x: (x / "leaves.jsonl").write_bytes(
        b"\n".join(orjson.dumps(orjson.loads(ln), option=orjson.OPT_INDENT_2) for ln in
                   (x / "leaves.jsonl").read_bytes().splitlines()) + b"\n")))
    cases.append(("reformat", "tree head pretty-printed", lambda x: (x / "sth.json").write_bytes(
        orjson.dumps(orjson.loads((x / "sth.json").read_bytes()), option=orjson.OPT_INDENT_2))))
    cases.append(("reformat", "receipts with keys reversed", lines_edit("receipts.jsonl", lambda ls: [
        json.dumps(dict(reversed(list(orjson.loads(x).items())))).encode() for x in ls])))
    # a rolled-back export (older, shorter, consistently signed): only a newer tree head you kept shows it
    cases.append(("rollback", "export rolled back to an older tree head", lambda x: (
        lines_edit("leaves.jsonl", lambda ls: ls[:entries])(x), lines_edit("receipts.jsonl", lambda ls: ls[:entries])(x),
        shutil.copyfile(d / "sth-old.json", x / "sth.json"))))
    while len(cases) < 58:
        i = rng.randrange(len(leaves))
        cases.append(("tamper", f"entry {i}: a digit changed", lines_edit("leaves.jsonl", lambda ls, i=i: [
            *ls[:i], re.sub(rb"\d", lambda m: str((int(m.group()) + 1) % 10).encode(), ls[i], count=1), *ls[i + 1:]])))
    c: Counter[str] = Counter()
    undetected = []
    for n, (kind, name, edit) in enumerate(cases):
        x = d / f"case{n}"
        shutil.copytree(export, x)
        edit(x)
        pinned = cli("verify", "log", str(x), "--key", str(d / "key.json"), timeout=300)
        c[f"{kind}: cases"] += 1
        if kind in ("tamper", "forgery"):
            if pinned.returncode in (1, 2):
                c[f"{kind}: detected or refused with the pinned key"] += 1
            else:
                undetected.append(name)
        if kind == "forgery":
            alone = cli("verify", "log", str(x), timeout=300)
            c[f"forgery without --key: exit {alone.returncode}"] += 1
        elif kind == "reformat":
            c[f"reformat: verifies (same values) with the pinned key: exit {pinned.returncode}"] += 1
        else:
            kept = cli("verify", "log", str(x), "--key", str(d / "key.json"), "--sth", str(d / "sth-new.json"),
                       timeout=300)
            c["rollback: passes against its own old tree head"] += pinned.returncode == 0
            c["rollback: detected against the newer tree head kept"] += kept.returncode in (1, 2)
    out: dict[str, Any] = dict(c)
    out["undetected tamperings"] = undetected
    return out


# ----------------------------------------------------------------------------------------- main
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="each part small (a smoke run)")
    ap.add_argument("--only", nargs="*", default=None,
                    help="run only these parts: collector control web files kills tamper")
    ap.add_argument("--results", type=Path, default=None, help="append the results (Markdown) to this file")
    args = ap.parse_args()
    q = args.quick
    parts = {
        "collector": lambda t: collector_pass(t, rounds=1 if q else 3),
        "control": lambda t: control_pass(t, random_attempts=10 if q else 110),
        "web": lambda t: web_pass(t, per_param=8 if q else len(HOSTILE_QUERY_VALUES)),
        "files": lambda t: files_pass(t, n_files=8 if q else 75, per_file=40 if q else 250, huge=not q),
        "kills": lambda t: kills_pass(t, kills=2 if q else 10, count=3000 if q else 20000),
        "tamper": lambda t: tamper_pass(t, entries=30),
    }
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    load0 = os.getloadavg()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="censorwatch-adversarial-") as tmp:
        for name, run in parts.items():
            if args.only and name not in args.only:
                continue
            t0 = time.monotonic()
            where = Path(tmp) / name
            where.mkdir()
            results[name] = run(where)
            results[name]["seconds"] = round(time.monotonic() - t0, 1)
            print(f"== {name} ({results[name]['seconds']} s)\n{json.dumps(results[name], indent=1, default=str)}",
                  flush=True)
    load1 = os.getloadavg()
    text = (f"\n## adversarial pass, {started} ({'--quick' if q else 'full'}), load average "
            f"{load0[0]:.1f} at start, {load1[0]:.1f} at the end\n\n"
            f"`.venv/bin/python benchmarks/adversarial.py{' --quick' if q else ''}`\n\n```json\n"
            f"{json.dumps(results, indent=1, default=str)}\n```\n")
    if args.results:
        with args.results.open("a", encoding="utf-8") as fh:
            fh.write(text)
    print(text)


if __name__ == "__main__":
    main()
