"""RFC 6962 Merkle maths against a straightforward recursive reference and known test vectors."""

from __future__ import annotations

import hashlib

import pytest

from censorwatch.collector.merkle import (
    EMPTY_ROOT,
    MerkleTree,
    leaf_hash,
    node_hash,
    verify_consistency,
    verify_inclusion,
)


def reference_root(leaves: list[bytes]) -> bytes:
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaves[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return node_hash(reference_root(leaves[:k]), reference_root(leaves[k:]))


LEAVES = [leaf_hash(f"entry {i}".encode()) for i in range(40)]
TREE = MerkleTree(LEAVES)


def test_hashing_domain_separation_matches_rfc6962() -> None:
    assert leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    assert node_hash(b"a" * 32, b"b" * 32) == hashlib.sha256(b"\x01" + b"a" * 32 + b"b" * 32).digest()
    assert MerkleTree().root() == EMPTY_ROOT
    # RFC 6962 / certificate-transparency-go test vector: root of the 8 standard test leaves
    vec = [bytes.fromhex(x) for x in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                          "606162636465666768696a6b6c6d6e6f")]
    tree = MerkleTree(leaf_hash(v) for v in vec)
    assert tree.root().hex() == "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
    assert tree.root(1).hex() == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"


def test_roots_match_the_reference_for_every_size() -> None:
    for n in range(len(LEAVES) + 1):
        assert TREE.root(n) == reference_root(LEAVES[:n]), n


def test_inclusion_proofs_verify_and_detect_tampering() -> None:
    for n in range(1, len(LEAVES) + 1):
        root = TREE.root(n)
        for i in range(n):
            path = TREE.inclusion_proof(i, n)
            assert verify_inclusion(LEAVES[i], i, n, path, root)
            assert not verify_inclusion(leaf_hash(b"forged"), i, n, path, root)
            if n > 1:
                assert not verify_inclusion(LEAVES[i], (i + 1) % n, n, path, root)
            if path:
                bad = [*path[:-1], bytes(32)]
                assert not verify_inclusion(LEAVES[i], i, n, bad, root)
                assert not verify_inclusion(LEAVES[i], i, n, path[:-1], root)


def test_consistency_proofs_verify_and_detect_rewrites() -> None:
    rewritten = MerkleTree([*LEAVES[:5], leaf_hash(b"rewritten"), *LEAVES[6:]])
    for n in range(len(LEAVES) + 1):
        for m in range(n + 1):
            proof = TREE.consistency_proof(m, n)
            assert verify_consistency(m, n, TREE.root(m), TREE.root(n), proof), (m, n)
            if 6 <= m < n:
                # the old tree contained entry 5; a rewritten history cannot prove consistency with it
                assert not verify_consistency(m, n, TREE.root(m), rewritten.root(n), proof)
                assert not verify_consistency(
                    m, n, TREE.root(m), rewritten.root(n), rewritten.consistency_proof(m, n)
                )
    assert not verify_consistency(5, 3, TREE.root(5), TREE.root(3), [])


def test_truncate_undoes_appends() -> None:
    t = MerkleTree(LEAVES[:13])
    before = t.root()
    for h in LEAVES[13:31]:
        t.append(h)
    t.truncate(13)
    assert t.size == 13 and t.root() == before
    t.append(LEAVES[13])
    assert t.root() == reference_root(LEAVES[:14])
    with pytest.raises(ValueError):
        t.inclusion_proof(14, 14)
