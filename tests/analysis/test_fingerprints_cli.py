"""``censorwatch fingerprints show|match`` as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parents[2]
HEADER = "name,scope,other_names,location_found,pattern_type,pattern,confidence_no_fp,expected_countries,source,exp_url,notes\n"


def cw(*args: str | Path, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "COLUMNS": "200"}
    env.pop("CENSORWATCH_FINGERPRINTS", None)
    return subprocess.run([sys.executable, "-m", "censorwatch", *map(str, args)], input=stdin,
                          capture_output=True, env=env, timeout=180)


def test_show_counts_every_source_of_the_real_files(shared: Path) -> None:
    r = cw("fingerprints", "show", "--fingerprints", shared / "data" / "fingerprints")
    assert r.returncode == 0, r.stderr
    text = r.stdout.decode()
    from censorwatch.analysis.fingerprints import builtin_fingerprints

    assert f"{3037 + len(builtin_fingerprints())} fingerprints" in text  # the files' rows plus censorwatch's own
    for word in ("censoredplanet", "ooni", "censorwatch", "regexp", "prefix", "header:location"):
        assert word in text


def test_match_false_positive_first_and_exit_codes(tmp_path: Path) -> None:
    fdir = tmp_path / "fps"
    fdir.mkdir()
    (fdir / "fingerprints_http.csv").write_text(
        HEADER + "t.loc,nat,,header.location,prefix,http://blocked.example/,5,ID,ooni,,\n"
                 "t.body,isp,,body,contains,Access denied by order,5,,ooni,,\n", encoding="utf-8")
    (fdir / "false_positive_signatures.json").write_text(
        json.dumps({"fingerprint": "x_fp_demo", "pattern": "demo page"}) + "\n", encoding="utf-8")
    page = tmp_path / "p.html"
    page.write_text("<html>Access denied by order. This is a demo page.</html>", encoding="utf-8")
    r = cw("fingerprints", "match", page, "-H", "Location: http://blocked.example/x", "--dns", "198.18.66.66",
           "--cc", "id", "--fingerprints", fdir)
    res = orjson.loads(r.stdout)
    assert r.returncode == 0, r.stderr  # the lab DNS answer matched
    assert res["false_positive"]["id"] == "cp.x_fp_demo" and res["blockpages"] == []
    assert {x["id"] for x in res["suppressed_by_false_positive"]} == {"t.loc", "t.body"}
    assert res["dns"][0]["id"] == "censorwatch.lab_blockpage_ip"


def test_match_usage_error() -> None:
    r = cw("fingerprints", "match", "-", "-H", "no colon", stdin=b"x")
    assert r.returncode == 2 and b"Name: value" in r.stderr
