"""Every command against a store the observatory holds: writes go through its admin API (with the
token) or stop with one sentence saying what to do; reads work and print what they print without it."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from observatory.helpers import TOKEN, ObservatoryProcess, cli, wait_for

SCENARIO = """
name: tiny
start: 2024-02-10T00:00:00Z
days: 2
seed: 3
noise: 0.0
failure: 0.0
diurnal: 0.0
targets: [x.com, example.org]
countries:
  - cc: PK
    networks:
      - {asn: AS17557, rate: 2.0}
      - {asn: AS59257, rate: 2.0}
blocks:
  - {cc: PK, target: x.com, method: tls.reset, start: 2024-02-11T04:00:00Z, end: null}
"""


def _one_sentence(res: object) -> str:
    err = res.stderr.strip()  # type: ignore[attr-defined]
    assert res.returncode == 3, (res.returncode, res.stdout, err)  # type: ignore[attr-defined]
    assert len(err.splitlines()) == 1 and "Traceback" not in err and "IO Error" not in err, err
    return str(err)


@pytest.fixture(scope="module")
def measurements(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("sim")
    (d / "s.yaml").write_text(SCENARIO)
    res = cli("simulate", "--scenario", str(d / "s.yaml"), "--out", str(d / "m.jsonl.gz"))
    assert res.returncode == 0, res.stderr
    return d / "m.jsonl.gz"


def test_commands_while_the_observatory_runs(tmp_path: Path, measurements: Path) -> None:
    db = str(tmp_path / "cw.duckdb")
    obs = ObservatoryProcess(tmp_path / "cw.duckdb", "--analyze-every", "60", "--collector-workers", "1").start()
    try:
        # writes without the token: one sentence naming the variable, nothing changed
        for args in (["ingest", str(measurements)], ["analyze"], ["alerts", "add", "http://127.0.0.1:9/hook"],
                     ["annotate", "inc_x", "--text", "a note"]):
            err = _one_sentence(cli(*args, "--db", db))
            assert "CENSORWATCH_ADMIN_TOKEN" in err and f"pid {obs.proc.pid}" in err  # type: ignore[union-attr]
        # with a wrong token: refused, one sentence
        assert "refused" in _one_sentence(cli("analyze", "--db", db, token="wrong"))
        # with the token: through the admin API
        res = cli("ingest", str(measurements), "--db", db, token=TOKEN)
        assert res.returncode == 0, res.stdout + res.stderr
        assert "through the observatory" in res.stdout
        res = cli("analyze", "--db", db, token=TOKEN)
        assert res.returncode == 0 and "incidents" in res.stdout, res.stdout + res.stderr
        res = cli("alerts", "add", "http://127.0.0.1:9/hook", "--cc", "PK", "--db", db, token=TOKEN)
        assert res.returncode == 0 and "webhook 1 -> http://127.0.0.1:9/hook" in res.stdout, res.stderr
        res = cli("alerts", "list", "--db", db, token=TOKEN)
        assert res.returncode == 0 and "http://127.0.0.1:9/hook" in res.stdout
        # reads need no token
        res = cli("incidents", "--db", db, "--format", "json")
        assert res.returncode == 0, res.stderr
        incidents = json.loads(res.stdout)
        x = [i for i in incidents if i["target"] == "x.com"]
        assert x and x[0]["kind"] == "blocking", incidents
        res = cli("events", "--db", db, "--format", "json", "--kind", "blocking")
        assert res.returncode == 0 and {e["target"] for e in json.loads(res.stdout)} == {"x.com"}
        assert "x.com" in cli("events", "--db", db).stdout
        out = tmp_path / "r.md"
        res = cli("report", x[0]["id"], "--format", "md", "--out", str(out), "--db", db)
        assert res.returncode == 0 and out.read_text().startswith("# Incident inc\\_") and "x.com blocked in PK" in out.read_text(), res.stderr
        res = cli("annotate", x[0]["id"], "--text", "the ministry denies it", "--db", db, token=TOKEN)
        assert res.returncode == 0, res.stderr
        detail = httpx.get(f"{obs.url}/api/v1/incidents/{x[0]['id']}", timeout=10).json()
        assert [a["text"] for a in detail["annotations"]] == ["the ministry denies it"]
        # what the service does itself, or what would compete with it: one sentence saying so
        assert "nothing to do" in _one_sentence(cli("collector", "ingest", "--db", db))
        assert obs.url in _one_sentence(cli("serve", "--db", db))
        assert "--fingerprints" in _one_sentence(cli("analyze", "--db", db, "--fingerprints", str(tmp_path), token=TOKEN))
        running_json = cli("incidents", "--db", db, "--format", "json").stdout
        assert obs.stop() == 0
    finally:
        obs.kill()
    # the same command on the store once the service is gone prints the same thing
    assert cli("incidents", "--db", db, "--format", "json").stdout == running_json


def test_a_store_held_by_serve_gets_one_sentence_not_a_lock_trace(tmp_path: Path, measurements: Path) -> None:
    import subprocess
    import sys

    from collector.helpers import REPO, free_port

    db = tmp_path / "cw.duckdb"
    assert cli("ingest", str(measurements), "--db", str(db)).returncode == 0
    port = free_port()
    serve = subprocess.Popen([sys.executable, "-m", "censorwatch", "serve", "--db", str(db), "--port", str(port)],
                             env={"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin"},
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: _answers(f"http://127.0.0.1:{port}/"), 60, "serve to listen")
        for args in (["analyze"], ["ingest", str(measurements)], ["incidents"], ["events"]):
            err = _one_sentence(cli(*args, "--db", str(db)))
            assert f"held by another process (pid {serve.pid}" in err, err
    finally:
        serve.terminate()
        serve.wait(30)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.TransportError:
        return False
