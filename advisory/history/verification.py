"""Checking the whole log: entries, history, tree heads, timestamps, the old chain.

`verify()` (`manage.py verify_log`, the log's page) reads everything once, in
order, and reports in plain words what does not hold:

- every log entry's digest is SHA-256(salt || its canonical JSON), and the
  positions run 0, 1, 2, … with none missing;
- every history entry still says what its log entry says (field by field, so
  fields added, removed or renamed by later migrations are no failure);
- every history entry is in the log;
- every signed tree head's root is the root of the entries up to its size
  (so an entry changed, removed, inserted or reordered after a head is found),
  its signature is good and made by a key the firm trusts, each head extends
  the one before (a consistency proof), its timestamp token is for it, and
  the log is not shorter than the latest head (truncation);
- the hash chain the log replaced still links the entries it carried over.

Past the last head, only the digests and the history protect an entry: a
head every hour keeps that window short.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import batched
from typing import Any

from django.conf import settings
from django.db import models
from django.utils.text import capfirst

from advisory.history import heads, log, signing, timestamps
from advisory.history.merkle import Tree
from advisory.history.verifier import (
    Frontier,
    entry_digest,
    leaf_hash,
    verify_consistency,
)
from advisory.models import ChainLink, LogEntry, TreeHead

BATCH = 500
# Beyond this many, problems are counted, not listed: the first ones say enough.
MAX_LISTED = 50
GENESIS = "0" * 64

type Progress = Callable[[int], object]


@dataclass(frozen=True)
class Problem:
    where: str  # "Log entry #12 — Disagreement #5 “Stock count skipped”"
    problem: str  # what is wrong, in plain words
    index: int | None = None  # the log entry's position, when it is about one
    head: int | None = None  # the tree head's id, when it is about one
    # What was found wrong: "entry" (a log entry or its history entry), "head",
    # "unlogged" (history outside the log), "record" (a live record), "chain"
    # (the old hash chain), "setting".
    kind: str = "entry"


@dataclass
class Report:
    entries: int = 0  # log entries read
    heads: list[TreeHead] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    unlisted: int = 0  # problems beyond MAX_LISTED
    carried: int = 0  # links of the old hash chain checked
    waiting_for_timestamp: list[TreeHead] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def latest_head(self) -> TreeHead | None:
        return self.heads[-1] if self.heads else None

    @property
    def covered(self) -> int:
        """Entries covered by a signed head."""
        return self.latest_head.size if self.heads else 0

    @property
    def timestamps_on(self) -> bool:
        return bool(settings.CANDOR_TSA_URL)

    def add(self, problem: Problem) -> None:
        if len(self.problems) < MAX_LISTED:
            self.problems.append(problem)
        else:
            self.unlisted += 1


def verify(*, progress: Progress | None = None) -> Report:
    """Check everything; `progress` is called with the entries read after each batch."""
    report = Report(heads=list(TreeHead.objects.order_by("pk")))
    leaves = _check_entries(report, progress)
    _check_heads(report, leaves)
    _check_unlogged(report)
    _check_live_records(report)
    _check_old_chain(report)
    return report


# --- Entries ---------------------------------------------------------------------


def _check_entries(report: Report, progress: Progress | None) -> bytearray:
    """Walk the log in order; the leaf hashes read, for the heads' checks."""
    models_by_label = log.logged_models()
    pending_heads = sorted(report.heads, key=lambda head: head.size)
    frontier = Frontier()
    leaves = bytearray()
    expected = 0
    entries = LogEntry.objects.order_by("index").iterator(chunk_size=BATCH)
    for batch in batched(entries, BATCH):
        rows, snapshots = _history_rows(batch, models_by_label)
        for entry in batch:
            if entry.index != expected:
                missing = f"#{expected}" + (
                    f" to #{entry.index - 1}" if entry.index - 1 > expected else ""
                )
                report.add(
                    Problem(
                        f"Log entries {missing}",
                        "Missing: removed from the log (the positions must run without a gap).",
                        index=expected,
                    )
                )
            expected = entry.index + 1
            document = _document(entry)
            try:
                salt, digest = bytes.fromhex(entry.salt), bytes.fromhex(entry.digest)
            except ValueError:
                salt, digest = b"", b""
            if len(digest) != 32:
                report.add(
                    Problem(
                        _where(entry, document),
                        "Its salt or digest is not hexadecimal SHA-256: the log entry was "
                        "changed after it was written.",
                        index=entry.index,
                    )
                )
            elif entry_digest(salt, entry.canonical.encode()) != digest:
                report.add(
                    Problem(
                        _where(entry, document),
                        "The logged entry no longer matches its digest: it was changed in the "
                        "log after it was written.",
                        index=entry.index,
                    )
                )
            _check_history_row(report, entry, document, rows, snapshots, models_by_label)
            leaf = leaf_hash(digest)
            frontier.append(leaf)
            leaves += leaf
            while pending_heads and pending_heads[0].size == frontier.size:
                _check_root(report, pending_heads.pop(0), frontier.root())
        report.entries += len(batch)
        if progress is not None:
            progress(len(batch))
    for stored in pending_heads:
        if stored.size == 0:
            _check_root(report, stored, frontier.root())
            continue
        report.add(
            Problem(
                _head_name(stored),
                f"It was signed over {stored.size} entries, but the log now holds "
                f"{frontier.size}: entries were removed after it (the log was cut short).",
                head=stored.pk,
                kind="head",
            )
        )
    return leaves


