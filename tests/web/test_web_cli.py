"""The report and alerts commands as a user runs them (subprocess, real store)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import web_fixture_db as fixture_db

REPO = Path(__file__).resolve().parents[2]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    return subprocess.run([sys.executable, "-m", "censorwatch", *args], capture_output=True, text=True,
                          env=env, timeout=120, check=False)


def test_report_and_alerts_commands(store: tuple[Path, duckdb.DuckDBPyConnection], tmp_path: Path) -> None:
    path, con = store
    con.close()  # the CLI opens the file itself
    out = tmp_path / "r.md"
    r = _cli("report", fixture_db.INCIDENT_PK, "--format", "md", "--out", str(out), "--db", str(path))
    assert r.returncode == 0, r.stderr
    assert out.read_text().startswith(f"# Incident {fixture_db.INCIDENT_PK.replace('_', chr(92) + '_')}")
    bad = _cli("report", "nope", "--db", str(path), "--out", str(tmp_path / "x.html"))
    assert bad.returncode == 1 and "not found" in bad.stderr
    assert _cli("report", fixture_db.INCIDENT_PK, "--format", "docx", "--db", str(path)).returncode == 2

    added = _cli("alerts", "add", "http://127.0.0.1:9/hook", "--cc", "pk", "--db", str(path))
    assert added.returncode == 0, added.stderr
    assert "webhook 1" in added.stdout and len(added.stdout.split("secret ")[1].strip()) == 64
    assert _cli("alerts", "add", "javascript:alert(1)", "--db", str(path)).returncode == 2
    assert _cli("alerts", "add", "http://127.0.0.1:9/", "--cc", "Pakistan", "--db", str(path)).returncode == 2
    listed = _cli("alerts", "list", "--db", str(path))
    assert "http://127.0.0.1:9/hook" in listed.stdout and "PK" in listed.stdout
    assert _cli("alerts", "remove", "1", "--db", str(path)).returncode == 0
    assert _cli("alerts", "remove", "1", "--db", str(path)).returncode == 1
    assert "127.0.0.1:9/hook" not in _cli("alerts", "list", "--db", str(path)).stdout


def test_serve_command(store: tuple[Path, duckdb.DuckDBPyConnection]) -> None:
    import socket
    import time

    import httpx

    path, con = store
    con.close()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "CENSORWATCH_ADMIN_TOKEN": "tok"}
    proc = subprocess.Popen([sys.executable, "-m", "censorwatch", "serve", "--db", str(path), "--port", str(port)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/api/v1/home", timeout=5)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                assert time.monotonic() < deadline, "serve did not come up"
                time.sleep(0.2)
        assert r.status_code == 200 and r.json()["active"][0]["id"] == fixture_db.INCIDENT_PK
        note = httpx.post(f"http://127.0.0.1:{port}/api/v1/incidents/{fixture_db.INCIDENT_PK}/annotations",
                          json={"kind": "note", "text": "seen"}, headers={"Authorization": "Bearer tok"}, timeout=10)
        assert note.status_code == 201
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    busy = _cli("serve", "--db", str(REPO / "nonexistent-dir" / "x.duckdb"), "--read-only", "--port", str(port))
    assert busy.returncode == 2 and "no such database" in busy.stderr
