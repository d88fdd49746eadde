"""Self-contained incident reports: HTML (inline CSS and SVG), Markdown, and PDF via headless Chromium."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from censorwatch import __version__
from censorwatch.model.display import visible
from censorwatch.model.names import add_names
from censorwatch.report import proofs
from censorwatch.report.charts import Chart, stacked_bars
from censorwatch.report.render import environment, network, networks, ts
from censorwatch.store import views
from censorwatch.store.names import names as stored_names

FORMATS = ("html", "pdf", "md", "json")
EVIDENCE_IN_REPORT = 1000
CHROMIUM = "/usr/bin/chromium"

REPORT_CSS = """
body{font-family:Georgia,serif;max-width:52rem;margin:2rem auto;padding:0 1rem;color:#111;line-height:1.45}
h1{font-size:1.6rem}h2{font-size:1.2rem;border-bottom:1px solid #ccc;margin-top:2rem}
table{border-collapse:collapse;width:100%;font-size:.85rem}th,td{border:1px solid #ccc;padding:.2rem .4rem;
text-align:left;vertical-align:top}code,.mono{font-family:monospace;font-size:.8rem;word-break:break-all}
.legend{font-size:.8rem}.meta{color:#555;font-size:.85rem}
"""
#: The report's only stylesheet is inline; pages serving it allow exactly this hash and nothing else.
REPORT_CSS_HASH = "sha256-" + base64.b64encode(hashlib.sha256(REPORT_CSS.encode()).digest()).decode()


class ReportError(Exception):
    """The report cannot be produced (unknown incident, renderer failure); the message says why."""


@dataclass(slots=True)
class ReportData:
    incident: dict[str, Any]
    networks: list[dict[str, Any]]
    chart: Chart
    series: list[dict[str, Any]]
    evidence: list[dict[str, Any]]
    evidence_truncated: bool
    log: proofs.LogInfo | None
    generated_at: datetime
    rules_versions: list[str] = field(default_factory=list)


def build(con: duckdb.DuckDBPyConnection, incident_id: str, db_path: Path | None = None) -> ReportData:
    inc = views.incident(con, incident_id)
    if inc is None:
        raise ReportError(f"incident {incident_id!r}: not found")
    names = stored_names(con)
    add_names(inc, names)
    series = views.incident_series(con, inc)
    what = f"{inc['target_name']} in {inc['cc']}" if inc["target"] else f"network outage in {inc['cc']}"
    chart = stacked_bars(series, title=f"Evidence over time: {what}", start=inc["start_time"], end=inc["end_time"])
    page = views.incident_evidence(con, incident_id, limit=views.MAX_LIMIT)
    evidence: list[dict[str, Any]] = []
    while page is not None:
        evidence.extend(page.items)
        if page.next is None or len(evidence) >= EVIDENCE_IN_REPORT:
            break
        page = views.incident_evidence(con, incident_id, limit=views.MAX_LIMIT, cursor=page.next)
    truncated = len(evidence) > EVIDENCE_IN_REPORT or (page is not None and page.next is not None)
    evidence = evidence[:EVIDENCE_IN_REPORT]
    log = proofs.lookup(db_path, [e["measurement_uid"] for e in evidence]) if db_path else None
    rules = sorted({v for (v,) in con.execute(
        "SELECT DISTINCT rules_version FROM verdicts WHERE list_contains(?, measurement_uid)",
        [[e["measurement_uid"] for e in evidence]],
    ).fetchall()})
    return ReportData(inc, add_names(views.incident_networks(con, inc), names), chart, series,
                      add_names(evidence, names), truncated, log, datetime.now(UTC).replace(tzinfo=None), rules)


def render_html(data: ReportData) -> str:
    tpl = environment().get_template("report.html")
    return tpl.render(d=data, css=REPORT_CSS, version=__version__)


def _md(v: Any) -> str:
    """Markdown-safe text: no raw HTML, no link/emphasis/table syntax, no bidirectional controls
    (shown as ``[U+202E]``) from measurement data."""
    s = "" if v is None else visible(str(v))
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    for ch in "\\`*_[]|#!":
        s = s.replace(ch, "\\" + ch)
    return s.replace("\n", " ")


def render_md(data: ReportData) -> str:
    inc = data.incident
    what = f"{inc['target_name']} blocked in {inc['cc']}" if inc["target"] else f"Network outage in {inc['cc']}"
    L = [f"# Incident {_md(inc['id'])}: {_md(what)}", ""]
    L += [f"*Generated {ts(data.generated_at)} by censorwatch {__version__}.*", ""]
    if inc.get("false_positive"):
        L += ["**An administrator marked this incident as a false positive.**", ""]
    L += ["## Summary", "", "| | |", "|---|---|"]
    L += [f"| What | {_md(what)} |", f"| Networks | {_md(networks(inc['asns'], inc.get('network_names')))} |",
          f"| Since | {ts(inc['start_time'])} |", f"| Until | {ts(inc['end_time']) or 'ongoing'} |",
          f"| Method | {_md(', '.join(inc['methods'] or []))} |",
          f"| Confidence | {_md(inc['confidence'])} (rule {_md(inc['confidence_rule'])}) |",
          f"| Why | {_md(inc['confidence_reason'])} |", f"| Measurements | {inc['measurements']} |", ""]
    L += ["## Methodology", "", *[p.strip() for p in METHODOLOGY_MD], ""]
    L += ["## Timeline", "", "Measurements per bucket during and around the incident:", "",
          "| time | total | ok | anomaly | confirmed | down |", "|---|---|---|---|---|---|"]
    for r in data.series:
        L.append(f"| {ts(r['t'])} | {r['total']} | {r['ok']} | {r['anomaly']} | {r['confirmed']} | {r['down']} |")
    L += ["", "## Per network", "", "| network | total | ok | anomaly | confirmed | down | first | last |",
          "|---|---|---|---|---|---|---|---|"]
    for n in data.networks:
        L.append(f"| {_md(network(n['probe_asn'], n.get('network_name')))} | {n['total']} | {n['ok']} | {n['anomaly']} | {n['confirmed']} | "
                 f"{n['down']} | {ts(n['first'])} | {ts(n['last'])} |")
    if inc["annotations"]:
        L += ["", "## Annotations", ""]
        for a in inc["annotations"]:
            L.append(f"- {ts(a['created_at'])} {_md(a['kind'])}: {_md(a['text'])} {_md(a['url'] or '')}")
    L += ["", "## Evidence", "", "| measurement_uid | time | network | status | method | rule | log leaf |",
          "|---|---|---|---|---|---|---|"]
    for e in data.evidence:
        leaf = data.log.leaves.get(e["measurement_uid"]) if data.log else None
        L.append(f"| `{_md(e['measurement_uid'])}` | {ts(e.get('measurement_start_time'))} | "
                 f"{_md(network(e.get('probe_asn'), e.get('network_name')))} | {_md(e.get('status'))} | {_md(e.get('method'))} | "
                 f"{_md(e.get('rule'))} | {leaf.index if leaf else ''} |")
    if data.evidence_truncated:
        L.append(f"\nOnly the newest {EVIDENCE_IN_REPORT} evidence measurements are listed.")
    if data.log:
        L += ["", "## Transparency log", "", f"Tree size {data.log.tree_size}, root hash `{data.log.root_hash}`.",
              "", f"Signed tree head (base64): `{data.log.sth_b64}`"]
    L += ["", "## How to verify independently", "", *[p.strip() for p in VERIFY_MD], ""]
    return "\n".join(L)


METHODOLOGY_MD = [
    "Volunteers and our own probes run OONI's Web Connectivity test: they fetch the target from inside the "
    "country (DNS lookup, TCP connect, TLS handshake, HTTP request) while an uncensored control does the same.",
    "Each measurement gets a verdict from versioned rules (ids like `wc.dns.nxdomain`): *ok*, *anomaly* (differs "
    "from the control in a way censorship would cause), *confirmed* (a known blockpage or injected answer was "
    "seen), *down* (the site failed for the control too) or *failure* (the test itself failed).",
    "Detectors look for a lasting change per network and target, and group simultaneous changes into an "
    "incident. Confidence rises from *suspected* through *likely* to *confirmed* as independent measurements "
    "and networks agree; the rule that set the confidence and its reason are stated above.",
]

VERIFY_MD = [
    "1. Every measurement id above is OONI's `measurement_uid` (or censorwatch's content-derived id). Fetch the "
    "raw measurement from the OONI API or from this instance (`/api/v1/measurements/<uid>/raw`).",
    "2. Re-run the classification yourself: `censorwatch classify <file>` prints the verdict and the rule id; "
    "the rules version used is listed in this report.",
    "3. When a transparency-log leaf index is listed, the measurement was logged when it was received: recompute "
    "the leaf hash (SHA-256 of 0x00 followed by the canonical bytes), check the inclusion proof against the "
    "signed tree head (RFC 6962/9162), and compare that tree head with copies published by independent monitors.",
]


def render_pdf(html: str, out: Path, *, timeout: float = 90.0) -> None:
    """Print the HTML with headless Chromium (no network: the report has no external resources)."""
    with tempfile.TemporaryDirectory(prefix="censorwatch-report-") as tmp:
        src = Path(tmp) / "report.html"
        src.write_text(html, encoding="utf-8")
        cmd = [
            CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={tmp}/profile", "--no-pdf-header-footer", f"--print-to-pdf={out}",
            src.as_uri(),
        ]
        try:
            proc = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
        except FileNotFoundError:
            raise ReportError(f"{CHROMIUM}: not found (needed for PDF output)") from None
        except subprocess.TimeoutExpired:
            raise ReportError(f"chromium did not finish the PDF within {timeout:.0f}s") from None
        if proc.returncode != 0 or not out.exists() or out.stat().st_size == 0:
            tail = proc.stderr.decode(errors="replace")[-400:]
            raise ReportError(f"chromium failed to print the PDF (exit {proc.returncode}): {tail}")


PROOFS_FORMAT = "censorwatch-incident-proofs/1"


def render_json(data: ReportData) -> bytes:
    """The report as data, with what ``censorwatch verify report`` checks offline: the signed tree head
    as the log signed it and, per evidence measurement in the log, its leaf and inclusion proof."""
    import orjson

    def when(v: Any) -> Any:
        return ts(v) if isinstance(v, datetime) else v

    inc = {k: when(v) for k, v in data.incident.items() if k not in ("annotations",)}
    inc["annotations"] = [{k: when(v) for k, v in a.items()} for a in data.incident.get("annotations") or []]
    log: dict[str, Any] | None = None
    if data.log is not None:
        sth = json.loads(base64.b64decode(data.log.sth_b64)) if data.log.sth_b64 else None
        log = {
            "tree_size": data.log.tree_size, "root_hash": data.log.root_hash, "sth": sth,
            "proofs": [{"measurement_uid": uid, "leaf_index": p.index, "leaf_hash": p.leaf_hash,
                        "tree_size": data.log.tree_size, "audit_path": p.audit_path}
                       for uid, p in sorted(data.log.leaves.items(), key=lambda kv: kv[1].index)],
        }
    doc = {
        "format": PROOFS_FORMAT, "generated_at": ts(data.generated_at), "censorwatch": __version__,
        "incident": inc, "networks": [{k: when(v) for k, v in n.items()} for n in data.networks],
        "rules_versions": data.rules_versions,
        "evidence": [{k: when(v) for k, v in e.items()} for e in data.evidence],
        "evidence_truncated": data.evidence_truncated, "log": log,
    }
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2, default=str)


def render(data: ReportData, fmt: str) -> bytes:
    if fmt == "json":
        return render_json(data)
    if fmt == "html":
        return render_html(data).encode()
    if fmt == "md":
        return render_md(data).encode()
    if fmt == "pdf":
        with tempfile.TemporaryDirectory(prefix="censorwatch-pdf-") as tmp:
            out = Path(tmp) / "report.pdf"
            render_pdf(render_html(data), out)
            return out.read_bytes()
    raise ReportError(f"format: one of {', '.join(FORMATS)}, got {fmt!r}")
