"""The writer when the disk fails: the batch is refused with 503 (not 500), nothing of it is kept,
and the log carries on consistently afterwards."""

from __future__ import annotations

import warnings
from pathlib import Path

import orjson
import pytest

from censorwatch.collector.app import CollectorConfig, create_app
from censorwatch.collector.merkle import MerkleTree
from censorwatch.store.evidence import EvidenceStore
from collector.helpers import make_measurement

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

POST = "/api/v1/measurements"


def test_a_failed_commit_is_a_503_and_leaves_no_trace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    where = tmp_path / "ev"
    with TestClient(create_app(CollectorConfig(evidence_dir=where, client_rate=0))) as c:
        assert c.post(POST, content=orjson.dumps(make_measurement(1))).status_code == 201
        real = EvidenceStore.commit

        def full_disk(*args: object, **kwargs: object) -> None:
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(EvidenceStore, "commit", full_disk)
        r = c.post(POST, content=orjson.dumps(make_measurement(2)))
        assert r.status_code == 503 and r.json()["error"] == "storage_error" and r.headers["retry-after"] == "10"
        assert c.get("/api/v1/log/sth").json()["tree_size"] == 1

        monkeypatch.setattr(EvidenceStore, "commit", real)
        r = c.post(POST, content=orjson.dumps(make_measurement(2)))  # the retry
        assert r.status_code == 201 and r.json()["receipt"]["leaf_index"] == 1
        sth = c.get("/api/v1/log/sth").json()
    ev = EvidenceStore(where / "evidence.sqlite", readonly=True)
    hashes = [h for _, h in ev.leaf_hashes()]
    assert len(hashes) == 2 and MerkleTree(hashes).root().hex() == sth["root_hash"]
    assert not ev.integrity_problems()


def test_the_log_key_is_private_and_stable(tmp_path: Path) -> None:
    from censorwatch.collector.keys import LogSigner, LogVerifier, load_or_create_key, public_key_document

    path = tmp_path / "ev" / "log_key.pem"
    first = LogSigner(load_or_create_key(path))
    assert path.stat().st_mode & 0o777 == 0o600
    again = LogSigner(load_or_create_key(path))
    assert again.log_id == first.log_id
    verifier = LogVerifier.from_document(public_key_document(first.public))
    sth = again.sth(3, bytes(32), 1)
    assert verifier.check_sth(sth) is None
    assert verifier.check_receipt(sth) is not None  # an STH never passes as a receipt (domain tags)
    path.chmod(0o644)
    with pytest.raises(PermissionError, match="chmod 600"):
        load_or_create_key(path)


def test_receipt_bytes_are_the_receipt_document(tmp_path: Path) -> None:
    from censorwatch.collector.keys import LogSigner, LogVerifier, load_or_create_key

    signer = LogSigner(load_or_create_key(tmp_path / "k.pem"))
    for idx, uid in ((0, "a"), (12345, "20260301100000.123456_PK_webconnectivity_0123456789abcdef"), (7, 'q"\\u')):
        fast = signer.receipt_bytes(idx, bytes(range(32)), uid, 1_760_000_000_123)
        assert fast == orjson.dumps(signer.receipt(idx, bytes(range(32)), uid, 1_760_000_000_123))
        assert LogVerifier(signer.public).check_receipt(orjson.loads(fast)) is None
