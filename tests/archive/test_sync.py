"""``censorwatch sync`` and ``ingest s3://`` against a real S3-compatible server holding OONI's layout."""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
import time
import zlib
from datetime import datetime
from pathlib import Path

import duckdb
import orjson
import pytest

from archive.fake import FakeArchive, measurement, objects_under
from censorwatch.store.db import Store

REPO = Path(__file__).resolve().parents[2]


def cw_cmd(archive: FakeArchive, *args: str | Path) -> tuple[list[str], dict[str, str]]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "COLUMNS": "200", "AWS_ENDPOINT_URL": archive.endpoint}
    return [sys.executable, "-m", "censorwatch", *map(str, args)], env


def cw(archive: FakeArchive, *args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    cmd, full_env = cw_cmd(archive, *args)
    return subprocess.run(cmd, capture_output=True, text=True, env={**full_env, **(env or {})}, timeout=300)


def sync(archive: FakeArchive, db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return cw(archive, "sync", "--db", db, "--bucket", archive.bucket, "--legacy-bucket", archive.legacy_bucket,
              "--format", "json", *args)


def stored(db: Path) -> dict[str, bytes]:
    """``{uid: raw bytes}`` of every stored measurement (each uid appears once: it is the key)."""
    with Store(db, read_only=True) as s:
        uids = [r[0] for r in s.con.execute("SELECT measurement_uid FROM measurements").fetchall()]
        out = {u: s.raw(u) or b"" for u in uids}
    assert len(out) == len(uids)
    return out


def table(db: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def three_days(archive: FakeArchive) -> None:
    """Feb 16-18 2024: PK, IR, IT web_connectivity at a few hours, PK signal, a second part, a
    postcan beside one object (not read), and uids left out as in OONI's own jsonl files."""
    for day in (16, 17, 18):
        for hour in (0, 5, 13, 23):
            for cc in ("PK", "IR", "IT"):
                archive.put_raw_hour(datetime(2024, 2, day, hour), cc, "web_connectivity", 6,
                                     with_uid=(hour != 13), start=day * 1000 + hour * 10)
        archive.put_raw_hour(datetime(2024, 2, day, 5), "PK", "signal", 3, start=day * 1000 + 500)
    archive.put_raw_hour(datetime(2024, 2, 17, 5), "PK", "web_connectivity", 4, part=1, start=9000)
    archive.client.put_object(Bucket=archive.bucket, Body=b"not read",
                              Key="raw/20240217/05/PK/webconnectivity/2024021705_PK_webconnectivity.n1.0.tar.gz")


def test_full_sync_stores_exactly_the_archive_and_a_rerun_fetches_nothing(archive: FakeArchive, tmp_path: Path) -> None:
    three_days(archive)
    db = tmp_path / "s.duckdb"
    dry = sync(archive, db, "--since", "2024-02-16", "--until", "2024-02-17", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    wanted = [u for u in archive.lines if "/20240216/" in u or "/20240217/" in u]
    sizes = {o["Key"]: o["Size"] for o in archive.client.list_objects_v2(Bucket=archive.bucket)["Contents"]}
    plan = orjson.loads(dry.stdout)
    assert plan["objects"] == len(wanted) == 2 * (4 * 3 + 1) + 1
    assert plan["bytes"] == sum(sizes[u.split("/", 3)[3]] for u in wanted)
    assert plan["skipped"] == {"postcan (the jsonl.gz beside it holds the same)": 1}

    r = sync(archive, db, "--since", "2024-02-16", "--until", "2024-02-17")
    assert r.returncode == 0, r.stderr
    res = orjson.loads(r.stdout)
    expected = archive.expected(wanted)
    assert res["objects"] == len(wanted) and res["new"] == len(expected) and res["bad"] == 0
    assert stored(db) == expected  # every measurement, once, byte for byte; nothing from Feb 18
    assert table(db, "SELECT count(*) FROM verdicts")[0][0] == len(expected)
    etags = {o["Key"]: o["ETag"].strip('"') for o in archive.client.list_objects_v2(Bucket=archive.bucket)["Contents"]}
    rows = table(db, "SELECT url, etag, measurements, bad FROM archive_objects")
    assert {u: e for u, e, _, _ in rows} == {u: etags[u.split("/", 3)[3]] for u in wanted}
    assert all(n == len(archive.lines[u]) and bad == 0 for u, _, n, bad in rows)

    again = sync(archive, db, "--since", "2024-02-16", "--until", "2024-02-17")
    assert again.returncode == 0, again.stderr
    res = orjson.loads(again.stdout)
    assert (res["objects"], res["bytes"], res["measurements"]) == (0, 0, 0)
    plan = orjson.loads(sync(archive, db, "--since", "2024-02-16", "--until", "2024-02-17", "--dry-run").stdout)
    assert (plan["objects"], plan["bytes"], plan["already"]) == (0, 0, len(wanted))


def test_selection_by_country_test_and_hour(archive: FakeArchive, tmp_path: Path) -> None:
    three_days(archive)
    db = tmp_path / "s.duckdb"
    r = sync(archive, db, "--cc", "PK,IR", "--test", "web_connectivity", "--since", "2024-02-16T05",
             "--until", "2024-02-17T05")
    assert r.returncode == 0, r.stderr
    wanted = [u for u in archive.lines if "/webconnectivity/" in u and ("/PK/" in u or "/IR/" in u)
              and any(f"/{h}/" in u for h in ("20240216/05", "20240216/13", "20240216/23", "20240217/00",
                                              "20240217/05"))]
    assert len(wanted) == 5 * 2 + 1
    assert stored(db) == archive.expected(wanted)
    # the test can be named either way, and a second country list adds only its own objects
    r = sync(archive, db, "--cc", "IT", "--test", "webconnectivity", "--since", "2024-02-18T23", "--until", "2024-02-18T23")
    assert r.returncode == 0, r.stderr
    assert orjson.loads(r.stdout)["objects"] == 1
    assert set(stored(db)) == set(archive.expected([*wanted, *objects_under(archive, "raw/20240218/23/IT/")]))


def test_killed_sync_resumes_with_nothing_missing_and_nothing_twice(archive: FakeArchive, tmp_path: Path) -> None:
    for hour in range(24):
        for cc in ("PK", "IR"):
            archive.put_raw_hour(datetime(2024, 2, 17, hour), cc, "web_connectivity", 40,
                                 with_uid=hour % 2 == 0, start=hour * 100)
    db = tmp_path / "s.duckdb"
    cmd, env = cw_cmd(archive, "sync", "--db", db, "--bucket", archive.bucket, "--since", "2024-02-17",
                      "--until", "2024-02-17", "--batch-size", "30", "--format", "json")
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    parts = Path(f"{db}.raw")
    deadline = time.monotonic() + 240
    while proc.poll() is None and len(list(parts.glob("part-*.parquet"))) < 4 and time.monotonic() < deadline:
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL, "the sync finished before it could be killed"
    before = table(db, "SELECT count(*) FROM archive_objects")[0][0]
    assert before < len(archive.lines)

    r = sync(archive, db, "--since", "2024-02-17", "--until", "2024-02-17")
    assert r.returncode == 0, r.stderr
    assert orjson.loads(r.stdout)["objects"] == len(archive.lines) - before  # the recorded ones are not fetched
    expected = archive.expected()
    assert stored(db) == expected
    # nothing twice in the other tables either: the same counts as an uninterrupted sync
    clean = tmp_path / "clean.duckdb"
    assert sync(archive, clean, "--since", "2024-02-17", "--until", "2024-02-17").returncode == 0
    for sql in ("SELECT count(*) FROM observations", "SELECT count(*), count(DISTINCT measurement_uid) FROM verdicts",
                "SELECT count(*), sum(measurements) FROM archive_objects"):
        assert table(db, sql) == table(clean, sql), sql
    assert table(db, "SELECT count(*) FROM verdicts")[0][0] == len(expected)


def _truncated(lines: list[bytes], keep: float) -> tuple[bytes, int]:
    """The gzip of ``lines`` cut to ``keep`` of its size, and how many whole lines survive the cut."""
    data = gzip.compress(b"\n".join(lines) + b"\n")
    cut = data[: int(len(data) * keep)]
    inflated = zlib.decompressobj(31).decompress(cut)
    return cut, inflated.count(b"\n")


def test_corrupt_objects_are_reported_by_line_and_the_rest_is_stored(archive: FakeArchive, tmp_path: Path) -> None:
    when = datetime(2024, 2, 17, 10)
    good = archive.put_raw_hour(when, "PK", "web_connectivity", 8)
    lines = [measurement("IR", when, i) for i in range(6)]
    bad_key = "raw/20240217/10/IR/webconnectivity/2024021710_IR_webconnectivity.n1.0.jsonl.gz"
    bad = archive.put_jsonl_gz(bad_key, [*lines[:2], b'{"test_name": "web_connectivity", "probe_cc"', *lines[2:]])
    archive.lines[bad] = lines  # the good ones
    tlines = [measurement("IT", when, 100 + i) for i in range(40)]
    body, whole = _truncated(tlines, 0.6)
    assert 0 < whole < len(tlines)
    trunc_key = "raw/20240217/10/IT/webconnectivity/2024021710_IT_webconnectivity.n1.0.jsonl.gz"
    trunc = archive.put(trunc_key, body, tlines[:whole])
    db = tmp_path / "s.duckdb"

    r = sync(archive, db, "--since", "2024-02-17", "--until", "2024-02-17")
    assert r.returncode == 1, r.stderr
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("s3://")]
    assert len(errors) == 2, r.stderr
    assert errors[0].startswith(f"{bad}:3: invalid JSON") or errors[1].startswith(f"{bad}:3: invalid JSON")
    assert any(e.startswith(f"{trunc}:{whole + 1}: ") for e in errors), (errors, whole)
    assert stored(db) == archive.expected([good, bad, trunc])
    rows = dict((u, (n, b)) for u, n, b in table(db, "SELECT url, measurements, bad FROM archive_objects"))
    assert rows == {good: (8, 0), bad: (6, 1), trunc: (whole, 1)}
    # damaged at the source: fetching again gives the same bytes, so a re-run fetches nothing
    again = sync(archive, db, "--since", "2024-02-17", "--until", "2024-02-17")
    assert again.returncode == 0 and orjson.loads(again.stdout)["objects"] == 0


def test_a_changed_object_is_fetched_again(archive: FakeArchive, tmp_path: Path) -> None:
    when = datetime(2024, 2, 17, 3)
    url = archive.put_raw_hour(when, "PK", "web_connectivity", 5)
    archive.put_raw_hour(when, "IR", "web_connectivity", 5)
    db = tmp_path / "s.duckdb"
    assert sync(archive, db, "--since", "2024-02-17", "--until", "2024-02-17").returncode == 0
    first = stored(db)
    archive.put_raw_hour(when, "PK", "web_connectivity", 7)  # two more measurements, a new ETag
    plan = orjson.loads(sync(archive, db, "--since", "2024-02-17", "--until", "2024-02-17", "--dry-run").stdout)
    assert (plan["objects"], plan["changed"], plan["already"]) == (1, 1, 1)
    r = sync(archive, db, "--since", "2024-02-17", "--until", "2024-02-17")
    res = orjson.loads(r.stdout)
    assert (res["objects"], res["measurements"], res["new"], res["duplicates"]) == (1, 7, 2, 5)
    assert stored(db) == {**first, **archive.expected([url])}


def test_ingest_of_an_s3_prefix_is_a_sync(archive: FakeArchive, tmp_path: Path) -> None:
    three_days(archive)
    db = tmp_path / "s.duckdb"
    r = cw(archive, "ingest", f"s3://{archive.bucket}/raw/20240217/05/", "--db", db)
    assert r.returncode == 0, r.stderr
    assert stored(db) == archive.expected(objects_under(archive, "raw/20240217/05/"))
    assert cw(archive, "ingest", f"s3://{archive.bucket}/raw/", "x.jsonl", "--db", db).returncode == 2


def test_older_layouts_jsonl_and_cans(archive: FakeArchive, tmp_path: Path) -> None:
    old = datetime(2020, 9, 21)
    jsonl_it = archive.put_jsonl_gz("jsonl/webconnectivity/IT/20200921/00/20200921_IT_webconnectivity.l.0.jsonl.gz",
                                    [measurement("IT", old, i) for i in range(5)])
    archive.put_jsonl_gz("jsonl/webconnectivity/PK/20200921/00/20200921_PK_webconnectivity.l.0.jsonl.gz",
                         [measurement("PK", old, 50 + i) for i in range(4)])
    archive.put_jsonl_gz("jsonl/signal/IT/20200922/00/20200922_IT_signal.l.0.jsonl.gz",
                         [measurement("IT", old, 80 + i, test="signal") for i in range(3)])
    db = tmp_path / "s.duckdb"
    r = sync(archive, db, "--cc", "IT", "--since", "2020-09-21", "--until", "2020-09-22")
    assert r.returncode == 0, r.stderr
    jsonl_it_signal = objects_under(archive, "jsonl/signal/IT/")
    assert stored(db) == archive.expected([jsonl_it, *jsonl_it_signal])

    day_legacy, day_main = datetime(2020, 5, 1), datetime(2020, 7, 1)
    legacy = archive.put_can(day_legacy, "web_connectivity", {
        "20200501T000000Z-IT-AS3269-web_connectivity-r1-0.2.0-probe.json":
            [measurement("IT", day_legacy, i, with_uid=False) for i in range(4)],
        "20200501T000000Z-PK-AS17557-web_connectivity-r2-0.2.0-probe.json":
            [measurement("PK", day_legacy, 10 + i, with_uid=False) for i in range(3)],
        "20200501T000000Z-IT-AS3269-http_requests-r3-0.1.0-probe.yaml": [b"---", b"old: yaml"],
    }, bucket=archive.legacy_bucket)
    main = archive.put_can(day_main, "web_connectivity", {
        "20200701T000000Z-IT-AS3269-web_connectivity-r4-0.2.0-probe.json":
            [measurement("IT", day_main, 20 + i) for i in range(2)],
    }, bucket=archive.bucket)
    db2 = tmp_path / "cans.duckdb"
    r = sync(archive, db2, "--layout", "can", "--cc", "IT", "--since", "2020-05-01", "--until", "2020-07-01")
    assert r.returncode == 1, r.stderr  # the YAML report is reported, not read
    assert any(ln.startswith(f"{legacy}/2020-05-01/20200501T000000Z-IT-AS3269-http_requests") and "YAML" in ln
               for ln in r.stderr.splitlines()), r.stderr
    res = orjson.loads(r.stdout)
    assert (res["objects"], res["filtered"]) == (2, 3)  # cans name no country: PK's records are dropped
    want = {u: line for u, line in archive.expected([legacy, main]).items() if b'"probe_cc":"IT"' in line}
    assert len(want) == 6 and stored(db2) == want


def test_unreachable_archive_and_bad_options_say_why(archive: FakeArchive, tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    r = sync(archive, db, "--since", "2024-02-17", "--endpoint-url", "http://127.0.0.1:9", "--until", "2024-02-17T00")
    assert r.returncode == 4 and "cannot list" in r.stderr
    r = sync(archive, db, "--since", "17/02/2024")
    assert r.returncode == 2 and "--since" in r.stderr
    r = sync(archive, db, "--since", "2024-02-18", "--until", "2024-02-17")
    assert r.returncode == 2 and "empty time range" in r.stderr
    r = sync(archive, db, "--since", "2024-02-17", "--layout", "tar")
    assert r.returncode == 2 and "layout" in r.stderr


def test_without_since_the_sync_starts_at_the_first_day_in_raw(archive: FakeArchive, tmp_path: Path) -> None:
    three_days(archive)
    db = tmp_path / "s.duckdb"
    plan = orjson.loads(cw(archive, "sync", "--db", db, "--bucket", archive.bucket, "--dry-run", "--format", "json").stdout)
    assert plan["objects"] == len(archive.lines) and plan["prefixes"] == 3  # the days raw/ has, whole
    r = cw(archive, "sync", "--db", db, "--bucket", archive.bucket, "--cc", "IT", "--format", "json")
    assert r.returncode == 0, r.stderr
    assert stored(db) == archive.expected([u for u in archive.lines if "/IT/" in u])
    r = cw(archive, "sync", "--db", db, "--bucket", archive.bucket, "--layout", "can")
    assert r.returncode == 2 and "--layout can needs --since" in r.stderr


NO_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
                  "AWS_CONFIG_FILE": "/nonexistent", "AWS_EC2_METADATA_DISABLED": "true"}


@pytest.mark.private_bucket
def test_a_server_refusing_unsigned_requests_is_asked_with_the_configured_credentials(
    archive: FakeArchive, tmp_path: Path
) -> None:
    url = archive.put_raw_hour(datetime(2024, 2, 17, 3), "PK", "web_connectivity", 5)
    db = tmp_path / "s.duckdb"
    r = cw(archive, "sync", "--db", db, "--bucket", archive.bucket, "--since", "2024-02-17", "--until", "2024-02-17",
           env=NO_CREDENTIALS)
    assert r.returncode == 4 and "403" in r.stderr, r.stderr  # the object is private: refused, said so
    r = cw(archive, "sync", "--db", db, "--bucket", archive.bucket, "--since", "2024-02-17", "--until", "2024-02-17",
           env={**NO_CREDENTIALS, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"})
    assert r.returncode == 0, r.stderr
    assert stored(db) == archive.expected([url])
