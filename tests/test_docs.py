"""The README stays true: every setting the code reads is documented, and every command is listed."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src" / "censorwatch"


def _readme() -> str:
    return (REPO / "README.md").read_text(encoding="utf-8")


def test_every_environment_variable_the_code_reads_is_in_the_readme() -> None:
    used: set[str] = set()
    for path in SRC.rglob("*.py"):
        used |= set(re.findall(r"CENSORWATCH_[A-Z_]+[A-Z]", path.read_text(encoding="utf-8")))
    assert used, "no settings found: the scan is broken"
    readme = _readme()
    missing = sorted(v for v in used if f"`{v}`" not in readme)
    assert not missing, f"undocumented environment variables: {missing}"


def test_every_cli_command_is_in_the_readme() -> None:
    from typer.main import get_command

    from censorwatch.cli import _load, app

    _load()
    group = get_command(app)
    names = sorted(group.commands)  # type: ignore[attr-defined]
    assert len(names) >= 10
    readme = _readme()
    missing = [n for n in names if f"censorwatch {n}" not in readme]
    assert not missing, f"commands missing from the README's CLI table: {missing}"


def test_quick_start_is_exactly_make_demo_and_make_test() -> None:
    readme = _readme()
    block = readme.split("## Quick start", 1)[1].split("```", 2)[1]
    commands = [ln.split("#", 1)[0].strip() for ln in block.splitlines()[1:] if ln.strip()]
    assert commands == ["make demo", "make test"]
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert "make test" in ci
