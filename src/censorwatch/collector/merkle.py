"""RFC 6962 / RFC 9162 Merkle tree maths: hashing, an append-only in-memory tree, proofs, verification.

Pure and standard-library only. Leaf hash = SHA-256(0x00 || data); interior node = SHA-256(0x01 || left
|| right); the root of the empty tree is SHA-256(""). Inclusion and consistency proofs follow RFC 6962
section 2.1 (generation) and are verified with the RFC 9162 section 2.1.3.2 / 2.1.4.2 algorithms.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


class MerkleTree:
    """An append-only tree keeping every perfect aligned subtree hash: appends are O(1) amortised,
    roots and proofs for any earlier tree size O(log^2 n) hashes."""

    def __init__(self, leaves: Iterable[bytes] = ()) -> None:
        # levels[k][i] = hash of the perfect subtree over leaves [i * 2^k, (i + 1) * 2^k)
        self._levels: list[list[bytes]] = [[]]
        for h in leaves:
            self.append(h)

    @property
    def size(self) -> int:
        return len(self._levels[0])

    def leaf(self, index: int) -> bytes:
        return self._levels[0][index]

    def append(self, h: bytes) -> int:
        """Add one leaf hash; return its index."""
        if len(h) != 32:
            raise ValueError("a leaf hash is 32 bytes")
        levels = self._levels
        levels[0].append(h)
        k = 0
        while len(levels[k]) % 2 == 0:
            parent = node_hash(levels[k][-2], levels[k][-1])
            if len(levels) == k + 1:
                levels.append([])
            levels[k + 1].append(parent)
            k += 1
        return len(levels[0]) - 1

    def truncate(self, tree_size: int) -> None:
        """Forget every leaf from ``tree_size`` on (undo appends whose commit failed)."""
        self._check_size(tree_size)
        for k, level in enumerate(self._levels):
            del level[tree_size >> k :]

    def _mth(self, start: int, end: int) -> bytes:
        n = end - start
        if n == 0:
            return EMPTY_ROOT
        if n & (n - 1) == 0 and start % n == 0:
            return self._levels[n.bit_length() - 1][start // n]
        k = _split(n)
        return node_hash(self._mth(start, start + k), self._mth(start + k, end))

    def _check_size(self, tree_size: int) -> None:
        if not 0 <= tree_size <= self.size:
            raise ValueError(f"tree_size {tree_size} outside 0..{self.size}")

    def root(self, tree_size: int | None = None) -> bytes:
        n = self.size if tree_size is None else tree_size
        self._check_size(n)
        return self._mth(0, n)

    def inclusion_proof(self, index: int, tree_size: int) -> list[bytes]:
        """RFC 6962 PATH(index, D[0:tree_size])."""
        self._check_size(tree_size)
        if not 0 <= index < tree_size:
            raise ValueError(f"leaf index {index} is not in a tree of size {tree_size}")
        path: list[bytes] = []
        start, end, m = 0, tree_size, index
        while end - start > 1:
            k = _split(end - start)
            if m < k:
                path.append(self._mth(start + k, end))
                end = start + k
            else:
                path.append(self._mth(start, start + k))
                start, m = start + k, m - k
        path.reverse()
        return path

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        """RFC 6962 PROOF(first, D[0:second])."""
        self._check_size(second)
        if not 0 <= first <= second:
            raise ValueError(f"first {first} must be between 0 and second {second}")
        if first == 0 or first == second:
            return []
        proof: list[bytes] = []
        start, end, m, complete = 0, second, first, True
        while m != end - start:
            k = _split(end - start)
            if m <= k:
                proof.append(self._mth(start + k, end))
                end = start + k
            else:
                proof.append(self._mth(start, start + k))
                start, m, complete = start + k, m - k, False
        if not complete:
            proof.append(self._mth(start, end))
        proof.reverse()
        return proof


def root_of(leaves: Sequence[bytes]) -> bytes:
    """The root over a list of leaf hashes (builds a throwaway tree)."""
    return MerkleTree(leaves).root()


def verify_inclusion(
    leaf: bytes, index: int, tree_size: int, path: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 2.1.3.2: does ``path`` prove leaf hash ``leaf`` at ``index`` under ``root``?"""
    if not 0 <= index < tree_size:
        return False
    fn, sn, r = index, tree_size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 2.1.4.2: is the tree of size ``second`` an append-only extension of ``first``?"""
    if not 0 <= first <= second:
        return False
    if first == second:
        return len(proof) == 0 and first_root == second_root
    if first == 0:
        return len(proof) == 0
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0
