"""``censorwatch serve``: the dashboard and JSON API."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from censorwatch.cli.app import app, console
from censorwatch.store.paths import resolve_db_path as resolve_db


@app.command()
def serve(
    db: Path | None = typer.Option(None, "--db", help="DuckDB store (default $CENSORWATCH_DB)"),
    host: str = typer.Option("127.0.0.1", "--host", help="address to listen on"),
    port: int = typer.Option(8000, "--port", min=1, max=65535),
    read_only: bool = typer.Option(False, "--read-only", help="open the store read-only (no admin writes, no alerts)"),
    base_url: str | None = typer.Option(None, "--base-url", help="public URL, used in alert payloads"),
    deliver_every: float | None = typer.Option(None, "--deliver-every", min=1.0,
                                               help="seconds between webhook alert rounds (off by default)"),
    cache_ttl: float = typer.Option(30.0, "--cache-ttl", min=0.0,
                                    help="seconds page data is cached (0: off); admin writes clear it"),
) -> None:
    """Serve the dashboard, JSON API (/api/v1, /docs) and Atom feed. Admin needs CENSORWATCH_ADMIN_TOKEN."""
    import uvicorn

    from censorwatch.cli import service
    from censorwatch.store.views import open_db
    from censorwatch.web.app import create_app

    path = resolve_db(db)
    info = service.service_of(path)
    if info is not None:
        raise service.refuse(info, f"its dashboard is already at {info.dashboard}")
    try:
        con = open_db(path, read_only=read_only)
    except (OSError, ValueError) as e:
        console.print(f"[red]error:[/red] {e}")
        raise typer.Exit(2) from None
    except Exception as e:  # held by another process (StoreError says by whom), or not a database
        console.print(f"error: {e}", markup=False, soft_wrap=True)
        raise typer.Exit(2) from None
    token = os.environ.get("CENSORWATCH_ADMIN_TOKEN") or None
    application = create_app(con, db_path=path, admin_token=token, read_only=read_only,
                             base_url=base_url or f"http://{host}:{port}", deliver_every=deliver_every,
                             cache_ttl=cache_ttl)
    console.print(f"serving {path} on http://{host}:{port} (admin {'enabled' if token else 'disabled'})")
    uvicorn.run(application, host=host, port=port, log_level="warning")
