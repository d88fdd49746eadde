"""``analyze``'s verdicts stage: only missing or stale verdicts are re-derived from the stored raw bytes."""

from __future__ import annotations

from pathlib import Path

import pytest

from censorwatch import analysis
from censorwatch.pipeline import run_analysis, verdicts
from censorwatch.pipeline.ingest import ingest
from censorwatch.store.db import Store
from censorwatch.store.reader import read_paths


@pytest.fixture
def store(samples: Path, tmp_path: Path) -> Store:
    s = Store(tmp_path / "db.duckdb")
    ingest(s, read_paths([samples]))
    return s


def _versions(store: Store) -> dict[str, int]:
    return dict(store.con.execute("SELECT rules_version, count(*) FROM verdicts GROUP BY 1").fetchall())


def test_fresh_verdicts_are_not_redone(store: Store) -> None:
    n = store.counts()["measurements"]
    assert set(_versions(store)) <= analysis.current_versions() and sum(_versions(store).values()) == n
    res = run_analysis(store)["verdicts"]
    assert (res["stale"], res["classified"], res["errors"]) == (0, 0, 0)


def test_old_and_missing_verdicts_are_reclassified(store: Store) -> None:
    n = store.counts()["measurements"]
    before = dict(store.con.execute("SELECT measurement_uid, status FROM verdicts").fetchall())
    store.con.execute(
        "UPDATE verdicts SET rules_version = '0-old', status = 'failure' WHERE test_name = 'web_connectivity'"
    ).fetchall()
    store.con.execute("DELETE FROM verdicts WHERE test_name = 'tor'").fetchall()
    old = _versions(store)["0-old"]
    missing = n - sum(_versions(store).values())
    assert old > 10 and missing == 2
    res = run_analysis(store)["verdicts"]
    assert (res["stale"], res["classified"], res["errors"]) == (old + missing, old + missing, 0)
    assert set(_versions(store)) <= analysis.current_versions() and sum(_versions(store).values()) == n
    # re-derived from the raw bytes: the same verdicts as at ingest time
    assert dict(store.con.execute("SELECT measurement_uid, status FROM verdicts").fetchall()) == before
    assert run_analysis(store)["verdicts"]["classified"] == 0


def test_new_rules_versions_reclassify_everything(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    n = store.counts()["measurements"]
    monkeypatch.setattr(analysis, "current_versions", lambda: frozenset({"next"}))
    done: list[tuple[str, int, int]] = []
    res = verdicts.run(store, batch_size=7, on_progress=lambda *a: done.append(a))
    assert res["stale"] == res["classified"] == n
    assert done[0] == ("verdicts", 0, n) and done[-1] == ("verdicts", n, n)


def test_a_new_family_version_reclassifies_that_family_only(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    from censorwatch.analysis.experiments import tor

    tor_family = {r[0] for r in store.con.execute(
        "SELECT count(*) FROM verdicts WHERE test_name IN ('vanilla_tor', 'torsf')").fetchall()}.pop()
    assert tor_family > 0
    current = analysis.current_versions()
    monkeypatch.setattr(analysis, "current_versions", lambda: current - {tor.BOOTSTRAP.version})
    res = run_analysis(store)["verdicts"]
    assert (res["stale"], res["classified"]) == (tor_family, tor_family)


def test_unknown_engine_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="unknown engine"):
        run_analysis(store, "hadoop")
