"""Runs inside an ISP namespace (through ``nsrun``): reads a JSON probe request on stdin, prints one
measurement per line (and, when the request says where to submit, sends each to the collector:
``lab/submission.py``; then a last ``{"submission": ...}`` line).

Kept tiny so the probe's own code does the measuring (``censorwatch.probe.run``).
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from censorwatch.lab.entries import named
from censorwatch.probe import ProbeConfig, run


def main() -> int:
    req = json.loads(sys.stdin.read())
    config = ProbeConfig(
        urls=req["urls"], control_url=req["control_url"], ca_files=[Path(req["ca_file"])],
        trust_system=False, lab=True, public_resolver=req.get("public_resolver"), doh_url=req.get("doh_url"),
        system_resolver=req.get("system_resolver"), probe_cc=req.get("cc"), probe_asn=req.get("asn"), url_deadline=float(req.get("url_deadline", 60)),
    )
    from censorwatch.lab.submission import Submission

    async def measure() -> Submission:
        async with Submission(req) as sub:
            config.on_measurement = lambda m: sub.put_soon(named(m, req))
            for m in await run(config):
                print(json.dumps(named(m, req)), flush=True)
        return sub

    summary = asyncio.run(measure()).summary()
    if summary is not None:
        print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
