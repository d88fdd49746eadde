"""Where the database lives: ``--db PATH``, else ``$CENSORWATCH_DB``, else the user's data directory."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

ENV_DB = "CENSORWATCH_DB"
DB_FILENAME = "censorwatch.duckdb"


def default_db_path() -> Path:
    """``<user data dir>/censorwatch/censorwatch.duckdb`` (``~/.local/share/...`` on Linux)."""
    return Path(platformdirs.user_data_dir()) / "censorwatch" / DB_FILENAME


def resolve_db_path(db: str | Path | None = None) -> Path:
    """The database file to use: the explicit path, the environment, or the default."""
    if db is not None and str(db) != "":
        return Path(db).expanduser()
    env = os.environ.get(ENV_DB)
    if env:
        return Path(env).expanduser()
    return default_db_path()
