"""The log's Merkle tree against RFC 6962/9162's reference vectors and by property.

The vectors are the Certificate Transparency test data (also in
transparency-dev/merkle's testonly package): a tree no other implementation
agrees with would prove nothing to anyone outside the firm.
"""

from __future__ import annotations

import datetime
import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from advisory.history.merkle import Tree
from advisory.history.verifier import (
    EMPTY_ROOT,
    Frontier,
    Head,
    VerificationFailed,
    entry_digest,
    leaf_hash,
    node_hash,
    root_of,
    verify_consistency,
    verify_inclusion,
)

INPUTS = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
]
# The root hash of the tree of the first n inputs, for n = 0..8.
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
INCLUSION = [
    (0, 8, [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ]),
    (5, 8, [
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ]),
]  # fmt: skip
CONSISTENCY = [
    (2, 8, [
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ]),
    (6, 8, [
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ]),
    (2, 5, [
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ]),
]  # fmt: skip


def rfc_leaf(data_hex: str) -> bytes:
    """RFC 6962's leaf hash of raw data (Candor's leaves hash an entry digest the same way)."""
    return leaf_hash(bytes.fromhex(data_hex))


LEAVES = [rfc_leaf(data) for data in INPUTS]
TREE = Tree(LEAVES)


def test_the_hashing_is_rfc_6962s():
    assert EMPTY_ROOT.hex() == ROOTS[0]
    assert leaf_hash(b"").hex() == ROOTS[1]
    assert node_hash(LEAVES[0], LEAVES[1]).hex() == ROOTS[2]


@pytest.mark.parametrize("size", range(9))
def test_roots_match_the_reference(size):
    assert TREE.root(size).hex() == ROOTS[size]
    assert root_of(LEAVES[:size]).hex() == ROOTS[size]


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION)
def test_inclusion_proofs_match_the_reference(index, size, proof):
    made = TREE.inclusion_proof(index, size)
    assert [p.hex() for p in made] == proof
    assert verify_inclusion(index, size, LEAVES[index], made, TREE.root(size))


@pytest.mark.parametrize(("first", "second", "proof"), CONSISTENCY)
def test_consistency_proofs_match_the_reference(first, second, proof):
    made = TREE.consistency_proof(first, second)
    assert [p.hex() for p in made] == proof
    assert verify_consistency(first, second, TREE.root(first), TREE.root(second), made)


def many(n: int) -> list[bytes]:
    return [leaf_hash(hashlib.sha256(str(i).encode()).digest()) for i in range(n)]


MANY = many(70)
BIG = Tree(MANY)


def test_every_inclusion_proof_up_to_70_leaves_verifies_and_nothing_else_does():
    for size in range(1, 71):
        root = BIG.root(size)
        for index in range(size):
            proof = BIG.inclusion_proof(index, size)
            assert verify_inclusion(index, size, MANY[index], proof, root)
            assert not verify_inclusion(index, size, MANY[index], proof, BIG.root(size - 1))
            if size > 1:
                other = (index + 1) % size
                assert not verify_inclusion(other, size, MANY[index], proof, root)
                assert not verify_inclusion(index, size, MANY[other], proof, root)
            if proof:
                assert not verify_inclusion(index, size, MANY[index], proof[:-1], root)
                assert not verify_inclusion(index, size, MANY[index], [*proof, root], root)
                flipped = [bytes([proof[0][0] ^ 1]) + proof[0][1:], *proof[1:]]
                assert not verify_inclusion(index, size, MANY[index], flipped, root)


def test_every_consistency_proof_up_to_40_leaves_verifies_and_nothing_else_does():
    for second in range(41):
        for first in range(second + 1):
            proof = BIG.consistency_proof(first, second)
            roots = BIG.root(first), BIG.root(second)
            assert verify_consistency(first, second, *roots, proof)
            if 0 < first < second:
                # A different earlier tree is not extended by this one.
                forged = node_hash(roots[0], roots[0])
                assert not verify_consistency(first, second, forged, roots[1], proof)
                assert not verify_consistency(first, second, roots[0], forged, proof)
                assert not verify_consistency(first, second, *roots, proof[:-1])
                assert not verify_consistency(first, second, *roots, [*proof, roots[0]])


def test_a_tree_does_not_extend_a_larger_one():
    proof = BIG.consistency_proof(5, 8)
    assert not verify_consistency(8, 5, BIG.root(8), BIG.root(5), proof)
    with pytest.raises(ValueError, match="cannot be extended"):
        BIG.consistency_proof(8, 5)


def test_proofs_outside_the_tree_are_refused():
    with pytest.raises(ValueError, match="No leaf 8 in a tree of 8"):
        TREE.inclusion_proof(8, 8)
    with pytest.raises(ValueError, match="The tree has 8 leaves, not 9"):
        TREE.root(9)
    assert not verify_inclusion(-1, 8, LEAVES[0], [], TREE.root())
    assert not verify_inclusion(0, 8, LEAVES[0], [b"short"], TREE.root())


@given(st.lists(st.binary(min_size=32, max_size=32), max_size=300))
def test_the_frontier_gives_the_root_at_every_size(leaves):
    tree = Tree(leaves)
    frontier = Frontier()
    assert frontier.root() == tree.root(0)
    for size, leaf in enumerate(leaves, start=1):
        frontier.append(leaf)
        assert frontier.size == size
        assert frontier.root() == tree.root(size)


def test_an_entry_digest_commits_to_salt_and_content():
    salt, content = bytes(16), b'{"a":1}'
    assert entry_digest(salt, content) == hashlib.sha256(salt + content).digest()
    assert entry_digest(b"\x01" * 16, content) != entry_digest(salt, content)


# --- Tree heads ----------------------------------------------------------------------


HEAD = Head(8, bytes.fromhex(ROOTS[8]), datetime.datetime(2026, 12, 7, 3, 0, tzinfo=datetime.UTC))


def test_a_tree_head_is_plain_text():
    assert HEAD.text() == (
        b"candor-tree-head/1\n"
        b"size 8\n"
        b"root 5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328\n"
        b"time 2026-12-07T03:00:00+00:00\n"
    )
    assert Head.parse(HEAD.text()) == HEAD


@pytest.mark.parametrize(
    "text",
    [
        b"",
        b"candor-tree-head/2\nsize 8\nroot 00\ntime 2026-12-07T03:00:00+00:00\n",
        HEAD.text().replace(b"size 8", b"size -1"),
        HEAD.text().replace(b"root 5d", b"root 5"),
        HEAD.text().replace(b"+00:00", b""),
        HEAD.text() + b"extra\n",
        HEAD.text().replace(b"size 8", b"size 08"),  # not the canonical form
    ],
)
def test_anything_else_is_not_a_tree_head(text):
    with pytest.raises(VerificationFailed):
        Head.parse(text)
