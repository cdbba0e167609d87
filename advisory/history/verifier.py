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

import base64
import datetime
import hashlib
import hmac
import json
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

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


# --- Evidence packs ------------------------------------------------------------------
#
# `python3 verify.py` in an unzipped pack checks it (docs/evidence.md): every
# file against MANIFEST.sha256, the tree head's signature and timestamp (with
# the `openssl` command), every log entry against its digest and its
# inclusion proof, and the evidence files against the SHA-256 logged for them.

PACK_FORMAT = "candor-evidence-pack/1"
MANIFEST = "MANIFEST.sha256"
MANIFEST_SIGNATURE = "MANIFEST.sha256.sig"  # Ed25519, the firm's key, over MANIFEST.sha256
PACK_INFO = "log/pack.json"
ENTRIES = "log/entries.jsonl"
HEAD_TEXT = "log/head.txt"
HEAD_SIGNATURE = "log/head.sig"
HEAD_TOKEN = "log/head.tsr"
TSA_CERTIFICATES = "log/tsa-ca.pem"
PUBLIC_KEY = "log/firm-public-key.pem"
# DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410); the raw key follows.
ED25519_SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")


@dataclass
class Outcome:
    failures: list[str]
    notes: list[str]
    summary: str = ""

    @property
    def ok(self) -> bool:
        return not self.failures


