"""The observatory's settings: options > environment > TOML file > defaults, and clear errors."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from censorwatch.observatory.config import SETTINGS, ConfigError, ObservatoryConfig, resolve

DOC = Path(__file__).resolve().parents[2] / "docs" / "observatory.md"


def _file(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    p = tmp_path / "observatory.toml"
    p.write_text(text)
    os.chmod(p, mode)
    return p


def test_options_win_over_env_which_wins_over_the_file_which_wins_over_defaults(tmp_path: Path) -> None:
    f = _file(tmp_path, '[observatory]\nport = 9001\ncollector_port = 9002\nanalyze_every = 30\nhost = "0.0.0.0"\n')
    env = {"CENSORWATCH_OBSERVATORY_PORT": "9101", "CENSORWATCH_COLLECTOR_PORT": "9102"}
    cfg = resolve({"port": 9201, "db": tmp_path / "x.duckdb"}, env=env, config_file=f)
    assert (cfg.port, cfg.collector_port, cfg.analyze_every, cfg.host) == (9201, 9102, 30.0, "0.0.0.0")
    assert cfg.ingest_every == ObservatoryConfig(db=Path("x")).ingest_every  # the default
    assert cfg.origin == {"port": "option", "db": "option", "collector_port": "env", "analyze_every": "file",
                          "host": "file"}
    assert cfg.public_base_url() == "http://127.0.0.1:9201"  # a wildcard address is reached on loopback
    shown = {k: (v, o) for k, v, o in cfg.shown()}
    assert shown["port"] == ("9201", "option") and shown["admin_token"] == ("(unset)", "default")


def test_the_config_file_comes_from_the_environment_too(tmp_path: Path) -> None:
    f = _file(tmp_path, 'analyze_every = 12.5\nadmin_token = "s3cret"\n')
    cfg = resolve({}, env={"CENSORWATCH_OBSERVATORY_CONFIG": str(f), "CENSORWATCH_DB": str(tmp_path / "d.duckdb")})
    assert cfg.analyze_every == 12.5 and cfg.admin_token == "s3cret" and cfg.db == tmp_path / "d.duckdb"
    assert "s3cret" not in repr(cfg) and "s3cret" not in str(cfg.shown())


@pytest.mark.parametrize(("options", "env", "text", "message"), [
    ({"port": 70000}, {}, "", "option --port: port must be a port number 0-65535, not 70000"),
    ({}, {"CENSORWATCH_ANALYZE_EVERY": "soon"}, "", "$CENSORWATCH_ANALYZE_EVERY: analyze_every must be float"),
    ({}, {}, "analyse_every = 5\n", "unknown setting 'analyse_every'"),
    ({}, {}, "port = 8000.5\n", "port must be int"),
    ({}, {}, "port = true\n", "port must be int"),
    ({}, {}, "log_level = 'loud'\n", "log_level must be one of debug, info, warning, error"),
    ({}, {}, "base_url = 'ftp://x'\n", "base_url must be an http(s):// URL"),
    ({}, {}, "port = [\n", "not valid TOML"),
])
def test_bad_settings_are_named_with_where_they_came_from(tmp_path: Path, options: dict[str, object],
                                                          env: dict[str, str], text: str, message: str) -> None:
    f = _file(tmp_path, text) if text else None
    with pytest.raises(ConfigError) as exc:
        resolve(options, env=env, config_file=f)
    assert message in str(exc.value)


def test_a_token_in_a_file_others_can_read_is_refused(tmp_path: Path) -> None:
    f = _file(tmp_path, 'admin_token = "s3cret"\n', mode=0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        resolve({}, env={}, config_file=f)


def test_the_documented_table_is_the_settings_table() -> None:
    rows = {}
    for line in DOC.read_text().splitlines():
        m = re.match(r"^\| `(\w+)` \| (.*?) \| (.*?) \| (.*?) \| (.*) \|$", line)
        if m:
            rows[m[1]] = (m[2], m[3])
    assert set(rows) == {s.key for s in SETTINGS}
    for s in SETTINGS:
        env, option = rows[s.key]
        assert env == (f"`{s.env}`" if s.env else "-"), s.key
        assert option == (f"`{s.option}`" if s.option else "-"), s.key
