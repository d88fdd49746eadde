"""Start a Python program early and move it into a network namespace later.

``python -m censorwatch.lab.nsrun [--preload MOD[:FUNC],...]`` imports the preload modules (and calls
``FUNC`` of those that name one) (the slow part:
~1 s for a web stack) while the lab is still building its namespaces, or while it sits in the warm pool
of ``instance.py``, then reads one JSON line from stdin: ``{"ns": NAME, "argv": [MODULE, ARGS...],
"log": PATH}``. It sends stderr to ``log``, enters network namespace ``ns`` and runs ``MODULE`` as
``__main__`` (or, for ``MODULE:CALLABLE``, calls it with ``sys.argv`` set). EOF on stdin (the parent gave up or exited) ends it without running anything.
"""

from __future__ import annotations

import importlib
import json
import os
import runpy
import sys

from censorwatch.lab import netns


def main(argv: list[str]) -> int:
    preload: list[str] = []
    if argv[:1] == ["--preload"] and len(argv) > 1:
        preload = [m for m in argv[1].split(",") if m]
    for m in preload:  # "module" imports it, "module:function" also calls function()
        mod, _, fn = m.partition(":")
        try:
            obj = importlib.import_module(mod)
            if fn:
                getattr(obj, fn)()
        except (ImportError, AttributeError) as exc:  # the program itself will report it properly
            print(f"nsrun: preloading {m} failed: {exc}", file=sys.stderr)
    line = sys.stdin.readline()
    if not line.strip():
        return 1
    try:
        go = json.loads(line)
        ns, args, log = go["ns"], list(go["argv"]), go.get("log")
    except (ValueError, KeyError, TypeError) as exc:
        print(f"nsrun: bad start line: {exc}", file=sys.stderr)
        return 2
    if log:
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(fd, 2)
        os.close(fd)
    netns.enter(ns)
    sys.argv = args
    target, _, call = args[0].partition(":")
    if call:  # "module:callable": call it (e.g. a typer app holding only the preloaded commands)
        getattr(importlib.import_module(target), call)()
    else:
        runpy.run_module(target, run_name="__main__", alter_sys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
