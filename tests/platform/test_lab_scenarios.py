"""The platform, circumvention and throttling scenarios, run for real through ``censorwatch lab run``
(tests/scenarios/platform/*.yaml), each verdict compared with tests/scenarios/platform/expected.yml."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from labrun import lab_run, scenario_names

REPO = Path(__file__).resolve().parents[2]
HERE = REPO / "tests" / "scenarios" / "platform"
SCENARIOS = sorted(HERE.glob("*.yaml"))
EXPECTED: dict[str, dict[str, Any]] = yaml.safe_load((HERE / "expected.yml").read_text())

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def results() -> dict[str, dict[str, Any]]:
    return lab_run(SCENARIOS, jobs=4)


def test_every_scenario_has_an_expectation() -> None:
    names = scenario_names(SCENARIOS)
    assert names == set(EXPECTED), f"missing: {names - set(EXPECTED)}, stale: {set(EXPECTED) - names}"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_scenario_verdict(results: dict[str, dict[str, Any]], name: str) -> None:
    r = results.get(name)
    assert r is not None, f"no result line for {name}"
    assert "error" not in r, r.get("error")
    m, v = r["measurement"], r["verdict"]
    assert m["annotations"]["censorwatch_lab"] is True
    want = dict(EXPECTED[name])
    why = f"{name}: {v['rule']}: {v['explanation']}"
    if "test_name" in want:
        assert m["test_name"] == want.pop("test_name"), why
    if "parts" in want:
        assert v["details"]["parts"] == want.pop("parts"), why
    for key, value in want.pop("test_keys", {}).items():
        assert m["test_keys"][key] == value, f"{why}: test_keys.{key}"
    if "rate_within_20pct_of" in want:
        cap = want.pop("rate_within_20pct_of")
        rate = v["details"]["rate_kbps"]
        assert abs(rate - cap) / cap <= 0.2, f"{why}: measured {rate} kbps against a {cap} kbps cap"
    for key, value in want.items():
        assert v[key] == value, f"{why}: {key} is {v[key]!r}, expected {value!r}"
