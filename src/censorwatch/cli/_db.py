"""Where the database is: ``--db``, else ``$CENSORWATCH_DB``, else the user data directory."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs


def resolve_db(db: Path | None) -> Path:
    if db is not None:
        return db
    env = os.environ.get("CENSORWATCH_DB")
    if env:
        return Path(env)
    return Path(platformdirs.user_data_dir("censorwatch")) / "censorwatch.duckdb"
