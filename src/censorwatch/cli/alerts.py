"""``censorwatch alerts``: webhooks that receive signed JSON when incidents start, change or end."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from censorwatch.cli import service
from censorwatch.cli.app import app, console, out
from censorwatch.store.paths import resolve_db_path as resolve_db

alerts_app = typer.Typer(help="Webhook alerts for incidents (HMAC-SHA256 signed JSON POSTs).", no_args_is_help=True)
app.add_typer(alerts_app, name="alerts")

DbOpt = typer.Option(None, "--db", help="DuckDB store (default $CENSORWATCH_DB)")


def _open(db: Path | None):  # type: ignore[no-untyped-def]
    from censorwatch.store.views import open_db

    try:
        return open_db(resolve_db(db))
    except Exception as e:
        console.print(f"[red]error:[/red] {e}")
        raise typer.Exit(2) from None


@alerts_app.command("add")
def add(
    url: str = typer.Argument(..., help="http(s) URL that receives the POSTs"),
    cc: str | None = typer.Option(None, "--cc", help="only incidents in this country"),
    target: str | None = typer.Option(None, "--target", help="only incidents about this domain"),
    db: Path | None = DbOpt,
) -> None:
    """Add a webhook; prints its id and secret (keep the secret: it verifies signatures)."""
    from censorwatch.report.render import safe_url
    from censorwatch.store import alerts as store_alerts
    from censorwatch.store.views import BadQuery
    from censorwatch.web import params

    if safe_url(url) is None:
        console.print(f"[red]error:[/red] URL: only http(s) URLs, got {url!r}")
        raise typer.Exit(2)
    try:
        c, t = params.cc(cc, "--cc"), params.target(target, "--target")
    except BadQuery as e:
        console.print(f"[red]error:[/red] {e}")
        raise typer.Exit(2) from None
    info = service.service_of(db)
    if info is not None:
        with service.admin(info) as client:
            hook = service.call(lambda: client.webhook_add(url, c, t))
    else:
        con = _open(db)
        hook = store_alerts.add_webhook(con, url, c, t)
        con.close()
    out.print(f"webhook {hook['id']} -> {url}")
    out.print(f"secret {hook['secret']}")


@alerts_app.command("list")
def list_(db: Path | None = DbOpt) -> None:
    """List webhooks with their delivery counts."""
    from censorwatch.store import alerts as store_alerts

    info = service.service_of(db)
    if info is not None:
        with service.admin(info) as client:
            rows = service.call(client.webhooks)
    else:
        con = _open(db)
        rows = store_alerts.list_webhooks(con)
        con.close()
    table = Table("id", "url", "cc", "target", "delivered", "failed", "pending")
    for r in rows:
        table.add_row(str(r["id"]), r["url"], r["cc"] or "*", r["target"] or "*", str(r["delivered"]),
                      str(r["failed"]), str(r["pending"]))
    out.print(table)


@alerts_app.command("remove")
def remove(webhook_id: int = typer.Argument(...), db: Path | None = DbOpt) -> None:
    """Remove (deactivate) a webhook; its delivery log is kept."""
    from censorwatch.store import alerts as store_alerts

    info = service.service_of(db)
    if info is not None:
        with service.admin(info) as client:
            service.call(lambda: client.webhook_remove(webhook_id))
        ok = True
    else:
        con = _open(db)
        ok = store_alerts.remove_webhook(con, webhook_id)
        con.close()
    if not ok:
        console.print(f"[red]error:[/red] no active webhook {webhook_id}")
        raise typer.Exit(1)
    out.print(f"removed webhook {webhook_id}")


@alerts_app.command("deliver")
def deliver(
    db: Path | None = DbOpt,
    base_url: str | None = typer.Option(None, "--base-url", help="dashboard URL for links in payloads"),
) -> None:
    """Queue alerts for incident changes and POST every due delivery (retries follow the backoff)."""
    from censorwatch.pipeline.alerts import deliver_alerts

    info = service.service_of(db)
    if info is not None:
        raise service.refuse(info, f"it delivers alerts itself after each analysis and every few seconds "
                             f"(`censorwatch analyze --db {resolve_db(db)}` runs a pass now)")
    con = _open(db)
    stats = deliver_alerts(con, base_url)
    con.close()
    out.print(f"queued {stats.queued}, attempted {stats.attempted}, delivered {stats.delivered}")


@alerts_app.command("log")
def log(webhook_id: int | None = typer.Option(None, "--webhook"), db: Path | None = DbOpt) -> None:
    """Show the newest deliveries."""
    from censorwatch.store import alerts as store_alerts

    info = service.service_of(db)
    if info is not None:
        with service.admin(info) as client:
            rows = service.call(lambda: client.deliveries(webhook_id))
    else:
        con = _open(db)
        rows = store_alerts.deliveries(con, webhook_id)
        con.close()
    table = Table("id", "webhook", "incident", "event", "status", "attempts", "last code", "last error", "next")
    for r in rows:
        table.add_row(str(r["id"]), str(r["webhook_id"]), r["incident_id"], r["event"], r["status"],
                      str(r["attempts"]), str(r["last_status_code"] or ""), r["last_error"] or "",
                      str(r["next_attempt_at"] or ""))
    out.print(table)
