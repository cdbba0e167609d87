"""Checking Candor's log with nothing but Python's standard library.

This module is Candor's own check and, copied unchanged into every evidence
pack as `verify.py`, the recipient's: what one verifies, the other verifies
the same way. So it imports nothing outside the standard library (an
import-linter contract says so) and never reaches the network.

The log is an append-only Merkle tree as in Certificate Transparency
(RFC 9162, section 2.1; the same hashing as RFC 6962):

    entry digest = SHA-256(salt || canonical JSON of the entry, UTF-8)
    leaf hash    = SHA-256(0x00 || entry digest)
    node hash    = SHA-256(0x01 || left || right)

The salt (16 random bytes per entry) makes a digest reveal nothing about its
entry, so proving one client's entries shows only hashes of anyone else's.

A tree head is the text below, signed by the firm's Ed25519 key and
timestamped by an RFC 3161 authority (over the SHA-256 of the same bytes):

    candor-tree-head/1
    size <number of entries>
    root <root hash, lowercase hex>
    time <when it was made, ISO 8601 UTC>
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

HEAD_FORMAT = "candor-tree-head/1"
EMPTY_ROOT = hashlib.sha256(b"").digest()
HASH_BYTES = 32


class VerificationFailed(Exception):
    """A check failed; the message says which and why, in plain words."""


# --- Hashing ------------------------------------------------------------------


def entry_digest(salt: bytes, canonical: bytes) -> bytes:
    return hashlib.sha256(salt + canonical).digest()


def leaf_hash(digest: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + digest).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_of(leaf_hashes: Iterable[bytes]) -> bytes:
    """The Merkle tree hash (RFC 9162, 2.1.1) of the leaves, in one pass."""
    frontier = Frontier()
    for leaf in leaf_hashes:
        frontier.append(leaf)
    return frontier.root()


class Frontier:
    """The right edge of a growing tree: the roots of its perfect subtrees.

    Appending is amortised O(1) hashes and the root at the current size takes
    O(log n), so one pass over the leaves gives the root at every size asked for.
    """

    def __init__(self) -> None:
        self.size = 0
        self._subtrees: list[bytes] = []  # largest (leftmost) first

    def append(self, leaf: bytes) -> None:
        self._subtrees.append(leaf)
        self.size += 1
        # Each trailing 1 bit of the old size is a perfect subtree to merge.
        merges = (self.size & -self.size).bit_length() - 1
        for _ in range(merges):
            right = self._subtrees.pop()
            left = self._subtrees.pop()
            self._subtrees.append(node_hash(left, right))

    def root(self) -> bytes:
        if not self._subtrees:
            return EMPTY_ROOT
        root = self._subtrees[-1]
        for subtree in reversed(self._subtrees[:-1]):
            root = node_hash(subtree, root)
        return root


# --- Proofs (RFC 9162, 2.1.3.2 and 2.1.4.2) -----------------------------------------


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> bool:
    """Whether `proof` shows the leaf at `index` is in the tree of `size` with `root`."""
    if not 0 <= index < size or any(len(p) != HASH_BYTES for p in proof):
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
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
    return sn == 0 and hmac.compare_digest(r, root)


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Whether `proof` shows the tree of size `second` extends the one of size `first`."""
    if not 0 <= first <= second or any(len(p) != HASH_BYTES for p in proof):
        return False
    if first == second:
        return not proof and hmac.compare_digest(first_root, second_root)
    if first == 0:
        return not proof and hmac.compare_digest(first_root, EMPTY_ROOT)
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:  # an exact power of two
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
    return sn == 0 and hmac.compare_digest(fr, first_root) and hmac.compare_digest(sr, second_root)


# --- Tree heads ------------------------------------------------------------------


@dataclass(frozen=True)
class Head:
    size: int
    root: bytes
    time: datetime.datetime

    def text(self) -> bytes:
        """The bytes that are signed and timestamped."""
        return (
            f"{HEAD_FORMAT}\n"
            f"size {self.size}\n"
            f"root {self.root.hex()}\n"
            f"time {self.time.astimezone(datetime.UTC).isoformat(timespec='seconds')}\n"
        ).encode("ascii")

    @classmethod
    def parse(cls, text: bytes) -> Head:
        try:
            lines = text.decode("ascii").split("\n")
            if len(lines) != 5 or lines[0] != HEAD_FORMAT or lines[4] != "":
                raise ValueError
            size = int(_field(lines[1], "size"))
            root = bytes.fromhex(_field(lines[2], "root"))
            time = datetime.datetime.fromisoformat(_field(lines[3], "time"))
            if size < 0 or len(root) != HASH_BYTES or time.tzinfo is None:
                raise ValueError
        except ValueError:
            raise VerificationFailed(f"This is not a {HEAD_FORMAT} tree head.") from None
        head = cls(size, root, time)
        if head.text() != text:
            raise VerificationFailed("The tree head is not in its one canonical form.")
        return head


def _field(line: str, name: str) -> str:
    label, _, value = line.partition(" ")
    if label != name or not value:
        raise ValueError
    return value

