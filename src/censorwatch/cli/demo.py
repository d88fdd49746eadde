"""``censorwatch demo``: a Pakistan-like world with three ISPs on a compressed timeline."""

from __future__ import annotations

from typing import Annotated

import typer

from censorwatch.cli.app import app, console


@app.command()
def demo(
    minutes: Annotated[float, typer.Option(help="Length of the compressed timeline.")] = 3.0,
) -> None:
    """Run the demo world (needs root)."""
    from censorwatch.lab.demo import run_demo
    from censorwatch.lab.errors import LabError

    try:
        run_demo(minutes=minutes, console=console)
    except LabError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None
