"""Layer 2: async network steps and the Web Connectivity experiment.

Library entry point (used by the CLI and in-process by the lab)::

    from censorwatch.probe import ProbeConfig, run
    measurements = await run(ProbeConfig(urls=[...], control_url=..., ca_files=[...], lab=True))
"""

from censorwatch.probe.config import ProbeConfig
from censorwatch.probe.runner import RunStats, build_context, run
from censorwatch.probe.timeouts import Timeouts
from censorwatch.probe.webconnectivity import measure

__all__ = ["ProbeConfig", "RunStats", "Timeouts", "build_context", "measure", "run"]
