"""``censorwatch observatory``: the collector, the store loop and the dashboard as one service."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from censorwatch.cli.app import app, console, out
from censorwatch.observatory.config import CONFIG_ENV, SETTING


def _h(key: str) -> str:
    s = SETTING[key]
    return f"{s.help} [env {s.env}]" if s.env else s.help


@app.command("observatory")
def observatory(
    config: Path | None = typer.Option(None, "--config", help=f"TOML config file ([observatory] table) [env {CONFIG_ENV}]"),
    db: Path | None = typer.Option(None, "--db", help=_h("db")),
    host: str | None = typer.Option(None, "--host", help=_h("host")),
    port: int | None = typer.Option(None, "--port", help=_h("port")),
    base_url: str | None = typer.Option(None, "--base-url", help=_h("base_url")),
    collector_host: str | None = typer.Option(None, "--collector-host", help=_h("collector_host")),
    collector_port: int | None = typer.Option(None, "--collector-port", help=_h("collector_port")),
    collector_workers: int | None = typer.Option(None, "--collector-workers", help=_h("collector_workers")),
    analyze_every: float | None = typer.Option(None, "--analyze-every", help=_h("analyze_every")),
    analyze_min_gap: float | None = typer.Option(None, "--analyze-min-gap", help=_h("analyze_min_gap")),
    ingest_every: float | None = typer.Option(None, "--ingest-every", help=_h("ingest_every")),
    alerts_every: float | None = typer.Option(None, "--alerts-every", help=_h("alerts_every")),
    max_backoff: float | None = typer.Option(None, "--max-backoff", help=_h("max_backoff")),
    cache_ttl: float | None = typer.Option(None, "--cache-ttl", help=_h("cache_ttl")),
    fingerprints: Path | None = typer.Option(None, "--fingerprints", help=_h("fingerprints")),
    client_rate: float | None = typer.Option(None, "--client-rate", help=_h("client_rate")),
    client_burst: float | None = typer.Option(None, "--client-burst", help=_h("client_burst")),
    log_level: str | None = typer.Option(None, "--log-level", help=_h("log_level")),
    show_config: bool = typer.Option(False, "--show-config", help="Print the settings in force and where each came from; exit."),
) -> None:
    """Run the observatory: the collector takes measurements, one process stores, classifies and
    analyses them as they come (every --analyze-every seconds, sooner when new ones arrived), sends
    webhook alerts and serves the dashboard, JSON API, Atom feed, admin API, /healthz and /metrics.

    Settings: options, else environment variables, else the --config file, else the defaults
    (docs/observatory.md). SIGTERM or Ctrl-C stops it without losing anything acknowledged.
    Exit code: 0 stopped, 1 could not start, 2 bad settings.
    """
    import logging

    from censorwatch.observatory.config import ConfigError, resolve
    from censorwatch.observatory.service import Observatory, StartError

    options = {
        "db": db, "host": host, "port": port, "base_url": base_url, "collector_host": collector_host,
        "collector_port": collector_port, "collector_workers": collector_workers, "analyze_every": analyze_every,
        "analyze_min_gap": analyze_min_gap, "ingest_every": ingest_every, "alerts_every": alerts_every,
        "max_backoff": max_backoff, "cache_ttl": cache_ttl, "fingerprints": fingerprints,
        "client_rate": client_rate, "client_burst": client_burst, "log_level": log_level,
    }
    try:
        cfg = resolve(options, config_file=config)
    except ConfigError as exc:
        console.print(f"error: {exc}", markup=False, soft_wrap=True)
        raise typer.Exit(2) from None
    if show_config:
        table = Table("setting", "value", "from", title="observatory settings")
        for row in cfg.shown():
            table.add_row(*row)
        out.print(table)
        return
    logging.basicConfig(level=cfg.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per readiness check and webhook POST
    service = Observatory(cfg)
    try:
        service.run()
    except StartError as exc:
        console.print(f"error: {exc}", markup=False, soft_wrap=True)
        raise typer.Exit(1) from None
