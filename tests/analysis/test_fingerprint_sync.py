"""``fingerprints sync`` / ``status`` against a repository host on loopback serving small files shaped
like OONI's and Censored Planet's (written here); classification then uses them by default."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from msmt_builder import measurement

from censorwatch.analysis import classify
from censorwatch.analysis.fingerprints import (
    default_fingerprints,
    load_fingerprints,
    reset_default_fingerprints,
)
from censorwatch.analysis.fingerprints.sets import ENV_DATA
from censorwatch.pipeline import fingerprint_sync as fsync

REPO = Path(__file__).resolve().parents[2]
HEADER = "name,scope,other_names,location_found,pattern_type,pattern,confidence_no_fp,expected_countries,source,exp_url,notes\n"
OONI_DNS = HEADER + "ooni.test_dns,nat,,dns,full,203.0.113.77,5,XA,ooni,,a test row\n"
OONI_HTTP = HEADER + ("ooni.test_page,nat,,body,contains,Access to this site is restricted by the test regulator,5,XA,"
                      "ooni,,a test row\n"
                      "ooni.test_loc,isp,,header.location,prefix,http://stop.test.example/,5,XA,ooni,,\n")
CP_BLOCK = json.dumps({"fingerprint": "b_nat_xa_test", "pattern": "regulator.*forbids"}) + "\n"
CP_FP = json.dumps({"fingerprint": "x_fp_test", "pattern": "totally harmless page"}) + "\n"
SHA_OONI = "a" * 40
SHA_CP = "b" * 40


class Host:
    """A GitHub-shaped host: ``/repos/{repo}/commits/HEAD`` and ``/{repo}/{ref}/{path}``."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.commits: dict[str, str] = {}
        self.requests: list[str] = []

    def publish(self, repo: str, sha: str, files: dict[str, str]) -> None:
        self.commits[repo] = sha
        for path, text in files.items():
            self.files[f"/{repo}/{sha}/{path}"] = text.encode()
            self.files[f"/{repo}/HEAD/{path}"] = text.encode()


@pytest.fixture
def host() -> Iterator[tuple[Host, str]]:
    h = Host()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            h.requests.append(self.path)
            body: bytes | None = None
            for repo, sha in h.commits.items():
                if self.path == f"/api/repos/{repo}/commits/HEAD":
                    body = json.dumps({"sha": sha, "commit": {"committer": {"date": "2025-10-20T12:00:00Z"}}}).encode()
            if body is None and self.path.startswith("/raw/"):
                body = h.files.get(self.path.removeprefix("/raw"))
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield h, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _publish_both(h: Host) -> None:
    h.publish("ooni/blocking-fingerprints", SHA_OONI, {"fingerprints_dns.csv": OONI_DNS,
                                                       "fingerprints_http.csv": OONI_HTTP})
    h.publish("censoredplanet/censoredplanet-analysis", SHA_CP, {
        "pipeline/metadata/data/blockpage_signatures.json": CP_BLOCK,
        "pipeline/metadata/data/false_positive_signatures.json": CP_FP})


def _sync(url: str, root: Path, *names: str) -> list[fsync.SyncResult]:
    return fsync.sync(names or fsync.SOURCES, root=root, raw_url=url + "/raw", api_url=url + "/api")


def test_sync_fetches_validates_and_records_each_set(host: tuple[Host, str], tmp_path: Path) -> None:
    h, url = host
    _publish_both(h)
    results = _sync(url, tmp_path)
    assert [(r.source, r.ok) for r in results] == [("ooni", True), ("censoredplanet", True)], results
    manifest = json.loads((tmp_path / "ooni" / "manifest.json").read_text())
    assert manifest["commit"] == SHA_OONI and manifest["rules"] == 3
    assert manifest["source_url"] == "https://github.com/ooni/blocking-fingerprints"
    assert manifest["files"]["fingerprints_http.csv"]["url"].endswith(f"/ooni/blocking-fingerprints/{SHA_OONI}/"
                                                                      "fingerprints_http.csv")
    assert len(manifest["files"]["fingerprints_dns.csv"]["sha256"]) == 64
    cp = json.loads((tmp_path / "censoredplanet" / "manifest.json").read_text())
    assert cp["licence"] == "Apache-2.0" and "Censored Planet" in cp["attribution"]
    fps = load_fingerprints(synced=tmp_path)
    assert fps.identity.startswith("censorwatch@") and fps.identity.endswith(
        f"+ooni@{SHA_OONI[:12]}+censoredplanet@{SHA_CP[:12]}")
    assert {r.id for r in fps.rules} >= {"ooni.test_dns", "ooni.test_page", "cp.b_nat_xa_test", "cp.x_fp_test"}
    assert [s.rules for s in fps.sets[1:]] == [3, 2]


