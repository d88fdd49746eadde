"""Running the probe inside a lab network (a subprocess in the ISP namespace, so it sees that ISP's
resolv.conf, routes and censor) and classifying what it measured."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from censorwatch.lab import addresses as A
from censorwatch.lab.errors import LabError
from censorwatch.lab.instance import CONTROL_URL, LabInstance

SUPPORTED_TESTS = ("web_connectivity",)
PROBE_TIMEOUT = 120.0


def probe_request(lab: LabInstance, network: str, urls: list[str], url_deadline: float = 60.0) -> dict[str, Any]:
    net = lab.scenario.network(network)
    return {
        "urls": urls, "control_url": CONTROL_URL, "ca_file": str(lab.certs.ca_file),
        "public_resolver": f"{A.PUBLIC_RESOLVERS[0]}:53", "doh_url": f"https://{A.PUBLIC_RESOLVERS[0]}/dns-query",
        "cc": net.cc, "asn": net.asn, "url_deadline": url_deadline,
    }


def run_probe(lab: LabInstance, network: str, test: str, urls: list[str],
              timeout: float = PROBE_TIMEOUT, url_deadline: float = 60.0) -> list[dict[str, Any]]:
    if test not in SUPPORTED_TESTS:
        raise LabError(f"probe test {test!r} cannot run in the lab yet (supported: {', '.join(SUPPORTED_TESTS)})")
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join([src, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    cmd = lab.exec_cmd(network, [sys.executable, "-m", "censorwatch.lab.probe_entry"])
    try:
        p = subprocess.run(cmd, input=json.dumps(probe_request(lab, network, urls, url_deadline)), capture_output=True,
                           text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        raise LabError(f"the probe in {network} did not finish within {timeout:.0f}s") from None
    out = [json.loads(line) for line in p.stdout.splitlines() if line.strip().startswith("{")]
    errors = [o["error"] for o in out if "error" in o and len(o) == 1]
    if errors or p.returncode != 0:
        raise LabError(f"the probe in {network} failed ({p.returncode}): {errors or p.stderr.strip()[-1500:]}")
    return out


def classify(measurement: dict[str, Any]) -> dict[str, Any]:
    try:
        from censorwatch.analysis import classify as _classify
    except ImportError as exc:
        return {"error": f"censorwatch.analysis.classify is not available: {exc}"}
    from censorwatch.model.measurement import Measurement

    return _classify(Measurement.from_raw(measurement, source="lab")).to_dict()
