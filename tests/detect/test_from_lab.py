"""Lab ``lab run`` lines become simulator templates only when the lab's verdict is the expected one."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from censorwatch.analysis import classify
from censorwatch.model.measurement import Measurement
from censorwatch.pipeline.simulate import from_lab
from censorwatch.pipeline.simulate.generate import TEMPLATES


def _lab_line(name: str, domain: str = "www.example.com") -> dict[str, object]:
    """A line shaped like `lab run` prints, from the shipped template renamed to the lab's site."""
    m = orjson.loads((TEMPLATES / f"{name}.json").read_bytes().replace(b"example.org", domain.encode()))
    v = classify(Measurement.from_raw(m)).to_dict()
    return {"scenario": from_lab.SOURCES[name][0], "network": "isp", "measurement": m, "verdict": v}


def test_lab_lines_become_templates_that_classify_the_same(tmp_path: Path) -> None:
    lab = tmp_path / "lab.jsonl"
    lab.write_bytes(b"\n".join(orjson.dumps(_lab_line(n)) for n in from_lab.SOURCES) + b"\n")
    assert from_lab.main([str(lab), "--out", str(tmp_path)]) == 0
    for name, (_, status, method) in from_lab.SOURCES.items():
        t = orjson.loads((tmp_path / f"{name}.json").read_bytes())
        assert b"www.example.com" not in orjson.dumps(t)
        v = classify(Measurement.from_raw(t))
        assert (v.status, v.method if method else None) == (status, method), name


def test_a_wrong_lab_verdict_is_refused() -> None:
    line = _lab_line("ok")
    line["scenario"] = from_lab.SOURCES["tls_reset"][0]
    with pytest.raises(ValueError, match=r"expected anomaly/tls\.reset"):
        from_lab.template_from_lab(line, "tls_reset")
