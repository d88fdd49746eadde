"""The measurement simulator (``censorwatch simulate``): scenario -> OONI measurements + truth."""

from __future__ import annotations

from censorwatch.pipeline.simulate.generate import Stats, truth, write
from censorwatch.pipeline.simulate.scenario import Scenario, ScenarioError, load, parse

__all__ = ["Scenario", "ScenarioError", "Stats", "load", "parse", "truth", "write"]
