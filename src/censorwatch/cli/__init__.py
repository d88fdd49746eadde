"""Layer 5: the command line. Thin: parses options and calls into the layers below.

Each command lives in its own module and registers itself on ``app`` when imported here.
"""

from __future__ import annotations

import importlib

from censorwatch.cli.app import app

_COMMAND_MODULES = [
    "censorwatch.cli.version",
    "censorwatch.cli.ingest",
    "censorwatch.cli.analyze",
    "censorwatch.cli.classify",
    "censorwatch.cli.events",
    "censorwatch.cli.simulate",
    "censorwatch.cli.probe",
    "censorwatch.cli.control",
]


def _load() -> None:
    for name in _COMMAND_MODULES:
        importlib.import_module(name)


def main() -> None:
    _load()
    app()


__all__ = ["app", "main"]
