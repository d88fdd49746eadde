"""The package layering (ARCHITECTURE.md) enforced by parsing every import with ``ast``."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "censorwatch"

# package -> packages it may import (besides itself). Top-level modules count as packages.
ALLOWED: dict[str, set[str]] = {
    "model": set(),
    "analysis": {"model"},
    "store": {"model"},
    # stated exception: the probe fills an experiment's summary keys with the analyser's pure
    # classify (one implementation of the rules), so probe may import analysis.
    "probe": {"model", "analysis"},
    "lab": {"model", "probe", "analysis"},
    "control": {"model", "probe"},
    "collector": {"model", "store", "analysis"},
    # stated exception: the pipeline runs the probe's measurements on a schedule (pipeline/measure.py),
    # so the CLI only parses options and calls it
    "pipeline": {"model", "store", "analysis", "probe"},
    "report": {"model", "store", "analysis"},
    "web": {"model", "store", "analysis", "report", "pipeline"},
    # the service runs the collector's processes, the pipeline's store loop and the web app together
    "observatory": {"model", "store", "analysis", "report", "pipeline", "collector", "web"},
    "cli": {"*"},
    "__init__": set(),
    "__main__": {"cli"},
}

STDLIB_ONLY = {"model"}


def _package_of(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0].removesuffix(".py")


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, a.name) for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.ImportFrom) and node.level > 0:
            found.append((node.lineno, "<relative>"))
    return found


def test_every_import_respects_the_layers() -> None:
    import sys

    stdlib = set(sys.stdlib_module_names)
    violations: list[str] = []
    for path in sorted(SRC.rglob("*.py")):
        pkg = _package_of(path)
        assert pkg in ALLOWED, f"{path}: package {pkg!r} is not in the layering table"
        allowed = ALLOWED[pkg]
        for lineno, mod in _imports(path):
            where = f"{path.relative_to(SRC.parent)}:{lineno}"
            if mod == "<relative>":
                violations.append(f"{where}: relative import (use absolute censorwatch.* imports)")
                continue
            top = mod.split(".")[0]
            if top == "censorwatch":
                parts = mod.split(".")
                if len(parts) == 1:
                    continue
                target = parts[1]
                if target == pkg or "*" in allowed or target == "__init__":
                    continue
                if target not in allowed:
                    violations.append(f"{where}: {pkg} may not import censorwatch.{target}")
            elif pkg in STDLIB_ONLY and top not in stdlib and top != "__future__":
                violations.append(f"{where}: {pkg} is standard-library only, imports {mod}")
    assert not violations, "\n".join(violations)


def test_nothing_imports_the_cli() -> None:
    for path in SRC.rglob("*.py"):
        if _package_of(path) in {"cli", "__main__"}:
            continue
        for lineno, mod in _imports(path):
            assert not mod.startswith("censorwatch.cli"), f"{path}:{lineno} imports the CLI"
