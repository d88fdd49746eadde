"""``censorwatch verify`` catches every kind of tampering: altered byte, dropped or reordered entry,
forged receipt, rolled-back or rewritten log. The log is made by a real collector process."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from censorwatch.collector.verify import (
    BadInput,
    check_consistency,
    check_inclusion,
    check_log,
    check_receipt,
    load_key,
)
from collector.helpers import CollectorProcess, cli, make_measurement, resign_export

POST = "/api/v1/measurements"


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A log of 20 entries, with what a client keeps: receipts, an STH at 12 and at 20, proofs, an export."""
    d = tmp_path_factory.mktemp("verify")
    proc = CollectorProcess(d / "cw.duckdb", None, "--client-rate", "0").start()
    try:
        with httpx.Client(base_url=proc.url, timeout=10) as c:
            (d / "key.json").write_bytes(c.get("/api/v1/log/key").content)
            uids = []
            for i in range(20):
                body = orjson.dumps(make_measurement(i, padding=300), option=orjson.OPT_INDENT_2)
                (d / f"m{i}.json").write_bytes(body)
                r = c.post(POST, content=body)
                assert r.status_code == 201
                (d / f"r{i}.json").write_bytes(r.content)
                uids.append(r.json()["measurement_uid"])
                if i == 11:
                    (d / "sth12.json").write_bytes(c.get("/api/v1/log/sth").content)
            (d / "sth20.json").write_bytes(c.get("/api/v1/log/sth").content)
            (d / "cons.json").write_bytes(c.get("/api/v1/log/proof/consistency", params={"first": 12}).content)
            for i in (0, 7, 19):
                (d / f"p{i}.json").write_bytes(c.get("/api/v1/log/proof/inclusion", params={"uid": uids[i]}).content)
            (d / "p7at12.json").write_bytes(
                c.get("/api/v1/log/proof/inclusion", params={"uid": uids[7], "tree_size": 12}).content
            )
    finally:
        proc.stop()
    res = cli("collector", "export", str(d / "export"), "--db", str(d / "cw.duckdb"))
    assert res.returncode == 0, res.stderr
    yield {"dir": d, "uids": uids}


def run(*args: str) -> tuple[int, str]:
    """``censorwatch verify ARGS`` in-process through the same functions the CLI calls (the CLI itself
    runs as a subprocess in ``test_the_cli_end_to_end``): exit code 0 passed, 1 failed, 2 bad input."""
    kind, rest = args[0], list(args[1:])
    opts: dict[str, Path] = {}
    while "--" in " ".join(rest):
        i = next(j for j, a in enumerate(rest) if a.startswith("--"))
        opts[rest[i][2:]] = Path(rest[i + 1])
        del rest[i : i + 2]
    pos = [Path(a) for a in rest]
    try:
        key = load_key(opts["key"]) if "key" in opts else None
        if kind == "receipt":
            assert key
            report = check_receipt(pos[0], pos[1], key)
        elif kind == "inclusion":
            assert key
            report = check_inclusion(pos[0], key, sth_path=opts.get("sth"), measurement=opts.get("measurement"),
                                     receipt_path=opts.get("receipt"))
        elif kind == "consistency":
            assert key
            report = check_consistency(pos[0], pos[1], opts.get("proof"), key)
        else:
            report = check_log(pos[0], key, opts.get("sth"))
    except BadInput as exc:
        return 2, str(exc)
    return (0 if report.passed else 1), "\n".join(m for _, m in report.findings)


def test_the_cli_end_to_end(log: dict[str, Any], tmp_path: Path) -> None:
    d = log["dir"]
    res = cli("verify", "log", str(d / "export"), "--key", str(d / "key.json"))
    assert res.returncode == 0 and "recomputed root of 20 leaves" in res.stdout and "verified" in res.stdout
    forged = tmp_path / "m3.json"
    forged.write_bytes((d / "m3.json").read_bytes().replace(b'"AS64500"', b'"AS64501"'))
    res = cli("verify", "receipt", str(forged), str(d / "r3.json"), "--key", str(d / "key.json"))
    assert res.returncode == 1 and "does NOT match the receipt" in res.stdout and "FAILED" in res.stdout
    res = cli("verify", "receipt", str(d / "m3.json"), str(tmp_path / "nope.json"), "--key", str(d / "key.json"))
    assert res.returncode == 2 and "cannot read the receipt" in res.stderr


