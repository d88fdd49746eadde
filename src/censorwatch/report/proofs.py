"""Transparency-log facts for evidence: leaf index, leaf hash and an RFC 6962 inclusion proof.

The collector keeps its log beside the DuckDB file (``store/evidence.py``); without a log, reports and
pages simply show no proofs. Proofs are
computed against the log's current size from its leaf hashes (RFC 6962 section 2.1.1 ``PATH``);
the signed tree head is shown as stored so a reader can compare it with what monitors saw.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from censorwatch.store.evidence import EvidenceStore, evidence_dir

MAX_LEAVES_FOR_PROOFS = 100_000


@dataclass(slots=True)
class LeafProof:
    index: int
    leaf_hash: str  # hex
    audit_path: list[str]  # hex, leaf to root


@dataclass(slots=True)
class LogInfo:
    tree_size: int
    root_hash: str  # hex
    sth_b64: str | None
    leaves: dict[str, LeafProof] = field(default_factory=dict)


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def root(hashes: Sequence[bytes]) -> bytes:
    """RFC 6962 Merkle tree hash of leaf hashes."""
    if not hashes:
        return hashlib.sha256(b"").digest()
    if len(hashes) == 1:
        return hashes[0]
    k = _split(len(hashes))
    return _node(root(hashes[:k]), root(hashes[k:]))


def audit_path(m: int, hashes: Sequence[bytes]) -> list[bytes]:
    """RFC 6962 ``PATH(m, D[n])``: sibling hashes from leaf ``m`` up to the root."""
    n = len(hashes)
    if n <= 1:
        return []
    k = _split(n)
    if m < k:
        return [*audit_path(m, hashes[:k]), root(hashes[k:])]
    return [*audit_path(m - k, hashes[k:]), root(hashes[:k])]


def verify(leaf: bytes, index: int, size: int, path: Sequence[bytes], expected_root: bytes) -> bool:
    """RFC 9162 section 2.1.3.2 inclusion verification (used by tests and documented for readers)."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = _node(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = _node(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == expected_root


def _signed_size(sth: bytes | None) -> int | None:
    """The ``tree_size`` of the collector's signed tree head document (JSON), if it has one."""
    if not sth:
        return None
    try:
        doc = json.loads(sth)
    except ValueError:
        return None
    size = doc.get("tree_size") if isinstance(doc, dict) else None
    return size if isinstance(size, int) and size >= 0 else None


def lookup(db_path: Path | None, uids: Sequence[str]) -> LogInfo | None:
    """Proofs for those of ``uids`` that are in the log beside ``db_path``; None without a log."""
    if db_path is None:
        return None
    path = evidence_dir(db_path) / "evidence.sqlite"
    if not path.exists():
        return None
    es = EvidenceStore(path, readonly=True)
    try:
        hashes = [bytes(h) for _, h in es.leaf_hashes()] if es.count() <= MAX_LEAVES_FOR_PROOFS else []
        sth = es.latest_sth()
        size = _signed_size(sth)
        if size is not None and size <= len(hashes):
            hashes = hashes[:size]  # prove against the signed tree head, not unsigned newer leaves
        info = LogInfo(len(hashes), root(hashes).hex(), base64.b64encode(sth).decode() if sth else None)
        for uid in uids:
            ref = es.by_uid(uid)
            if ref is None or ref.idx >= len(hashes):
                continue
            info.leaves[uid] = LeafProof(ref.idx, bytes(ref.leaf_hash).hex(),
                                         [h.hex() for h in audit_path(ref.idx, hashes)])
        return info
    finally:
        es.close()
