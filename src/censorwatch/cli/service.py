"""How commands reach a store that a running observatory holds: reads through its API, writes through
its admin API (with ``$CENSORWATCH_ADMIN_TOKEN``), or one sentence saying what to do instead."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import typer

from censorwatch.cli.app import console
from censorwatch.observatory.client import TOKEN_ENV, Client, ServiceError, running, token_from_env
from censorwatch.observatory.statefile import ServiceInfo
from censorwatch.store.paths import resolve_db_path

EXIT_SERVICE = 3
T = TypeVar("T")


def service_of(db: Path | None) -> ServiceInfo | None:
    """The observatory holding the store ``db`` (resolved as every command resolves it), if any."""
    return running(resolve_db_path(db))


def fail(message: str) -> typer.Exit:
    console.print(f"error: {message}", markup=False, soft_wrap=True, highlight=False)
    return typer.Exit(EXIT_SERVICE)


def held_by(info: ServiceInfo) -> str:
    return f"the observatory (pid {info.pid}, {info.dashboard}) holds this store"


def reader(info: ServiceInfo) -> Client:
    return Client(info.dashboard)


def admin(info: ServiceInfo) -> Client:
    """A client with the admin token, or exit with the sentence saying how to get one."""
    token = token_from_env()
    if token is None:
        raise fail(f"{held_by(info)}: set {TOKEN_ENV} to its admin token to do this through its admin API, "
                   "or stop it first")
    return Client(info.dashboard, token)


def refuse(info: ServiceInfo, instead: str) -> typer.Exit:
    """For what the service does itself, or cannot do for the CLI: say what to do instead."""
    return fail(f"{held_by(info)}; {instead}")


def call(fn: Callable[[], T]) -> T:
    """Run a request; a ``ServiceError`` becomes its one-sentence message and exit code 3."""
    try:
        return fn()
    except ServiceError as exc:
        raise fail(str(exc)) from None
