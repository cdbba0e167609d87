"""Proofs over the log's Merkle tree: roots, inclusion and consistency (RFC 9162, 2.1).

Pure (no Django): the tree is built from its leaf hashes, in order. Checking
a proof is `verifier`'s job; this module makes them.

The hashes of perfect subtrees are kept level by level, each level one
`bytes` of 32-byte hashes, so a tree of a million leaves costs about 64 MB
and any proof then takes O(log n) hashes.
"""

from __future__ import annotations

from collections.abc import Iterable

from advisory.history.verifier import EMPTY_ROOT, HASH_BYTES, node_hash


class Tree:
    def __init__(self, leaf_hashes: Iterable[bytes]) -> None:
        level = b"".join(leaf_hashes)
        self.size = len(level) // HASH_BYTES
        self._levels = [level]
        while len(level) >= 2 * HASH_BYTES:
            pairs = len(level) // (2 * HASH_BYTES)
            level = b"".join(
                node_hash(
                    level[2 * i * HASH_BYTES : (2 * i + 1) * HASH_BYTES],
                    level[(2 * i + 1) * HASH_BYTES : (2 * i + 2) * HASH_BYTES],
                )
                for i in range(pairs)
            )
            self._levels.append(level)

    def leaf(self, index: int) -> bytes:
        return self._node(0, index)

    def root(self, size: int | None = None) -> bytes:
        size = self.size if size is None else size
        self._check_size(size)
        return self._hash(0, size) if size else EMPTY_ROOT

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """PATH(index, D[0:size]) of RFC 9162, 2.1.3.1."""
        size = self.size if size is None else size
        self._check_size(size)
        if not 0 <= index < size:
            raise ValueError(f"No leaf {index} in a tree of {size}.")
        return self._path(index, 0, size)

    def consistency_proof(self, first: int, second: int | None = None) -> list[bytes]:
        """PROOF(first, D[0:second]) of RFC 9162, 2.1.4.1."""
        second = self.size if second is None else second
        self._check_size(second)
        if not 0 <= first <= second:
            raise ValueError(f"A tree of {first} cannot be extended by one of {second}.")
        if first in (0, second):
            return []
        return self._subproof(first, 0, second, True)

    # --- The recursion of RFC 9162, over [lo, hi) ---

    def _path(self, index: int, lo: int, hi: int) -> list[bytes]:
        n = hi - lo
        if n == 1:
            return []
        k = _split(n)
        if index < k:
            return [*self._path(index, lo, lo + k), self._hash(lo + k, hi)]
        return [*self._path(index - k, lo + k, hi), self._hash(lo, lo + k)]

    def _subproof(self, m: int, lo: int, hi: int, complete: bool) -> list[bytes]:
        n = hi - lo
        if m == n:
            return [] if complete else [self._hash(lo, hi)]
        k = _split(n)
        if m <= k:
            return [*self._subproof(m, lo, lo + k, complete), self._hash(lo + k, hi)]
        return [*self._subproof(m - k, lo + k, hi, False), self._hash(lo, lo + k)]

    def _hash(self, lo: int, hi: int) -> bytes:
        """MTH(D[lo:hi]): a perfect subtree from its level, otherwise split."""
        n = hi - lo
        if n & (n - 1) == 0 and lo % n == 0:
            return self._node(n.bit_length() - 1, lo // n)
        k = _split(n)
        return node_hash(self._hash(lo, lo + k), self._hash(lo + k, hi))

    def _node(self, level: int, index: int) -> bytes:
        return self._levels[level][index * HASH_BYTES : (index + 1) * HASH_BYTES]

    def _check_size(self, size: int) -> None:
        if not 0 <= size <= self.size:
            raise ValueError(f"The tree has {self.size} leaves, not {size}.")


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)
