"""Replace the simulator's hand-made templates with measurements the lab produced.

    censorwatch lab run $(python -m censorwatch.pipeline.simulate.from_lab --scenarios LAB_SCENARIO_DIR) \\
        --format json > lab.jsonl
    python -m censorwatch.pipeline.simulate.from_lab lab.jsonl [--out DIR]

``lab run`` prints one JSON line per scenario ``{"scenario", "network", "measurement", "verdict"}``.
Each outcome the simulator needs comes from one lab scenario (``SOURCES``); its measurement becomes the
template after the scenario's site is renamed to the template domain, and only if the lab's verdict has
the expected status (and method), so a broken lab run never becomes a silently wrong corpus.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import orjson

from censorwatch.pipeline.simulate.build_templates import DOMAIN
from censorwatch.pipeline.simulate.generate import TEMPLATES

#: template -> (lab scenario, expected status, expected method or None)
SOURCES: dict[str, tuple[str, str, str | None]] = {
    "ok": ("site-example-org", "ok", None),
    "tls_reset": ("action-reset-sni", "anomaly", "tls.reset"),
    "dns_nxdomain": ("action-dns-nxdomain", "anomaly", "dns.nxdomain"),
    "dns_bogon": ("resolver-bogon", "anomaly", "dns.bogon"),
    "tcp_timeout": ("action-drop-endpoint", "anomaly", "tcp.timeout"),
    "blockpage": ("action-blockpage-host", "confirmed", "http.blockpage"),
    "site_down": ("site-down-everywhere", "down", None),
    "control_failure": ("control-blocked", "failure", None),
}


def template_from_lab(line: dict[str, Any], name: str) -> dict[str, Any]:
    """The template for ``name`` from one ``lab run`` line; ValueError says why it cannot be used."""
    scenario, status, method = SOURCES[name]
    if line.get("scenario") != scenario:
        raise ValueError(f"{name}: expected scenario {scenario!r}, got {line.get('scenario')!r}")
    if "error" in line:
        raise ValueError(f"{name}: the lab could not run {scenario}: {line['error']}")
    v, m = line.get("verdict") or {}, line.get("measurement")
    if v.get("status") != status or (method is not None and v.get("method") != method):
        raise ValueError(f"{name}: {scenario} gave {v.get('status')}/{v.get('method')}, expected {status}/{method}")
    if not isinstance(m, dict) or not v.get("domain"):
        raise ValueError(f"{name}: {scenario} has no measurement or domain")
    text = orjson.dumps(m).decode().replace(str(v["domain"]), DOMAIN)
    out: dict[str, Any] = orjson.loads(text)
    out.pop("measurement_uid", None)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("lab_output", nargs="?", type=Path, help="JSON lines printed by `censorwatch lab run`")
    ap.add_argument("--out", type=Path, default=TEMPLATES)
    ap.add_argument("--scenarios", type=Path, help="print the scenario files to run from this directory")
    args = ap.parse_args(argv)
    if args.scenarios is not None:
        print(" ".join(str(args.scenarios / f"{s}.yaml") for s, _, _ in SOURCES.values()))
        return 0
    if args.lab_output is None:
        ap.error("give the lab output file (or --scenarios DIR)")
    lines = {}
    for i, raw in enumerate(args.lab_output.read_bytes().splitlines(), 1):
        if raw.strip():
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                print(f"{args.lab_output}:{i}: not JSON: {exc}", file=sys.stderr)
                return 2
            lines[obj.get("scenario")] = obj
    errors = 0
    for name, (scenario, _, _) in SOURCES.items():
        try:
            if scenario not in lines:
                raise ValueError(f"{name}: {scenario} is not in {args.lab_output}")
            t = template_from_lab(lines[scenario], name)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            errors += 1
            continue
        (args.out / f"{name}.json").write_bytes(orjson.dumps(t, option=orjson.OPT_INDENT_2) + b"\n")
        print(f"{name}: from lab scenario {scenario}")
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
