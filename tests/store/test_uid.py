"""Stable uids: OONI's when present, else derived from content, equal across file layouts."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson

from censorwatch.model.measurement import Measurement
from censorwatch.pipeline.ingest import ingest
from censorwatch.store.db import Store
from censorwatch.store.reader import read_paths
from censorwatch.store.uid import stable_uid


def _only(path: Path) -> Measurement:
    items = list(read_paths([path]))
    assert len(items) == 1 and isinstance(items[0], Measurement), items
    return items[0]


def test_uid_is_the_same_in_every_file_form(samples: Path, tmp_path: Path) -> None:
    src = samples / "fastpath" / "bug_351.json"  # pretty-printed, no measurement_uid
    obj = orjson.loads(src.read_bytes())
    assert "measurement_uid" not in obj
    reordered = dict(reversed(list(obj.items())))
    forms = {
        "pretty.json": src.read_bytes(),
        "compact.jsonl": orjson.dumps(obj) + b"\n",
        "reordered.json": orjson.dumps(reordered, option=orjson.OPT_INDENT_2),
    }
    for name, data in list(forms.items()):
        forms[name + ".gz"] = gzip.compress(data)
    uids = set()
    for name, data in forms.items():
        (tmp_path / name).write_bytes(data)
        uids.add(stable_uid(_only(tmp_path / name)))
    assert len(uids) == 1
    (uid,) = uids
    # OONI's layout: start time, country, compact test name, hex suffix
    assert uid.startswith("20200229015141.") and "_NL_webconnectivity_" in uid
    with Store(tmp_path / "db.duckdb") as store:
        stats = ingest(store, read_paths([tmp_path / n for n in forms]))
        assert (stats.new, stats.duplicates) == (1, len(forms) - 1)


def test_uid_changes_with_content_and_keeps_oonis(samples: Path) -> None:
    m = _only(samples / "fastpath" / "bug_351.json")
    changed = dict(m.raw, input="http://other.example/")
    assert stable_uid(Measurement.from_raw(changed)) != stable_uid(m)
    with_uid = _only(samples / "fastpath" / "web_connectivity_no_body.json")
    assert with_uid.measurement_uid
    assert stable_uid(with_uid) == with_uid.measurement_uid
