"""The results table both throttling grids write (benchmarks/throttle.py and throttle_lab.py)."""

from __future__ import annotations

import platform
from pathlib import Path
from typing import Any


def append_grid(out: Path, title: str, command: str, machine_note: str, summary: str,
                rows: list[dict[str, Any]]) -> None:
    """Append one grid to ``out``: a heading, command, machine, result line and one row per cell.

    Each row has ``speed`` (kbps or None for unshaped), ``cap``, ``truth``, ``called``, ``rate``,
    ``err`` (fraction or None), ``ratio`` and ``seconds``.
    """
    lines = ["| network kbps | cap kbps | throttled? | called | measured kbps | error | ratio | seconds |",
             "|---:|---:|:---:|:---:|---:|---:|---:|---:|"]
    for r in rows:
        err = f"{r['err']:.1%}" if r["err"] is not None else "-"
        speed = f"{r['speed']:.0f}" if r["speed"] else "unshaped"
        lines.append(f"| {speed} | {r['cap'] or '-'} | {'yes' if r['truth'] else 'no'} | "
                     f"{'throttle' if r['called'] else '-'} | {r['rate']:.1f} | {err} | {r['ratio']} | "
                     f"{r['seconds']:.1f} |")
    text = (f"\n### {title}\n\n- command: `{command}`\n- machine: 2-core x86_64 VM, Python "
            f"{platform.python_version()}{machine_note}\n- result: {summary}\n\n" + "\n".join(lines) + "\n")
    with out.open("a", encoding="utf-8") as fh:
        fh.write(text)
