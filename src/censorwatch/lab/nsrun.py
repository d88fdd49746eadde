"""Start a Python program early and move it into a namespace later.

``python -m censorwatch.lab.nsrun --preload MOD[,MOD...] -- MODULE ARGS...`` imports the preload
modules (the slow part: ~1 s for a web stack) while the lab is still building its namespaces, waits
for ``go NAMESPACE`` on stdin, enters that network namespace and runs ``MODULE`` as ``__main__``
with ``ARGS``. EOF on stdin (the parent gave up) exits without running anything.
"""

from __future__ import annotations

import importlib
import runpy
import sys

from censorwatch.lab import netns


def main(argv: list[str]) -> int:
    preload: list[str] = []
    if argv[:1] == ["--preload"]:
        preload = [m for m in argv[1].split(",") if m]
        argv = argv[2:]
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv:
        print("usage: python -m censorwatch.lab.nsrun [--preload MODS] -- MODULE ARGS...", file=sys.stderr)
        return 2
    for m in preload:
        try:
            importlib.import_module(m)
        except ImportError as exc:  # the program itself will report it properly
            print(f"nsrun: preloading {m} failed: {exc}", file=sys.stderr)
    line = sys.stdin.readline().split()
    if len(line) != 2 or line[0] != "go":
        return 1
    netns.enter(line[1])
    sys.argv = [argv[0], *argv[1:]]
    runpy.run_module(argv[0], run_name="__main__", alter_sys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
