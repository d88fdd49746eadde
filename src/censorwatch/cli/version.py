from __future__ import annotations

from censorwatch import __version__
from censorwatch.cli.app import app, out


@app.command()
def version() -> None:
    """Print censorwatch's version."""
    out.print(f"censorwatch {__version__}")
