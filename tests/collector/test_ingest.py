"""What the collector accepts reaches the DuckDB store, incrementally, while the collector serves."""

from __future__ import annotations

from pathlib import Path

import httpx
import orjson

from censorwatch.model.measurement import Measurement
from censorwatch.store.db import Store
from censorwatch.store.uid import stable_uid
from collector.helpers import cli, make_measurement

POST = "/api/v1/measurements"


def test_incremental_ingest_from_the_log(collector, samples: Path, tmp_path: Path) -> None:
    sample = samples / "fastpath" / "web_connectivity_ir_fp.json"
    real = orjson.loads(sample.read_bytes())
    # a file sent through the probe's queue by the CLI
    res = cli("collector", "submit", str(sample), "--url", collector.url, "--spool", str(tmp_path / "spool"))
    assert res.returncode == 0 and "delivered 1," in res.stdout, res.stdout + res.stderr
    (receipt,) = (tmp_path / "spool" / "receipts").glob("*.json")
    with httpx.Client(base_url=collector.url, timeout=10) as c:
        uids = [orjson.loads(receipt.read_bytes())["measurement_uid"]]
        uids += [c.post(POST, content=orjson.dumps(make_measurement(i))).json()["measurement_uid"] for i in range(4)]

        res = cli("collector", "ingest", "--db", str(collector.db))  # the collector keeps serving meanwhile
        assert res.returncode == 0, res.stdout + res.stderr
        assert "5 new" in res.stdout

        uids += [c.post(POST, content=orjson.dumps(make_measurement(i))).json()["measurement_uid"] for i in (10, 11)]
        res = cli("collector", "ingest", "--db", str(collector.db))
        assert res.returncode == 0 and "leaves 5..7: 2 new" in res.stdout, res.stdout
        res = cli("collector", "ingest", "--db", str(collector.db))
        assert res.returncode == 0 and "0 new" in res.stdout

    with Store(collector.db, read_only=True) as store:
        rows = store.con.execute(
            "SELECT m.measurement_uid, m.source, v.status FROM measurements m JOIN verdicts v USING (measurement_uid)"
        ).fetchall()
        assert sorted(r[0] for r in rows) == sorted(uids)
        assert {r[1] for r in rows} == {f"collector:{i}" for i in range(7)}
        # the stored raw bytes are the log's canonical bytes: the same uid as reading the file would give
        assert store.raw(uids[0]) == orjson.dumps(real, option=orjson.OPT_SORT_KEYS)
    assert stable_uid(Measurement.from_raw(real)) == uids[0]  # one uid however it arrives
