"""Progress over bytes: every record comes through in order and the bar ends at the input's size."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
from rich.console import Console
from rich.progress import Progress

from censorwatch.cli.reading import tracked
from censorwatch.model.measurement import Measurement
from censorwatch.store.reader import ReadError, read_paths


def test_tracked_reads_everything_and_completes(samples: Path, tmp_path: Path) -> None:
    lines = [
        orjson.dumps({"test_name": "dnscheck", "measurement_start_time": f"2024-02-17 10:{i // 60:02d}:{i % 60:02d}",
                      "test_keys": {"pad": "x" * 500}})
        for i in range(600)
    ]
    gz = tmp_path / "many.jsonl.gz"
    gz.write_bytes(gzip.compress(b"\n".join(lines) + b"\nnot json\n"))
    paths = [samples / "fastpath", gz, tmp_path / "missing.json"]
    progress = Progress(console=Console(file=open("/dev/null", "w")), disable=True)  # noqa: SIM115
    task = progress.add_task("t", total=None, records=0)
    seen: list[float] = []
    items = []
    for item in tracked(paths, progress, task):
        items.append(item)
        seen.append(progress.tasks[0].completed)
    expected = list(read_paths(paths))
    assert [(type(i), getattr(i, "source", None)) for i in items] == [
        (type(e), getattr(e, "source", None)) for e in expected
    ]
    total = sum(f.stat().st_size for f in (samples / "fastpath").iterdir()) + gz.stat().st_size
    t = progress.tasks[0]
    assert t.total == total and t.completed == total
    assert seen == sorted(seen)  # never goes backwards
    assert 0 < seen[len(seen) - 300] < total  # moves within the big gzip file, not only at its end
    assert t.fields["records"] == len(expected) - 1  # a missing path is an error, not a record
    assert isinstance(items[-1], ReadError) and "no such file" in items[-1].reason
    assert sum(isinstance(i, Measurement) for i in items) == len(items) - 2