def test_classification_uses_the_synced_sets_by_default(host: tuple[Host, str], tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    h, url = host
    _publish_both(h)
    monkeypatch.setenv(ENV_DATA, str(tmp_path))
    monkeypatch.delenv("CENSORWATCH_FINGERPRINTS", raising=False)
    reset_default_fingerprints()
    tk = {"requests": [{"request": {"url": "http://blocked.example/", "tor": {"is_tor": False}}, "failure": None,
                        "response": {"code": 200, "body": "Access to this site is restricted by the test regulator"}}]}
    before = classify(measurement("http_requests", tk, input="http://blocked.example/", probe_cc="XA"))
    assert before.status == "failure" and default_fingerprints().identity.count("+") == 0
    assert all(r.ok for r in _sync(url, tmp_path))
    after = classify(measurement("http_requests", tk, input="http://blocked.example/", probe_cc="XA"))
    assert (after.status, after.rule) == ("confirmed", "http_requests.blockpage")
    assert after.fingerprint is not None and after.fingerprint.id == "ooni.test_page"
    assert "+ooni@" in default_fingerprints().identity
    reset_default_fingerprints()


def test_a_file_that_does_not_parse_is_refused_and_the_previous_set_kept(host: tuple[Host, str],
                                                                         tmp_path: Path) -> None:
    h, url = host
    _publish_both(h)
    assert all(r.ok for r in _sync(url, tmp_path))
    before = (tmp_path / "ooni" / "fingerprints_http.csv").read_bytes()
    h.publish("ooni/blocking-fingerprints", "c" * 40, {"fingerprints_dns.csv": OONI_DNS,
                                                       "fingerprints_http.csv": OONI_HTTP + "ooni.bad,nat,,body,"
                                                       "regexp,(unclosed,5,,ooni,,\n"})
    h.publish("censoredplanet/censoredplanet-analysis", "d" * 40, {
        "pipeline/metadata/data/blockpage_signatures.json": CP_BLOCK + "{not json\n",
        "pipeline/metadata/data/false_positive_signatures.json": CP_FP})
    results = _sync(url, tmp_path)
    assert [r.ok for r in results] == [False, False]
    assert "invalid regexp" in results[0].message and "not JSON" in results[1].message
    assert results[0].kept is not None and results[0].kept.commit == SHA_OONI
    assert (tmp_path / "ooni" / "fingerprints_http.csv").read_bytes() == before
    assert load_fingerprints(synced=tmp_path).identity.endswith(f"ooni@{SHA_OONI[:12]}+censoredplanet@{SHA_CP[:12]}")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no work folders left behind


def test_missing_file_and_host_without_api(host: tuple[Host, str], tmp_path: Path) -> None:
    h, url = host
    h.files["/ooni/blocking-fingerprints/HEAD/fingerprints_dns.csv"] = OONI_DNS.encode()
    h.files["/ooni/blocking-fingerprints/HEAD/fingerprints_http.csv"] = OONI_HTTP.encode()
    [r] = fsync.sync(["ooni"], root=tmp_path, raw_url=url + "/raw", api_url=url + "/no-api")
    assert r.ok and r.fset is not None and r.fset.commit is None
    assert r.fset.revision == json.loads((tmp_path / "ooni" / "manifest.json").read_text())["fetched_at"][:10]
    [r] = fsync.sync(["censoredplanet"], root=tmp_path, raw_url=url + "/raw", api_url=url + "/no-api")
    assert not r.ok and "HTTP 404" in r.message and r.kept is None
    assert not (tmp_path / "censoredplanet").exists()


def test_a_tampered_synced_set_is_left_out(host: tuple[Host, str], tmp_path: Path) -> None:
    h, url = host
    _publish_both(h)
    assert all(r.ok for r in _sync(url, tmp_path))
    with (tmp_path / "ooni" / "fingerprints_dns.csv").open("a") as fh:
        fh.write("ooni.extra,nat,,dns,full,198.51.100.9,5,,ooni,,\n")
    fps = load_fingerprints(synced=tmp_path)
    assert "+ooni@" not in fps.identity and any("differs from the manifest" in e for e in fps.errors)


def cw(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "PYTHONPATH": str(REPO / "src"), "COLUMNS": "250", **env}
    full.pop("CENSORWATCH_FINGERPRINTS", None)
    return subprocess.run([sys.executable, "-m", "censorwatch", *args], capture_output=True, text=True,
                          env=full, timeout=180)


def test_cli_sync_then_status(host: tuple[Host, str], tmp_path: Path) -> None:
    h, url = host
    _publish_both(h)
    env = {ENV_DATA: str(tmp_path)}
    st = cw("fingerprints", "status", "--format", "json", env=env)
    assert st.returncode == 0, st.stderr
    doc = json.loads(st.stdout)
    assert [s["name"] for s in doc["sets"]] == ["censorwatch"] and doc["rules"] > 10
    assert h.requests == []  # reading the status downloads nothing
    r = cw("fingerprints", "sync", "--base-url", url + "/raw", "--api-url", url + "/api", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ooni: updated: 3 rules at ooni@aaaaaaaaaaaa" in r.stderr and "Apache-2.0" in r.stderr
    doc = json.loads(cw("fingerprints", "status", "--format", "json", env=env).stdout)
    assert [s["name"] for s in doc["sets"]] == ["censorwatch", "ooni", "censoredplanet"]
    assert doc["identity"].endswith(f"+ooni@{SHA_OONI[:12]}+censoredplanet@{SHA_CP[:12]}")
    ooni = doc["sets"][1]
    assert (ooni["commit"], ooni["rules"], ooni["date"][:10]) == (SHA_OONI, 3, "2025-10-20")
    text = cw("fingerprints", "status", env=env)
    assert text.returncode == 0 and "aaaaaaaaaaaa" in text.stdout and "Apache-2.0" in text.stdout
    again = cw("fingerprints", "sync", "--source", "ooni", "--base-url", url + "/raw", "--api-url", url + "/api",
               env=env)
    assert again.returncode == 0 and "ooni: unchanged" in again.stderr
    bad = cw("fingerprints", "sync", "--source", "nope", env=env)
    assert bad.returncode == 2 and "--source" in bad.stderr
