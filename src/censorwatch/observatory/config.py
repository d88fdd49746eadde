"""The observatory's settings: one table, read from options, then the environment, then a TOML file,
then the defaults (the first that has a value wins).

``SETTINGS`` is that table (docs/observatory.md shows it; a test keeps the two equal). Secrets (the
admin token) have no command-line option: command lines are visible to every user of the machine.
"""

from __future__ import annotations

import os
import stat
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from censorwatch.store.paths import default_db_path


class ConfigError(ValueError):
    """A setting is unusable; the message names it and where it came from."""


@dataclass(frozen=True, slots=True)
class Setting:
    key: str  # the TOML key and the config attribute
    env: str | None
    option: str | None
    kind: type
    help: str


def _positive(v: float) -> bool:
    return v > 0


SETTINGS: tuple[Setting, ...] = (
    Setting("db", "CENSORWATCH_DB", "--db", Path, "the DuckDB store; the evidence log lives beside it in `<db>.evidence/`"),
    Setting("host", "CENSORWATCH_OBSERVATORY_HOST", "--host", str, "address the dashboard and API listen on"),
    Setting("port", "CENSORWATCH_OBSERVATORY_PORT", "--port", int, "dashboard and API port (0: any free port)"),
    Setting("base_url", "CENSORWATCH_OBSERVATORY_BASE_URL", "--base-url", str,
            "public URL of the dashboard (links in alerts and the feed)"),
    Setting("collector_host", "CENSORWATCH_COLLECTOR_HOST", "--collector-host", str,
            "address the collector (probes' submissions) listens on"),
    Setting("collector_port", "CENSORWATCH_COLLECTOR_PORT", "--collector-port", int, "collector port (0: any free port)"),
    Setting("collector_workers", "CENSORWATCH_COLLECTOR_WORKERS", "--collector-workers", int,
            "collector HTTP front-end processes (1: the collector in one process)"),
    Setting("analyze_every", "CENSORWATCH_ANALYZE_EVERY", "--analyze-every", float,
            "seconds between analysis passes at the most"),
    Setting("analyze_min_gap", "CENSORWATCH_ANALYZE_MIN_GAP", "--analyze-min-gap", float,
            "new measurements start a pass sooner, but never sooner than this many seconds after the last"),
    Setting("ingest_every", "CENSORWATCH_INGEST_EVERY", "--ingest-every", float,
            "seconds between looks at the evidence log for new leaves"),
    Setting("alerts_every", "CENSORWATCH_ALERTS_EVERY", "--alerts-every", float,
            "seconds between webhook delivery rounds (retries) besides the one after each analysis"),
    Setting("max_backoff", "CENSORWATCH_MAX_BACKOFF", "--max-backoff", float,
            "longest wait before retrying a failed stage, seconds"),
    Setting("cache_ttl", "CENSORWATCH_CACHE_TTL", "--cache-ttl", float,
            "seconds dashboard page data is cached (each analysis pass clears it)"),
    Setting("fingerprints", "CENSORWATCH_FINGERPRINTS", "--fingerprints", Path,
            "folder of extra blocking fingerprints (as for `ingest`)"),
    Setting("admin_token", "CENSORWATCH_ADMIN_TOKEN", None, str,
            "bearer token of the admin API (unset: admin disabled); never on the command line"),
    Setting("client_rate", "CENSORWATCH_COLLECTOR_CLIENT_RATE", "--client-rate", float,
            "collector: submissions per second per client address (0: no limit)"),
    Setting("client_burst", "CENSORWATCH_COLLECTOR_CLIENT_BURST", "--client-burst", float,
            "collector: burst allowance per client address"),
    Setting("log_level", "CENSORWATCH_LOG_LEVEL", "--log-level", str, "debug, info, warning or error"),
)
SETTING = {s.key: s for s in SETTINGS}
CONFIG_ENV = "CENSORWATCH_OBSERVATORY_CONFIG"
LOG_LEVELS = ("debug", "info", "warning", "error")


@dataclass(frozen=True, slots=True)
class ObservatoryConfig:
    db: Path
    host: str = "127.0.0.1"
    port: int = 8000
    base_url: str | None = None
    collector_host: str = "127.0.0.1"
    collector_port: int = 8470
    collector_workers: int | None = None  # None: collector/server.py's default (one per core, at least 2)
    analyze_every: float = 60.0
    analyze_min_gap: float = 5.0
    ingest_every: float = 1.0
    alerts_every: float = 15.0
    max_backoff: float = 300.0
    cache_ttl: float = 30.0
    fingerprints: Path | None = None
    admin_token: str | None = field(default=None, repr=False)
    client_rate: float = 50.0
    client_burst: float = 200.0
    log_level: str = "info"
    #: where each value came from (option, env, file, default), for ``observatory --show-config``
    origin: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def public_base_url(self, port: int | None = None) -> str:
        if self.base_url:
            return self.base_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else ("[::1]" if self.host == "::" else self.host)
        return f"http://{host}:{port if port is not None else self.port}"

    def shown(self) -> list[tuple[str, str, str]]:
        """(key, value, origin) for every setting; the admin token is never shown."""
        out = []
        for s in SETTINGS:
            v = getattr(self, s.key)
            text = ("(set)" if v else "(unset)") if s.key == "admin_token" else ("" if v is None else str(v))
            out.append((s.key, text, self.origin.get(s.key, "default")))
        return out


_CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "port": (lambda v: 0 <= v <= 65535, "a port number 0-65535"),
    "collector_port": (lambda v: 0 <= v <= 65535, "a port number 0-65535"),
    "collector_workers": (lambda v: v >= 1, "at least 1"),
    "analyze_every": (_positive, "more than 0 seconds"),
    "analyze_min_gap": (lambda v: v >= 0, "0 seconds or more"),
    "ingest_every": (_positive, "more than 0 seconds"),
    "alerts_every": (_positive, "more than 0 seconds"),
    "max_backoff": (_positive, "more than 0 seconds"),
    "cache_ttl": (lambda v: v >= 0, "0 seconds or more"),
    "client_rate": (lambda v: v >= 0, "0 or more"),
    "client_burst": (lambda v: v >= 1, "at least 1"),
    "log_level": (lambda v: v in LOG_LEVELS, "one of " + ", ".join(LOG_LEVELS)),
    "base_url": (lambda v: str(v).startswith(("http://", "https://")), "an http(s):// URL"),
}


def _convert(s: Setting, value: Any, where: str) -> Any:
    try:
        if s.kind is bool or (s.kind in (int, float) and isinstance(value, bool)):
            raise TypeError
        if s.kind is int:
            if isinstance(value, float) or (isinstance(value, str) and not value.strip().lstrip("-").isdigit()):
                raise TypeError
            v: Any = int(value)
        elif s.kind is float:
            v = float(value)
        elif s.kind is Path:
            if not isinstance(value, str | Path) or not str(value):
                raise TypeError
            v = Path(value).expanduser()
        else:
            if not isinstance(value, str):
                raise TypeError
            v = value.strip()
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: {s.key} must be {s.kind.__name__ if s.kind is not Path else 'a path'}, "
                          f"not {value!r}") from None
    check = _CHECKS.get(s.key)
    if check is not None and not check[0](v):
        raise ConfigError(f"{where}: {s.key} must be {check[1]}, not {value!r}")
    return v


def read_file(path: Path) -> dict[str, Any]:
    """The ``[observatory]`` table of a TOML file (or its top level), unknown keys refused."""
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    table = doc.get("observatory", doc)
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [observatory] must be a table")
    unknown = sorted(k for k in table if k not in SETTING)
    if unknown:
        raise ConfigError(f"{path}: unknown setting {unknown[0]!r} (known: {', '.join(SETTING)})")
    if "admin_token" in table and path.stat().st_mode & (stat.S_IRGRP | stat.S_IROTH):
        raise ConfigError(f"{path}: holds admin_token but other users can read it (chmod 600 it)")
    return dict(table)


def resolve(options: Mapping[str, Any], env: Mapping[str, str] | None = None,
            config_file: Path | None = None) -> ObservatoryConfig:
    """Options (None = not given) > environment > config file > defaults; ``ConfigError`` names a
    bad value and where it came from. ``config_file`` defaults to ``$CENSORWATCH_OBSERVATORY_CONFIG``."""
    env = os.environ if env is None else env
    unknown = sorted(k for k in options if k not in SETTING)
    if unknown:
        raise ConfigError(f"unknown setting {unknown[0]!r}")
    if config_file is None and env.get(CONFIG_ENV):
        config_file = Path(env[CONFIG_ENV])
    from_file = read_file(config_file) if config_file is not None else {}
    values: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for s in SETTINGS:
        if options.get(s.key) is not None:
            values[s.key] = _convert(s, options[s.key], f"option {s.option}")
            origin[s.key] = "option"
        elif s.env and env.get(s.env):
            values[s.key] = _convert(s, env[s.env], f"${s.env}")
            origin[s.key] = "env"
        elif s.key in from_file:
            values[s.key] = _convert(s, from_file[s.key], f"{config_file}")
            origin[s.key] = "file"
    values["db"] = values.get("db") or default_db_path()
    names = {f.name for f in fields(ObservatoryConfig)}
    return ObservatoryConfig(**{k: v for k, v in values.items() if k in names}, origin=origin)
