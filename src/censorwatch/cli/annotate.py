"""``censorwatch annotate``: add a note, an official statement, a court filing or a link to an
incident, or mark it as a false positive (what the dashboard's admin API does)."""

from __future__ import annotations

from pathlib import Path

import typer

from censorwatch.cli import service
from censorwatch.cli.app import app, console, out
from censorwatch.store.alerts import ANNOTATION_KINDS
from censorwatch.store.paths import resolve_db_path


@app.command("annotate")
def annotate(
    incident_id: str = typer.Argument(..., help="incident id (as on /incident/{id})"),
    kind: str = typer.Option("note", "--kind", help=" | ".join(ANNOTATION_KINDS)),
    text: str | None = typer.Option(None, "--text", help="the note, statement or reason"),
    url: str | None = typer.Option(None, "--url", help="an http(s) link (e.g. the official statement)"),
    db: Path | None = typer.Option(None, "--db", help="DuckDB store (default $CENSORWATCH_DB)"),
) -> None:
    """Annotate an incident; ``--kind false_positive`` (or ``not_false_positive``) marks it (no alerts,
    left out of the feed). Through the observatory's admin API while it holds the store."""
    from censorwatch.report.render import safe_url

    if kind not in ANNOTATION_KINDS:
        console.print(f"error: --kind must be one of {', '.join(ANNOTATION_KINDS)}, not {kind!r}", markup=False)
        raise typer.Exit(2)
    if url is not None and safe_url(url) is None:
        console.print(f"error: --url: only http(s) links, got {url!r}", markup=False)
        raise typer.Exit(2)
    marking = kind in ("false_positive", "not_false_positive")
    if not marking and not text and not url:
        console.print("error: give --text or --url (or both)", markup=False)
        raise typer.Exit(2)
    info = service.service_of(db)
    if info is not None:
        with service.admin(info) as client:
            if marking:
                a = service.call(lambda: client.false_positive(incident_id, kind == "false_positive", text))
            else:
                a = service.call(lambda: client.annotate(incident_id, kind, text, url))
    else:
        from censorwatch.store import alerts as store_alerts
        from censorwatch.store.views import open_db

        try:
            con = open_db(resolve_db_path(db))
        except Exception as exc:
            console.print(f"error: {exc}", markup=False, soft_wrap=True)
            raise typer.Exit(3) from None
        try:
            if con.execute("SELECT 1 FROM incidents WHERE id = ?", [incident_id]).fetchone() is None:
                console.print(f"error: incident {incident_id!r} not found", markup=False)
                raise typer.Exit(1)
            a = store_alerts.add_annotation(con, incident_id, kind, text, None if marking else url)
        finally:
            con.close()
    out.print(f"annotation {a['id']} ({a['kind']}) added to {incident_id}")
