"""The scenario suite, run for real: every scenario file through ``censorwatch lab run --jobs 8``,
each verdict compared with tests/scenarios/expected.yml."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from labrun import lab_run, scenario_names

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SCENARIOS = sorted(HERE.glob("*.yaml"))  # expected.yml is not matched: `lab run tests/scenarios/*.yaml` works
EXPECTED: dict[str, dict[str, Any]] = yaml.safe_load((HERE / "expected.yml").read_text())

pytestmark = [pytest.mark.lab, pytest.mark.timeout(900)]  # the first test builds a world per scenario


@pytest.fixture(scope="module")
def results() -> dict[str, dict[str, Any]]:
    return lab_run(SCENARIOS, jobs=8)


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
    assert m["test_name"] == "web_connectivity"
    assert m["probe_network_name"] == r["network"]  # the lab's name for the network, for the dashboard
    for key, want in EXPECTED[name].items():
        assert v[key] == want, f"{name}: {key} is {v[key]!r}, expected {want!r} ({v['rule']}: {v['explanation']})"