def verify_pack(folder: Path, *, openssl: str = "openssl") -> Outcome:
    outcome = Outcome(failures=[], notes=[])
    fail = outcome.failures.append
    _check_manifest(folder, fail)
    try:
        info = json.loads((folder / PACK_INFO).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        fail(f"{PACK_INFO} is missing or unreadable: this is not a Candor evidence pack.")
        return outcome
    if info.get("format") != PACK_FORMAT:
        fail(f"This pack is in format {info.get('format')!r}; this verify.py reads {PACK_FORMAT}.")
        return outcome
    client = info.get("client", {}).get("name", "the client")
    head = _check_head(folder, info, openssl, outcome)
    entries = _read_entries(folder, fail)
    proven = _check_entries(entries, head, fail)
    _check_evidence_files(folder, entries, fail, outcome.notes)
    _check_records(folder, entries, info, fail)
    unproven = info.get("entries_after_head", 0)
    if unproven:
        outcome.notes.append(
            f"{unproven} more entr{'y was' if unproven == 1 else 'ies were'} logged after the "
            "tree head and cannot be proven by this pack."
        )
    if outcome.ok and head is not None:
        when = head.time.astimezone(datetime.UTC).strftime("%-d %B %Y %H:%M UTC")
        stamp = info.get("timestamp")
        stamped = (
            f", timestamped by {stamp['authority']} at {stamp['time']}"
            if stamp
            else " (the tree head is not timestamped)"
        )
        outcome.summary = (
            f"verified: {proven} entries of {client} are in the firm's log as of {when}{stamped}."
        )
    return outcome


def _check_manifest(folder: Path, fail) -> None:
    try:
        lines = (folder / MANIFEST).read_text(encoding="utf-8").splitlines()
    except OSError:
        fail(f"{MANIFEST} is missing: the pack's files cannot be checked.")
        return
    listed = set()
    for line in lines:
        expected, _, name = line.partition("  ")
        listed.add(name)
        path = folder / name
        if not path.is_file():
            fail(f"{name} is listed in {MANIFEST} but missing from the pack.")
        elif _sha256_file(path) != expected:
            fail(
                f"{name} was changed after the pack was made (its SHA-256 differs from {MANIFEST})."
            )
    for path in sorted(folder.rglob("*")):
        name = path.relative_to(folder).as_posix()
        outside = name in (MANIFEST, MANIFEST_SIGNATURE) or "__pycache__" in name
        if path.is_file() and not outside and name not in listed:
            fail(f"{name} was added to the pack after it was made (it is not in {MANIFEST}).")


def _check_head(folder: Path, info: dict, openssl: str, outcome: Outcome) -> Head | None:
    fail = outcome.failures.append
    try:
        text = (folder / HEAD_TEXT).read_bytes()
    except OSError:
        fail("The pack holds no signed tree head (log/head.txt): nothing in it can be proven.")
        return None
    try:
        head = Head.parse(text)
    except VerificationFailed as error:
        fail(f"{HEAD_TEXT}: {error}")
        return None
    key_id = _public_key_id(folder / PUBLIC_KEY)
    if key_id is None:
        fail(f"{PUBLIC_KEY} is missing or not an Ed25519 public key.")
    else:
        outcome.notes.append(
            f"The tree head is signed by the firm's key {key_id}: compare this id with the one "
            "the firm publishes."
        )
        checked = _run(
            [openssl, "pkeyutl", "-verify", "-pubin", "-inkey", PUBLIC_KEY, "-rawin",
             "-in", HEAD_TEXT, "-sigfile", HEAD_SIGNATURE],
            folder,
        )  # fmt: skip
        if checked is None:
            fail("The openssl command is needed to check the tree head's signature.")
        elif checked.returncode != 0:
            fail("The tree head's signature does not verify with the firm's public key: "
                 "log/head.txt or log/head.sig was changed.")  # fmt: skip
        _check_manifest_signature(folder, openssl, outcome)
    if (folder / HEAD_TOKEN).is_file():
        _check_token(folder, info, openssl, outcome)
    return head


def _check_manifest_signature(folder: Path, openssl: str, outcome: Outcome) -> None:
    if not (folder / MANIFEST_SIGNATURE).is_file():
        outcome.failures.append(
            f"{MANIFEST_SIGNATURE} is missing: the list of the pack's files is not signed."
        )
        return
    checked = _run(
        [openssl, "pkeyutl", "-verify", "-pubin", "-inkey", PUBLIC_KEY, "-rawin",
         "-in", MANIFEST, "-sigfile", MANIFEST_SIGNATURE],
        folder,
    )  # fmt: skip
    if checked is not None and checked.returncode != 0:
        outcome.failures.append(
            f"{MANIFEST} is not the list of files the firm signed: files were changed, "
            "added or removed and the list rewritten to match."
        )


def _check_token(folder: Path, info: dict, openssl: str, outcome: Outcome) -> None:
    fail = outcome.failures.append
    if not (folder / TSA_CERTIFICATES).is_file():
        outcome.notes.append(
            "The timestamp's authority certificate is not in the pack: check log/head.tsr with "
            "your own copy of it: openssl ts -verify -data log/head.txt -in log/head.tsr "
            "-CAfile <the authority's certificate>."
        )
        return
    checked = _run(
        [openssl, "ts", "-verify", "-data", HEAD_TEXT, "-in", HEAD_TOKEN,
         "-CAfile", TSA_CERTIFICATES],
        folder,
    )  # fmt: skip
    if checked is None:
        fail("The openssl command is needed to check the timestamp.")
    elif checked.returncode != 0 or "Verification: OK" not in checked.stdout:
        fail("The timestamp (log/head.tsr) is not a valid timestamp of log/head.txt by the "
             "authority in log/tsa-ca.pem.")  # fmt: skip


def _read_entries(folder: Path, fail) -> list[dict]:
    entries = []
    try:
        lines = (folder / ENTRIES).read_text(encoding="utf-8").splitlines()
    except OSError:
        fail(f"{ENTRIES} is missing: the pack holds no log entries.")
        return entries
    for number, line in enumerate(lines, start=1):
        try:
            entry = json.loads(line)
            entry["document"] = json.loads(entry["canonical"])
            entries.append(entry)
        except (ValueError, KeyError, TypeError):
            fail(f"{ENTRIES}, line {number}: not a log entry.")
    return entries


def _check_entries(entries: list[dict], head: Head | None, fail) -> int:
    """Each entry against its digest and its inclusion proof; how many are proven."""
    proven = 0
    for entry in entries:
        name = describe_entry(entry)
        try:
            salt, digest = bytes.fromhex(entry["salt"]), bytes.fromhex(entry["digest"])
            proof = [bytes.fromhex(p) for p in entry.get("proof", [])]
            index = int(entry["index"])
        except (KeyError, TypeError, ValueError):
            fail(f"{name}: its salt, digest, position or proof is unreadable.")
            continue
        if entry_digest(salt, entry["canonical"].encode("utf-8")) != digest:
            fail(
                f"{name}: its content no longer matches its digest; "
                "it was changed after it was logged."
            )
            continue
        if head is None:
            continue
        if not verify_inclusion(index, head.size, leaf_hash(digest), proof, head.root):
            fail(
                f"{name}: it is not in the firm's log as of the tree head "
                "(its proof does not lead to the signed root)."
            )
            continue
        proven += 1
    return proven


def _check_evidence_files(folder: Path, entries: list[dict], fail, notes: list[str]) -> None:
    """Each evidence file in the pack against the SHA-256 logged for it."""
    latest: dict[int, dict] = {}
    for entry in entries:
        document = entry["document"]
        if document.get("model") == "advisory.historicalevidencefile":
            latest[document.get("fields", {}).get("id")] = entry
    for evidence_id, entry in sorted(latest.items(), key=lambda item: str(item[0])):
        fields = entry["document"]["fields"]
        found = sorted((folder / "evidence").glob(f"{evidence_id}-*"))
        if not found:
            notes.append(
                f"Evidence file #{evidence_id} “{fields.get('original_name', '')}” is not in the "
                "pack (it was missing from storage when the pack was made)."
            )
            continue
        actual = _sha256_file(found[0])
        if actual != fields.get("sha256"):
            fail(
                f"{found[0].relative_to(folder).as_posix()} is not the file that was logged: its "
                f"SHA-256 is {actual}, the log says {fields.get('sha256')}."
            )


# The sections of client.json, and the history each record of them is logged as.
RECORD_SECTIONS = {
    "client": "advisory.historicalclient",
    "engagements": "advisory.historicalengagement",
    "disagreements": "advisory.historicaldisagreement",
    "comments": "advisory.historicalcomment",
    "evidence_files": "advisory.historicalevidencefile",
    "band_overrides": "advisory.historicalbandoverride",
    "letgo_cases": "advisory.historicalletgocase",
}


def _check_records(folder: Path, entries: list[dict], info: dict, fail) -> None:
    """Each record in client.json says what its latest log entry says.

    Fields the firm keeps out of the evidence (pack.json "not_logged", such
    as a client's computed health) and fields the log does not hold are not
    compared.
    """
    try:
        records = json.loads((folder / "client.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        fail("client.json is missing or unreadable.")
        return
    latest: dict[tuple[str, object], dict] = {}
    for entry in entries:
        document = entry["document"]
        latest[document.get("model"), document.get("fields", {}).get("id")] = entry
    skipped = info.get("not_logged", {})
    for section, model in RECORD_SECTIONS.items():
        rows = records.get(section) or [] if isinstance(records, dict) else []
        for row in [rows] if isinstance(rows, dict) else rows:
            if not isinstance(row, dict):
                fail(f"client.json: {section} holds something that is not a record.")
                continue
            entry = latest.get((model, row.get("id")))
            if entry is None:
                fail(f"client.json: {section} #{row.get('id')} has no entry in the log.")
                continue
            logged = entry["document"].get("fields", {})
            ignored = set(skipped.get(section, ()))
            changed = [
                name
                for name, value in logged.items()
                if name in row and name not in ignored and not _same(row[name], value)
            ]
            if changed:
                fail(
                    f"client.json: {describe_record(entry['document'])} "
                    f"says other than its latest log entry (#{entry['index']}) for "
                    f"{', '.join(changed)}: the record was changed without being logged."
                )


def _same(shown: object, logged: object) -> bool:
    """Equal values, taking two spellings of one moment (time zones) as equal."""
    if shown == logged or str(shown) == str(logged):
        return True
    if isinstance(shown, str) and isinstance(logged, str):
        try:
            return datetime.datetime.fromisoformat(shown) == datetime.datetime.fromisoformat(logged)
        except ValueError:
            return False
    return False


def describe_entry(entry: dict) -> str:
    """Log entry #12 (Disagreement #5 “Stock count skipped”, history entry 31)."""
    document = entry.get("document") or {}
    history_id = document.get("history_id", "?")
    record = describe_record(document)
    return f"Log entry #{entry.get('index', '?')} ({record}, history entry {history_id})"


def describe_record(document: dict) -> str:
    """Disagreement #5 “Stock count skipped”, from a logged entry's canonical JSON."""
    model = str(document.get("model", "")).rsplit(".", 1)[-1].removeprefix("historical")
    names = {
        "evidencefile": "Evidence file",
        "bandoverride": "Band override",
        "letgocase": "Let-go case",
    }
    kind = names.get(model, model.capitalize() or "Entry")
    fields = document.get("fields") or {}
    title = next((fields[f] for f in ("title", "name", "original_name") if fields.get(f)), "")
    return f"{kind} #{fields.get('id', '?')}" + (f" “{title}”" if title else "")


def _public_key_id(path: Path) -> str | None:
    try:
        lines = path.read_text(encoding="ascii").strip().splitlines()
        der = base64.b64decode("".join(line for line in lines if not line.startswith("-----")))
    except (OSError, ValueError):
        return None
    if len(der) != 44 or not der.startswith(ED25519_SPKI_PREFIX):
        return None
    return hashlib.sha256(der[len(ED25519_SPKI_PREFIX) :]).hexdigest()


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def _run(command: list[str], folder: Path) -> subprocess.CompletedProcess | None:
    try:
        return subprocess.run(
            command, cwd=folder, capture_output=True, text=True, timeout=60, check=False
        )
    except FileNotFoundError:
        return None


def main(argv: list[str] | None = None) -> int:
    """`python3 verify.py [FOLDER]`: check the unzipped pack (default: this file's folder)."""
    arguments = sys.argv[1:] if argv is None else argv
    folder = Path(arguments[0]) if arguments else Path(__file__).resolve().parent
    outcome = verify_pack(folder)
    for note in outcome.notes:
        print(f"note: {note}")
    if outcome.ok:
        print(outcome.summary)
        return 0
    for failure in outcome.failures:
        print(f"FAILED: {failure}")
    print(
        f"not verified: {len(outcome.failures)} problem{'s' if len(outcome.failures) != 1 else ''}."
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
