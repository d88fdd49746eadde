"""``censorwatch control serve``: the OONI-protocol test helper (control server)."""

from __future__ import annotations

from pathlib import Path

import typer

from censorwatch.cli.app import app, console
from censorwatch.control import serve as control_serve
from censorwatch.control.asnmap import ASNMap
from censorwatch.control.helper import DEFAULT_DOH_URL, HelperConfig

control_app = typer.Typer(help="The control server (OONI test-helper protocol).", no_args_is_help=True)
app.add_typer(control_app, name="control")


@control_app.command("serve")
def serve_cmd(
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8443, "--port", min=0, max=65535),
    tls_cert: Path | None = typer.Option(None, "--tls-cert", help="PEM certificate (chain) for HTTPS."),
    tls_key: Path | None = typer.Option(None, "--tls-key", help="PEM private key for HTTPS."),
    lab_mode: bool = typer.Option(False, "--lab-mode",
                                  help="Lab: reach private/loopback addresses, 198.18.0.0/15 is public."),
    resolver: str | None = typer.Option(None, "--resolver", help="UDP resolver ip[:port] instead of DoH."),
    doh_url: str = typer.Option(DEFAULT_DOH_URL, "--doh-url", help="DoH resolver (the default)."),
    ca_file: list[Path] = typer.Option([], "--ca-file", help="Extra trust anchors for the targets."),
    asn_map: Path | None = typer.Option(None, "--asn-map", help="CSV network,asn,cc,as_name for clients."),
    max_concurrency: int = typer.Option(32, "--max-concurrency", min=1, max=4096),
    log_level: str = typer.Option("warning", "--log-level"),
) -> None:
    """Serve the test helper: POST / with {"http_request", "http_request_headers", "tcp_connect"}."""
    try:
        for p in [*ca_file, *(x for x in (tls_cert, tls_key) if x)]:
            if not p.is_file():
                raise ValueError(f"{p}: no such file")
        cfg = HelperConfig(lab=lab_mode, resolver=resolver, doh_url=doh_url, ca_files=list(ca_file),
                           asn_map=ASNMap.load(asn_map) if asn_map else None)
        srv = control_serve.server(cfg, tls_cert=tls_cert, tls_key=tls_key, max_concurrency=max_concurrency,
                                   log_level=log_level)
        sock = control_serve.bind(host, port)
    except (ValueError, OSError) as exc:
        console.print(f"[red]error:[/] {exc}", soft_wrap=True)
        raise typer.Exit(2) from None
    scheme = "https" if tls_cert else "http"
    bound = sock.getsockname()
    console.print(f"control server on {scheme}://{host}:{bound[1]}/ "
                  f"({'lab mode' if lab_mode else 'public destinations only'}, "
                  f"resolver {resolver or doh_url})")
    control_serve.run(srv, sock)
