"""The observatory's collector process: ``python -m censorwatch.observatory.intake SETTINGS_JSON PARENT_PID``.

The collector exactly as ``censorwatch collector serve`` runs it (the writer process and its HTTP
front-ends, or one process with ``workers`` 1), started by the observatory and dying with it
(``PR_SET_PDEATHSIG``), so a restarted observatory finds its port free."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> None:
    from censorwatch.collector.front import _die_with_parent

    args = argv if argv is not None else sys.argv[1:]
    settings, parent = json.loads(args[0]), int(args[1])
    _die_with_parent(parent)
    from censorwatch.collector.app import CollectorConfig
    from censorwatch.collector.server import serve

    logging.basicConfig(level=logging.WARNING, format="observatory collector %(process)d: %(levelname)s %(message)s")
    config = CollectorConfig(evidence_dir=Path(settings["evidence_dir"]), client_rate=settings["client_rate"],
                             client_burst=settings["client_burst"])
    serve(config, settings["host"], settings["port"], http="lean", workers=settings["workers"])


if __name__ == "__main__":
    main()