def test_untouched_evidence_verifies(log: dict[str, Any]) -> None:
    d = log["dir"]
    key = str(d / "key.json")
    assert run("receipt", str(d / "m3.json"), str(d / "r3.json"), "--key", key)[0] == 0
    code, text = run("inclusion", str(d / "p7.json"), "--key", key, "--measurement", str(d / "m7.json"),
                     "--receipt", str(d / "r7.json"))
    assert code == 0 and "leaf 7 is included in the tree of size 20" in text, text
    assert run("inclusion", str(d / "p7at12.json"), "--key", key, "--sth", str(d / "sth12.json"))[0] == 0
    code, text = run("consistency", str(d / "sth12.json"), str(d / "sth20.json"), "--proof", str(d / "cons.json"),
                     "--key", key)
    assert code == 0 and "append-only extension" in text, text
    code, text = run("log", str(d / "export"), "--key", key)
    assert code == 0 and "recomputed root of 20 leaves" in text, text


def test_one_altered_byte_in_a_measurement(log: dict[str, Any], tmp_path: Path) -> None:
    d = log["dir"]
    m = (d / "m3.json").read_bytes()
    forged = tmp_path / "m3.json"
    forged.write_bytes(m.replace(b'"probe_cc": "PK"', b'"probe_cc": "PL"'))
    assert forged.read_bytes() != m
    code, text = run("receipt", str(forged), str(d / "r3.json"), "--key", str(d / "key.json"))
    assert code == 1 and "does NOT match the receipt" in text, text
    code, text = run("inclusion", str(d / "p7.json"), "--key", str(d / "key.json"), "--measurement", str(forged))
    assert code == 1 and "altered" in text


def test_forged_receipt_and_tree_head(log: dict[str, Any], tmp_path: Path) -> None:
    d = log["dir"]
    r = orjson.loads((d / "r3.json").read_bytes())
    r["receipt"]["leaf_index"] = 2
    (tmp_path / "r.json").write_bytes(orjson.dumps(r))
    code, text = run("receipt", str(d / "m3.json"), str(tmp_path / "r.json"), "--key", str(d / "key.json"))
    assert code == 1 and "bad signature" in text
    sth = orjson.loads((d / "sth20.json").read_bytes())
    sth["root_hash"] = "00" * 32
    (tmp_path / "sth.json").write_bytes(orjson.dumps(sth))
    code, text = run("inclusion", str(d / "p7.json"), "--key", str(d / "key.json"), "--sth", str(tmp_path / "sth.json"))
    assert code == 1 and "bad signature" in text


def test_altered_proof_is_caught(log: dict[str, Any], tmp_path: Path) -> None:
    d = log["dir"]
    p = orjson.loads((d / "p7.json").read_bytes())
    p["audit_path"][1] = "ab" * 32
    (tmp_path / "p.json").write_bytes(orjson.dumps(p))
    code, text = run("inclusion", str(tmp_path / "p.json"), "--key", str(d / "key.json"))
    assert code == 1 and "does not lead to the tree head's root" in text


def test_entry_moved_is_caught_by_the_receipt(log: dict[str, Any]) -> None:
    d = log["dir"]
    # the proof for entry 19 checked against entry 7's receipt: the index promised differs
    code, text = run("inclusion", str(d / "p19.json"), "--key", str(d / "key.json"), "--receipt", str(d / "r7.json"))
    assert code == 1 and "promised leaf index 7" in text, text


def _tampered_export(log: dict[str, Any], tmp_path: Path, edit) -> Path:
    out = tmp_path / "export"
    shutil.copytree(log["dir"] / "export", out)
    lines = (out / "leaves.jsonl").read_bytes().splitlines()
    (out / "leaves.jsonl").write_bytes(b"\n".join(edit(lines)) + b"\n")
    return out


def test_export_with_an_altered_byte(log: dict[str, Any], tmp_path: Path) -> None:
    def edit(lines: list[bytes]) -> list[bytes]:
        changed = lines[5].replace(b'"blocking":false', b'"blocking":"dns"')
        assert changed != lines[5]
        lines[5] = changed
        return lines

    code, text = run("log", str(_tampered_export(log, tmp_path, edit)), "--key", str(log["dir"] / "key.json"))
    assert code == 1 and "entry 5 matches no signed receipt: it was altered" in text, text


def test_export_with_a_dropped_entry(log: dict[str, Any], tmp_path: Path) -> None:
    code, text = run("log", str(_tampered_export(log, tmp_path, lambda ls: ls[:9] + ls[10:])),
                     "--key", str(log["dir"] / "key.json"))
    assert code == 1 and "entry 9 was signed as leaf 10" in text and "covers 20 leaves, the export has 19" in text, text


def test_export_with_reordered_entries(log: dict[str, Any], tmp_path: Path) -> None:
    def swap(ls: list[bytes]) -> list[bytes]:
        ls[3], ls[4] = ls[4], ls[3]
        return ls

    code, text = run("log", str(_tampered_export(log, tmp_path, swap)), "--key", str(log["dir"] / "key.json"))
    assert code == 1 and "entry 3 was signed as leaf 4: entries were reordered" in text, text