def _document(entry: LogEntry) -> dict[str, Any]:
    try:
        document = json.loads(entry.canonical)
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}


def _check_history_row(report, entry, document, rows, snapshots, models_by_label) -> None:
    history_model = models_by_label.get(entry.history_model)
    if history_model is None:
        report.add(
            Problem(
                _where(entry, document),
                f"It logs an unknown kind of history ({entry.history_model}).",
                index=entry.index,
            )
        )
        return
    row = rows.get(entry.history_model, {}).get(entry.history_id)
    if row is None:
        report.add(
            Problem(
                _where(entry, document),
                "The history entry it logs is missing: it was deleted. "
                "The log still holds what it said.",
                index=entry.index,
            )
        )
        return
    m2m = {
        name: ids.get(row.pk, []) for name, ids in snapshots.get(entry.history_model, {}).items()
    }
    current = json.loads(log.canonical(row, m2m=m2m))
    changed = differences(document, current)
    if changed:
        report.add(
            Problem(
                _where(entry, document),
                "The history entry was changed after it was logged: "
                + ", ".join(changed)
                + " no longer say"
                + ("s" if len(changed) == 1 else "")
                + " what was logged.",
                index=entry.index,
            )
        )


def differences(logged: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """The names whose values differ between the logged JSON and the history row's today.

    A field the row no longer has (removed by a migration) is no difference:
    its value is kept in the log. A field the row has but the log does not
    (added later) is none either. A renamed field is compared under its new
    name (`log.RENAMED_FIELDS`).
    """
    renamed = log.RENAMED_FIELDS.get(logged.get("model", ""), {})
    found = [
        name for name in ["model", *log.HISTORY_COLUMNS] if logged.get(name) != current.get(name)
    ]
    current_fields = current.get("fields", {})
    for name, value in logged.get("fields", {}).items():
        now = renamed.get(name, name)
        if now in current_fields and current_fields[now] != value:
            found.append(now)
    current_m2m = current.get("m2m", {})
    for name, ids in logged.get("m2m", {}).items():
        if name in current_m2m and current_m2m[name] != ids:
            found.append(name)
    return found


def _history_rows(
    batch: Iterable[LogEntry], models_by_label: dict[str, type[models.Model]]
) -> tuple[dict[str, dict[int, models.Model]], dict[str, dict[str, dict[int, list[int]]]]]:
    """The batch's history entries by label and id, and their m2m snapshots."""
    wanted: dict[str, list[int]] = defaultdict(list)
    for entry in batch:
        if entry.history_model in models_by_label:
            wanted[entry.history_model].append(entry.history_id)
    rows = {}
    snapshots: dict[str, dict[str, dict[int, list[int]]]] = {}
    for label, ids in wanted.items():
        history_model = models_by_label[label]
        rows[label] = history_model._default_manager.in_bulk(ids)
        snapshots[label] = {}
        for spec in log.m2m_fields(history_model):
            found: dict[int, list[int]] = defaultdict(list)
            pairs = spec.model._default_manager.filter(history_id__in=ids).values_list(
                "history_id", spec.target
            )
            for history_id, target in pairs:
                found[history_id].append(target)
            snapshots[label][spec.name] = found
    return rows, snapshots


# --- Tree heads --------------------------------------------------------------------


def _check_root(report: Report, stored: TreeHead, root: bytes) -> None:
    if root.hex() != stored.root_hash:
        report.add(
            Problem(
                _head_name(stored),
                f"The log's first {stored.size} entries no longer give the root it signed: "
                "an entry it covers was changed, removed, inserted or reordered since.",
                head=stored.pk,
                kind="head",
            )
        )


def _check_heads(report: Report, leaves: bytearray) -> None:
    trusted = signing.trusted_key_ids()
    try:
        roots = timestamps.authority_roots()
    except timestamps.TimestampError as error:
        report.add(Problem("The timestamp authority's certificates", str(error), kind="setting"))
        roots = []
    tree = None
    previous = None
    for stored in report.heads:
        try:
            text = heads.head_of(stored).text()
            bytes.fromhex(stored.signature)
        except ValueError:
            report.add(
                Problem(
                    _head_name(stored),
                    "Its root or signature is not hexadecimal: the head was changed.",
                    head=stored.pk,
                    kind="head",
                )
            )
            previous = None  # nothing to check the next head's consistency against
            continue
        if not signing.signature_valid(stored.public_key, bytes.fromhex(stored.signature), text):
            report.add(
                Problem(
                    _head_name(stored),
                    "Its signature does not match its size, root and time: the head was "
                    "changed or forged.",
                    head=stored.pk,
                    kind="head",
                )
            )
        elif not _key_matches(stored) or stored.key_id not in trusted:
            report.add(
                Problem(
                    _head_name(stored),
                    f"It is signed by a key the firm does not trust (key {stored.key_id[:16]}…): "
                    "neither the current signing key nor a retired one listed in the settings.",
                    head=stored.pk,
                    kind="head",
                )
            )
        if stored.timestamp_token is not None:
            try:
                timestamps.check(bytes(stored.timestamp_token), text, roots=roots)
            except timestamps.TimestampError as error:
                report.add(
                    Problem(
                        _head_name(stored), f"Its timestamp: {error}", head=stored.pk, kind="head"
                    )
                )
        elif report.timestamps_on:
            report.waiting_for_timestamp.append(stored)
        if previous is not None and previous.size <= stored.size <= len(leaves) // 32:
            tree = tree or Tree(bytes(leaves[i : i + 32]) for i in range(0, len(leaves), 32))
            proof = tree.consistency_proof(previous.size, stored.size)
            if not verify_consistency(
                previous.size,
                stored.size,
                bytes.fromhex(previous.root_hash),
                bytes.fromhex(stored.root_hash),
                proof,
            ):
                report.add(
                    Problem(
                        _head_name(stored),
                        f"It does not extend the head before it ({_head_name(previous)}): "
                        "the log was rewritten between them.",
                        head=stored.pk,
                        kind="head",
                    )
                )
        elif previous is not None and stored.size < previous.size:
            report.add(
                Problem(
                    _head_name(stored),
                    f"It covers fewer entries ({stored.size}) than the head before it "
                    f"({previous.size}): the log shrank.",
                    head=stored.pk,
                    kind="head",
                )
            )
        previous = stored


def _key_matches(stored: TreeHead) -> bool:
    try:
        return signing.key_id(signing.load_public_pem(stored.public_key)) == stored.key_id
    except ValueError:
        return False


def _head_name(stored: TreeHead) -> str:
    when = stored.signed_at.astimezone(datetime.UTC).strftime("%-d %b %Y %H:%M UTC")
    return f"Tree head #{stored.pk} ({stored.size} entries, signed {when})"


# --- History entries outside the log ------------------------------------------------


def _check_unlogged(report: Report) -> None:
    for history_model in log.logged_models().values():
        unlogged = log.unlogged(history_model)
        count = unlogged.count()
        if not count:
            continue
        earliest = unlogged.order_by("history_date", "history_id").first()
        model = history_model.instance_type._meta.verbose_name
        entries = "entry is" if count == 1 else "entries are"
        report.add(
            Problem(
                f"{capfirst(model)} history",
                f"{count} history {entries} not in the log: added around the application "
                f"(the earliest: #{earliest.pk} of "
                f"{earliest.history_date.astimezone(datetime.UTC):%-d %b %Y %H:%M} UTC). "
                "`verify_log --backfill` adds them at the end, if they are genuine.",
                kind="unlogged",
            )
        )


# --- Live records against their latest history entry ------------------------------


def _check_live_records(report: Report) -> None:
    """Each record as it is now must be what its latest history entry says.

    Every save through Candor writes an entry, so a difference means the row
    was changed around the application (an UPDATE in the database): the page
    shows one thing, the log another.
    """
    for history_model in log.logged_models().values():
        model = history_model.instance_type
        tracked = {field.attname for field in history_model.tracked_fields}
        tracked -= set(getattr(model, "DERIVED_FIELDS", ()))
        fields = [
            (field, history_model._meta.get_field(field.name))
            for field in model._meta.concrete_fields
            if field.attname in tracked
        ]
        rows = model._base_manager.order_by("pk").iterator(chunk_size=BATCH)
        for batch in batched(rows, BATCH):
            latest = {}
            entries = history_model._default_manager.filter(id__in=[row.pk for row in batch])
            for entry in entries.order_by("history_id").iterator(chunk_size=BATCH):
                latest[entry.id] = entry
            for row in batch:
                _compare_live(report, model, row, latest.get(row.pk), fields)


def _compare_live(report, model, row, entry, fields) -> None:
    where = _record_name(model, row)
    if entry is None:
        report.add(
            Problem(
                where,
                "It has no history entry: it was added around the application, "
                "or its history was deleted.",
                kind="record",
            )
        )
        return
    changed = [
        field.attname
        for field, history_field in fields
        if log.plain(field, getattr(row, field.attname))
        != log.plain(history_field, getattr(entry, history_field.attname))
    ]
    if changed:
        report.add(
            Problem(
                where,
                "It was changed around the application: "
                + ", ".join(changed)
                + (" differs" if len(changed) == 1 else " differ")
                + f" from its latest history entry ({entry.pk}).",
                kind="record",
            )
        )


def _record_name(model: type[models.Model], row: models.Model) -> str:
    name = next(
        (getattr(row, f) for f in ("title", "name", "original_name") if getattr(row, f, "")), ""
    )
    label = f"{capfirst(model._meta.verbose_name)} #{row.pk}"
    return f"{label} “{name}”" if name else label


# --- The hash chain the log replaced (migration 0015) --------------------------------------


def _check_old_chain(report: Report) -> None:
    """Each old link still hashes the entry carried over, and follows the one before."""
    prev_hash = GENESIS
    for batch in batched(ChainLink.objects.order_by("pk").iterator(chunk_size=BATCH), BATCH):
        wanted: dict[str, list[int]] = defaultdict(list)
        for link in batch:
            wanted[link.history_model].append(link.history_id)
        carried = {}
        for label, ids in wanted.items():
            for entry in LogEntry.objects.filter(history_model=label, history_id__in=ids):
                carried[label, entry.history_id] = entry
        for link in batch:
            entry = carried.get((link.history_model, link.history_id))
            where = f"Link #{link.pk} of the old hash chain"
            if link.prev_hash != prev_hash:
                report.add(Problem(where, "It does not follow the link before it.", kind="chain"))
            elif entry is None:
                report.add(
                    Problem(where, "The entry it links was not carried into the log.", kind="chain")
                )
            elif chain_hash(link.prev_hash, entry.canonical) != link.hash:
                report.add(
                    Problem(
                        _where(entry, _document(entry)),
                        "It no longer matches its link in the old hash chain: it was changed "
                        "before the log took over from the chain.",
                        index=entry.index,
                        kind="chain",
                    )
                )
            prev_hash = link.hash
            report.carried += 1


def chain_hash(prev_hash: str, canonical: str) -> str:
    """The old chain's link: SHA-256(previous link's hex hash || canonical JSON)."""
    return hashlib.sha256(prev_hash.encode("ascii") + canonical.encode("utf-8")).hexdigest()


# --- Naming things -------------------------------------------------------------------


def _where(entry: LogEntry, document: dict[str, Any]) -> str:
    """Log entry #12 — Disagreement #5 “Stock count skipped”, history entry 31 of 3 Mar 2026."""
    history_model = log.logged_models().get(entry.history_model)
    model = (
        history_model.instance_type._meta.verbose_name
        if history_model
        else entry.history_model.rsplit(".", 1)[-1]
    )
    fields = document.get("fields", {})
    record = f"{capfirst(model)} #{fields.get('id', '?')}"
    name = next((fields[f] for f in ("title", "name", "original_name") if fields.get(f)), "")
    if name:
        record += f" “{name}”"
    try:
        dated = f" of {datetime.datetime.fromisoformat(document['history_date']):%-d %b %Y}"
    except (KeyError, TypeError, ValueError):
        dated = ""
    return f"Log entry #{entry.index} — {record}, history entry {entry.history_id}{dated}"
