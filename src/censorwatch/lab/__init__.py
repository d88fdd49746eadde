"""The lab: a censored internet built from Linux network namespaces, real sockets and real kernels.

``scenario`` parses and validates scenario files, ``world`` holds the default world, ``topology``
builds namespaces, ``daemon`` serves the world and runs every censor, ``instance`` ties them together
with guaranteed teardown, ``runner`` runs scenarios through the probe.
"""

from __future__ import annotations

from censorwatch.lab.errors import LabError, NeedRoot, ScenarioError

__all__ = ["LabError", "NeedRoot", "ScenarioError"]