def test_rolled_back_log(log: dict[str, Any]) -> None:
    d = log["dir"]
    code, text = run("consistency", str(d / "sth20.json"), str(d / "sth12.json"), "--key", str(d / "key.json"))
    assert code == 1 and "rolled back: tree size went from 20 to 12" in text, text


def test_rewritten_history_fails_consistency(log: dict[str, Any], tmp_path: Path) -> None:
    """A log that re-signs a different history (same key!) cannot prove consistency with an old STH."""
    d = log["dir"]
    other = tmp_path / "other"
    other.mkdir()
    shutil.copytree(d / "cw.duckdb.evidence", other / "cw.duckdb.evidence")
    import sqlite3

    con = sqlite3.connect(other / "cw.duckdb.evidence" / "evidence.sqlite")
    con.execute("DELETE FROM leaves WHERE idx >= 5")
    con.execute("DELETE FROM meta")
    con.commit()
    con.close()
    # the operator "rolls back" to 5 entries and rebuilds: it must re-sign an STH for size 5 by hand
    # before the collector starts; simulate that by starting with no STH: refused (leaves without STH)
    proc = CollectorProcess(other / "cw.duckdb", None, "--client-rate", "0")
    with pytest.raises(RuntimeError, match="no signed tree head"):
        proc.start(timeout=20)
    # and a different continuation signed by the same key is caught by the consistency check
    con = sqlite3.connect(other / "cw.duckdb.evidence" / "evidence.sqlite")
    con.execute("DELETE FROM leaves")
    con.commit()
    con.close()
    proc = CollectorProcess(other / "cw.duckdb", None, "--client-rate", "0").start()
    try:
        with httpx.Client(base_url=proc.url, timeout=10) as c:
            for i in range(100, 125):
                assert c.post(POST, content=orjson.dumps(make_measurement(i))).status_code == 201
            (tmp_path / "new.json").write_bytes(c.get("/api/v1/log/sth").content)
            (tmp_path / "cons.json").write_bytes(c.get("/api/v1/log/proof/consistency", params={"first": 12}).content)
    finally:
        proc.stop()
    code, text = run("consistency", str(d / "sth12.json"), str(tmp_path / "new.json"), "--proof",
                     str(tmp_path / "cons.json"), "--key", str(d / "key.json"))
    assert code == 1 and "NOT consistent" in text, text


def test_unreadable_input_is_a_clear_error(log: dict[str, Any], tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("{nope")
    code, text = run("receipt", str(tmp_path / "bad.json"), str(log["dir"] / "r3.json"), "--key", str(log["dir"] / "key.json"))
    assert code == 2 and "not valid JSON" in text
    code, text = run("receipt", str(log["dir"] / "m3.json"), str(tmp_path / "missing.json"), "--key", str(log["dir"] / "key.json"))
    assert code == 2 and "cannot read the receipt" in text


def _resigned_forgery(log: dict[str, Any], tmp_path: Path) -> Path:
    """The whole export rewritten: one measurement altered, every receipt and the tree head re-signed."""
    out = tmp_path / "forged"
    shutil.copytree(log["dir"] / "export", out)

    def alter(leaves: list[bytes]) -> list[bytes]:
        leaves[3] = leaves[3].replace(b'"AS64500"', b'"AS64501"')
        return leaves

    resign_export(out, alter)
    return out


def test_a_re_signed_forgery_is_never_called_verified(log: dict[str, Any], tmp_path: Path) -> None:
    forged = _resigned_forgery(log, tmp_path)
    alone = cli("verify", "log", str(forged))
    assert alone.returncode == 3, alone.stdout + alone.stderr
    assert "authenticity could not be established" in alone.stdout and "verified" not in alone.stdout
    assert "NOT a key you trust" in alone.stdout  # says what was checked against what
    accepted = cli("verify", "log", str(forged), "--accept-export-key")
    assert accepted.returncode == 0 and "NOT authenticated" in accepted.stdout
    pinned = cli("verify", "log", str(forged), "--key", str(log["dir"] / "key.json"))
    assert pinned.returncode == 1 and "FAILED" in pinned.stdout and "is not this key's log" in pinned.stdout
    assert "another key than the one you gave" in pinned.stdout
    genuine = cli("verify", "log", str(log["dir"] / "export"), "--key", str(log["dir"] / "key.json"))
    assert genuine.returncode == 0 and "signed by the key you trust" in genuine.stdout
    assert f"against the tree head {log['dir'] / 'export' / 'sth.json'}" in genuine.stdout
