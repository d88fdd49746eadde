"""Running the probe inside a lab network (a subprocess in the ISP namespace, so it sees that ISP's
resolv.conf, routes and censor) and classifying what it measured."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
from typing import Any

from censorwatch import analysis
from censorwatch.lab import addresses as A
from censorwatch.lab.entries import PLATFORM_ENTRY, PLATFORM_TESTS, PROBE_ENTRY, SUPPORTED_TESTS
from censorwatch.lab.errors import LabError
from censorwatch.lab.instance import CONTROL_URL, LabInstance
from censorwatch.lab.pool import POOL
from censorwatch.model.measurement import Measurement

PROBE_TIMEOUT = 120.0
PROBE_PRELOAD = f"{PROBE_ENTRY},censorwatch.probe"


def probe_request(lab: LabInstance, network: str, urls: list[str], url_deadline: float = 60.0,
                  submit: dict[str, Any] | None = None) -> dict[str, Any]:
    """The entry's request; ``submit`` = ``{"submit": URL, "spool": DIR[, "submit_wait": S]}`` makes
    the probe send each measurement to the collector too (``lab/submission.py``)."""
    net = lab.scenario.network(network)
    return {**(submit or {}),
        "urls": urls, "control_url": CONTROL_URL, "ca_file": str(lab.certs.ca_file),
        "public_resolver": f"{A.PUBLIC_RESOLVERS[0]}:53", "doh_url": f"https://{A.PUBLIC_RESOLVERS[0]}/dns-query",
        "cc": net.cc, "asn": net.asn, "network_name": net.name, "url_deadline": url_deadline,
        # the namespace's /etc/resolv.conf says the same; explicit because nsrun does not remount /etc
        "system_resolver": f"{A.isp_resolver(lab.topo.index(network))}:53",
    }


def run_probe(lab: LabInstance, network: str, test: str, urls: list[str],
              timeout: float = PROBE_TIMEOUT, url_deadline: float = 60.0,
              submit: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Measure ``urls`` from inside ``network`` (a pre-imported probe process from the warm pool);
    ``submit``: see ``probe_request``."""
    req = probe_request(lab, network, urls, url_deadline, submit)
    if test in SUPPORTED_TESTS:
        entry, preload = PROBE_ENTRY, PROBE_PRELOAD
    elif test in PLATFORM_TESTS:
        entry, preload = PLATFORM_ENTRY, f"{PLATFORM_ENTRY},censorwatch.probe"
        req.update({"test": test, "input": urls[0] if urls else None})
    else:
        known = ", ".join((*SUPPORTED_TESTS, *PLATFORM_TESTS))
        raise LabError(f"probe test {test!r} cannot run in the lab (supported: {known})")
    proc = POOL.take(preload)
    go = {"ns": lab.ns_of(network), "argv": [entry], "log": str(lab.topo.state_dir / f"probe-{network}.log")}
    try:
        stdout, _ = proc.communicate(json.dumps(go) + "\n" + json.dumps(req), timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise LabError(f"the probe in {network} did not finish within {timeout:.0f}s") from None
    out = [json.loads(line) for line in stdout.splitlines() if line.strip().startswith("{")]
    out = [o for o in out if not (len(o) == 1 and "submission" in o)]
    errors = [o["error"] for o in out if "error" in o and len(o) == 1]
    if errors or proc.returncode != 0:
        log = lab.topo.state_dir / f"probe-{network}.log"
        tail = log.read_text()[-1500:] if log.exists() else ""
        raise LabError(f"the probe in {network} failed ({proc.returncode}): {errors or tail.strip()}")
    return out


def classify(measurement: dict[str, Any]) -> dict[str, Any]:
    return analysis.classify(Measurement.from_raw(measurement, source="lab")).to_dict()
