"""Layer 5: the command line. Thin: parses options and calls into the layers below.

Each command lives in its own module and registers itself on ``app`` when imported here.
"""

from __future__ import annotations

import importlib

from censorwatch.cli.app import app

_COMMAND_MODULES = [
    "censorwatch.cli.version",
    "censorwatch.cli.serve",
    "censorwatch.cli.report",
    "censorwatch.cli.alerts",
    "censorwatch.cli.ingest",
    "censorwatch.cli.sync",
    "censorwatch.cli.analyze",
    "censorwatch.cli.classify",
    "censorwatch.cli.fingerprints",
    "censorwatch.cli.probe",
    "censorwatch.cli.control",
    "censorwatch.cli.lab",
    "censorwatch.cli.demo",
    "censorwatch.cli.events",
    "censorwatch.cli.simulate",
    "censorwatch.cli.collector",
    "censorwatch.cli.verify",
    "censorwatch.cli.platform",
    "censorwatch.cli.observatory",
    "censorwatch.cli.annotate",
]


def _load() -> None:
    for name in _COMMAND_MODULES:
        importlib.import_module(name)


def main() -> None:
    _load()
    app()


__all__ = ["app", "main"]
