"""A client's relationship dossier and evidence pack.

The dossier is what a partner reads before deciding about a relationship: the
client, its health and how it got there, every disagreement told in order
(request, recommendation, decision and acknowledgment, outcome), the
corrections beside the originals, and any let-go case.

The evidence pack is the same record as files a firm can keep outside Candor:
the records as JSON and CSV, the dossier as one self-contained HTML file and
as a PDF (evidence/pdf.py), the evidence files as uploaded, and
MANIFEST.sha256 so that `sha256sum -c MANIFEST.sha256` later proves nothing
in the pack has changed.

Nothing here filters on the client's status: a client let go keeps its
records, and they stay readable and exportable.
"""

from __future__ import annotations

import csv
import datetime
import hashlib
import json
import tempfile
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import staticfiles_storage
from django.db import models
from django.db.models import F, Prefetch
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from accounts.models import Team, User
from advisory.evidence import integrity
from advisory.health import score as scoring
from advisory.health import selectors
from advisory.health.selectors import client_health
from advisory.history import excerpt, heads, signing, timestamps, verifier
from advisory.models import (
    Amendment,
    Band,
    BandOverride,
    Client,
    Comment,
    Disagreement,
    Engagement,
    EvidenceFile,
    HealthSnapshot,
    LetGoCase,
)
from advisory.transfer.exports import (
    FORMULA_PREFIXES as FORMULA_PREFIXES,  # re-exported: tests use it
)
from advisory.transfer.exports import csv_cell as _cell
from advisory.transfer.exports import json_default as _json_default

PRINT_CSS = "css/print.css"
# Packs up to this size are built in memory; larger ones spill to a temporary file.
PACK_SPOOL_BYTES = 8 * 1024 * 1024
READ_CHUNK_BYTES = 64 * 1024
MANIFEST = "MANIFEST.sha256"
# Amendments to these are shown by the date and badges, the others by their text.
FACT_AMENDMENT_FIELDS = ("occurred_on", "severity", "tone")


# --- The dossier -------------------------------------------------------------


@dataclass(frozen=True)
class DossierEntry:
    """One disagreement in the dossier's narrative, with its corrections by field."""

    number: int
    disagreement: Disagreement
    amended: dict[str, list[Amendment]]  # field -> its amendments, oldest first

    @property
    def fact_amendments(self) -> list[Amendment]:
        return [a for f in FACT_AMENDMENT_FIELDS for a in self.amended.get(f, [])]


def dossier_context(client: Client) -> dict[str, Any]:
    """Everything the dossier shows, in a fixed number of queries whatever
    the number of disagreements, amendments, comments or evidence files.

    Archived engagements and disagreements are included (and marked): the
    dossier is the whole record, not the working view.
    """
    engagements = list(
        client.engagements.select_related("lead_advisor")
        .prefetch_related(
            Prefetch("members", queryset=User.objects.order_by("last_name", "first_name", "pk"))
        )
        .order_by(F("start_date").asc(nulls_last=True), "title", "pk")
    )
    disagreements = list(
        client.disagreements.select_related("engagement", "logged_by", "reviewed_by")
        .prefetch_related(
            Prefetch("amendments", queryset=Amendment.objects.select_related("amended_by")),
            Prefetch("comments", queryset=Comment.objects.select_related("author")),
            Prefetch("evidence", queryset=EvidenceFile.objects.select_related("uploaded_by")),
        )
        # A narrative: oldest first.
        .order_by("occurred_on", "pk")
    )
    entries = []
    for number, disagreement in enumerate(disagreements, start=1):
        amended: dict[str, list[Amendment]] = {f: [] for f in Disagreement.LOCKED_FACTS}
        for amendment in disagreement.amendments.all():
            amended.setdefault(amendment.field, []).append(amendment)
        entries.append(DossierEntry(number=number, disagreement=disagreement, amended=amended))

    now, then = client_health(client)
    history = selectors.band_history(Client.objects.filter(pk=client.pk))
    today = timezone.localdate()
    band_overrides = list(client.band_overrides.select_related("set_by", "ended_by"))
    override = next(
        (o for o in band_overrides if o.ended_at is None and o.expires_on >= today), None
    )
    letgo_cases = list(
        client.letgo_cases.select_related(
            "proposed_by", "decided_by", "completed_by", "reinstated_by"
        )
        .prefetch_related(
            Prefetch(
                "evidence",
                queryset=Disagreement.objects.only("pk", "title", "occurred_on").order_by(
                    "occurred_on", "pk"
                ),
            )
        )
        .order_by("proposed_at", "pk")
    )
    active = [d for d in disagreements if not d.is_archived]
    return {
        "client": client,
        "generated_at": timezone.now(),
        "engagements": engagements,
        "disagreements": disagreements,
        "entries": entries,
        "summary": {
            "total": len(disagreements),
            "archived": len(disagreements) - len(active),
            "open": sum(d.is_open for d in active),
            "proceeded": sum(d.decision == Disagreement.Decision.PROCEEDED for d in active),
            "advice_vindicated": sum(
                d.verdict == Disagreement.Verdict.ADVICE_VINDICATED for d in active
            ),
            "client_vindicated": sum(
                d.verdict == Disagreement.Verdict.CLIENT_VINDICATED for d in active
            ),
        },
        "amendments": [a for d in disagreements for a in d.amendments.all()],
        "comments": [c for d in disagreements for c in d.comments.all()],
        "evidence_files": [e for d in disagreements for e in d.evidence.all()],
        "health": now,
        "health_then": then,
        "health_band": Band(now.band).label,
        "health_trend": scoring.trend(now, then),
        "contributors": now.contributions,
        "snapshots": list(client.health_snapshots.order_by("date")),
        "score_chart": {
            "months": [m.isoformat() for m in history.months],
            "scores": history.scores.get(client.pk, []),
        },
        "override": override,
        "band_overrides": band_overrides,
        "letgo_cases": letgo_cases,
    }


def print_css() -> SafeString:
    """static/css/print.css, for inlining into the self-contained dossier."""
    return inline_css(PRINT_CSS)


def inline_css(path: str) -> SafeString:
    """One of our own static stylesheets (print.css; pdf.css for the PDFs),
    for inlining verbatim into a <style> element (escaping would break
    selectors and quoted font names); it must not contain "</".
    """
    found = finders.find(path)
    if found:
        text = Path(found).read_text(encoding="utf-8")
    else:  # collected static files only (no source tree)
        with staticfiles_storage.open(path) as stylesheet:
            text = stylesheet.read().decode("utf-8")
    if "</" in text:
        raise ValueError(f"{path} must not contain '</': it is inlined into <style>.")
    return mark_safe(text)  # our own stylesheet, checked above


# --- The evidence pack ---------------------------------------------------------


def evidence_pack(
    client: Client,
    *,
    rendered_dossier_html: str,
    rendered_dossier_pdf: bytes,
    context: Mapping[str, Any] | None = None,
) -> IO[bytes]:
    """A ZIP of the client's records, dossier (HTML and PDF) and evidence files, the client's
    part of the log with its proofs, verify.py and a README.txt for the
    recipient, with MANIFEST.sha256 (in `sha256sum` format) as its last member
    (docs/evidence.md describes the format).

    Returns a file positioned at its start, for a FileResponse to stream and
    close. `context` is `dossier_context(client)` when the caller already has
    it (the view renders the dossier from it); otherwise it is loaded here.
    """
    context = context if context is not None else dossier_context(client)
    stamp = timezone.localtime(context["generated_at"])
    # Not a `with`: the open file is returned, and the response closes it.
    spool = tempfile.SpooledTemporaryFile(max_size=PACK_SPOOL_BYTES, mode="w+b")  # noqa: SIM115
    try:
        with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            pack = _Pack(archive, stamp)
            packed = [(e, _pack_evidence(pack, e)) for e in context["evidence_files"]]
            integrity.evidence_checks_record([(e, row.get("pack_sha256")) for e, row in packed])
            evidence_rows = [row for _, row in packed]
            tables = _tables(client, context, evidence_rows)
            pack.add_json("client.json", _client_json(context, tables))
            for name, (columns, rows) in tables.items():
                pack.add_csv(f"{name}.csv", columns, rows)
            pack.add_bytes("dossier.html", rendered_dossier_html.encode("utf-8"))
            pack.add_bytes("dossier.pdf", rendered_dossier_pdf)
            _pack_log(pack, client, excerpt.client_excerpt(client), stamp)
            pack.add_manifest()
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return spool


class _Pack:
    """Writes members into the ZIP, hashing each one as it is written."""

    def __init__(self, archive: zipfile.ZipFile, stamp: datetime.datetime) -> None:
        self.archive = archive
        self.date_time = stamp.timetuple()[:6]
        self.sums: list[tuple[str, str]] = []  # (path, sha256 hex) in the order written

    def open(self, path: str) -> _Member:
        info = zipfile.ZipInfo(path, date_time=self.date_time)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16  # rw-r--r-- when unzipped
        return _Member(self, path, self.archive.open(info, "w"))

    def add_bytes(self, path: str, data: bytes) -> None:
        with self.open(path) as member:
            member.write(data)

    def add_json(self, path: str, data: Any) -> None:
        encoder = json.JSONEncoder(indent=2, ensure_ascii=False, default=_json_default)
        with self.open(path) as member:
            # iterencode yields many tiny pieces: write them in larger blocks.
            block: list[str] = []
            size = 0
            for piece in encoder.iterencode(data):
                block.append(piece)
                size += len(piece)
                if size >= READ_CHUNK_BYTES:
                    member.write("".join(block).encode("utf-8"))
                    block, size = [], 0
            block.append("\n")
            member.write("".join(block).encode("utf-8"))

    def add_csv(self, path: str, columns: list[str], rows: Iterable[Mapping[str, Any]]) -> None:
        # UTF-8 with a byte-order mark: spreadsheets then read accents correctly.
        with self.open(path) as member:
            text = _TextSink(member)
            text.write("\ufeff")
            writer = csv.writer(text)
            writer.writerow(columns)
            for row in rows:
                writer.writerow([_cell(row.get(column)) for column in columns])

    def add_manifest(self) -> None:
        """MANIFEST.sha256, and its signature by the firm's key when there is one:
        then no file can be changed, added or removed, the manifest included,
        without verify.py saying so."""
        lines = "".join(f"{digest}  {path}\n" for path, digest in self.sums).encode("utf-8")
        self._write_last(MANIFEST, lines)
        try:
            key = signing.signing_key()
        except signing.SigningKeyError:
            return  # verify.py says the manifest is unsigned
        self._write_last(verifier.MANIFEST_SIGNATURE, key.sign(lines))

    def _write_last(self, path: str, data: bytes) -> None:
        """A member outside the manifest (the manifest itself and its signature)."""
        info = zipfile.ZipInfo(path, date_time=self.date_time)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        self.archive.writestr(info, data)


class _Member:
    def __init__(self, pack: _Pack, path: str, stream: IO[bytes]) -> None:
        self.pack, self.path, self.stream = pack, path, stream
        self.digest = hashlib.sha256()

    def write(self, data: bytes) -> None:
        self.digest.update(data)
        self.stream.write(data)

    def __enter__(self) -> _Member:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.stream.close()
        if exc_type is None:
            self.pack.sums.append((self.path, self.digest.hexdigest()))


class _TextSink:
    """What csv.writer writes to: text, encoded as UTF-8 into a member."""

    def __init__(self, member: _Member) -> None:
        self.member = member

    def write(self, text: str) -> None:
        self.member.write(text.encode("utf-8"))


def evidence_pack_path(evidence: EvidenceFile) -> str:
    """Where an evidence file goes in the pack: evidence/<id>-<original name>."""
    name = "".join(
        "_" if ch in "/\\" or ord(ch) < 32 or ord(ch) == 127 else ch
        for ch in evidence.original_name
    ).strip()
    return f"evidence/{evidence.pk}-{name or 'file'}"


def _pack_evidence(pack: _Pack, evidence: EvidenceFile) -> dict[str, Any]:
    """Copy one evidence file into the pack in chunks; its row says what happened."""
    path = evidence_pack_path(evidence)
    source = integrity.open_stored(evidence)
    if source is None:
        return {"pack_path": None, "pack_status": "missing from storage"}
    try:
        with pack.open(path) as member:
            for chunk in source.chunks(READ_CHUNK_BYTES):
                member.write(chunk)
            digest = member.digest.hexdigest()
    finally:
        source.close()
    if digest != evidence.sha256:
        status = "included; differs from the SHA-256 recorded at upload"
    else:
        status = "included"
    return {"pack_path": path, "pack_status": status, "pack_sha256": digest}


# --- The log, and how to check it -------------------------------------------------


def _pack_log(pack: _Pack, client: Client, part: excerpt.Excerpt, stamp: datetime.datetime) -> None:
    """The client's log entries with their proofs, the tree head, its signature
    and timestamp, the firm's public key, verify.py and README.txt."""
    head = part.head
    proven = [entry for entry in part.entries if head is None or entry.index < head.size]
    with pack.open(verifier.ENTRIES) as member:
        for entry in proven:
            line = {
                "index": entry.index,
                "salt": entry.salt,
                "digest": entry.digest,
                "canonical": entry.canonical,
                "proof": [node.hex() for node in part.proofs.get(entry.index, [])],
            }
            member.write(json.dumps(line, ensure_ascii=False).encode("utf-8") + b"\n")
    info: dict[str, Any] = {
        "format": verifier.PACK_FORMAT,
        "made_at": stamp.isoformat(),
        "client": {"id": client.pk, "name": client.name},
        "entries": len(proven),
        "entries_after_head": len(part.entries) - len(proven),
        "head": None,
        "timestamp": None,
        # Shown in client.json but kept out of the log: not evidence.
        "not_logged": {"client": list(Client.DERIVED_FIELDS)},
    }
    if head is not None:
        text = heads.head_of(head).text()
        pack.add_bytes(verifier.HEAD_TEXT, text)
        pack.add_bytes(verifier.HEAD_SIGNATURE, bytes.fromhex(head.signature))
        pack.add_bytes(verifier.PUBLIC_KEY, (head.public_key.strip() + "\n").encode("ascii"))
        info["head"] = {
            "id": head.pk,
            "size": head.size,
            "root": head.root_hash,
            "time": head.signed_at.isoformat(),
            "key_id": head.key_id,
        }
        if head.timestamp_token is not None:
            pack.add_bytes(verifier.HEAD_TOKEN, bytes(head.timestamp_token))
            info["timestamp"] = {
                "authority": head.timestamp_authority,
                "time": head.timestamped_at.isoformat(),
            }
            certificates = timestamps.authority_certificates_pem()
            if certificates:
                pack.add_bytes(verifier.TSA_CERTIFICATES, certificates)
    pack.add_json(verifier.PACK_INFO, info)
    pack.add_bytes("verify.py", Path(verifier.__file__).read_bytes())
    pack.add_bytes("README.txt", _readme(client, info, part.problem).encode("utf-8"))


def _readme(client: Client, info: dict[str, Any], problem: str) -> str:
    head, stamp = info["head"], info["timestamp"]
    lines = [
        f"Evidence pack: {client.name}",
        "=" * (15 + len(client.name)),
        "",
        f"Made on {info['made_at'][:16].replace('T', ' ')} by Candor, the firm's record of",
        "disagreements with its clients. This folder holds the client's records",
        "(client.json, the .csv files, dossier.html, and dossier.pdf: the same",
        "dossier as a PDF), the evidence files as uploaded (evidence/), and the",
        "proof that these records are the ones the firm logged at the time (log/).",
        "",
        "To check it, unzip the pack and run, in this folder:",
        "",
        "    python3 verify.py",
        "",
        "It needs Python 3.11 or newer and the openssl command, nothing else, and no",
        'network. It prints "verified: ..." or names each thing that fails.',
        "",
        "What it proves",
        "--------------",
        "- No file was changed, removed or added since the pack was made",
        "  (MANIFEST.sha256; `sha256sum -c MANIFEST.sha256` checks the same).",
        f"- Each of the {info['entries']} log entries in log/entries.jsonl (every change to the",
        "  client's records, with who made it and when) is in the firm's log as of",
        "  the signed tree head in log/head.txt: a Merkle inclusion proof (RFC 9162,",
        "  as in Certificate Transparency) leads from the entry to the signed root.",
        "  An entry changed since, or made up, has no such proof.",
        "- The tree head is signed with the firm's Ed25519 key (log/firm-public-key.pem).",
    ]
    if head is not None:
        lines += [
            f"  Its key id is {head['key_id']}.",
            "  Compare it with the key id the firm publishes: that is what makes the",
            "  signature the firm's and not anyone's.",
        ]
    if stamp is not None:
        lines += [
            f"- The tree head existed on {stamp['time'][:19].replace('T', ' ')} UTC: a timestamp",
            f"  authority ({stamp['authority']}) countersigned it (RFC 3161, log/head.tsr).",
        ]
    else:
        lines += ["- The tree head carries no timestamp from an outside authority."]
    lines += [
        "- Each evidence file is the one logged when it was uploaded (its SHA-256),",
        "  and each record in client.json says what its latest log entry says.",
        "",
        "Other clients' records are not in this pack: the proofs hold only hashes of",
        "them, salted so that they reveal nothing.",
        "",
        "docs/evidence.md in Candor's source describes each file and how to check",
        "everything by hand with openssl and sha256sum.",
    ]
    if problem:
        lines += ["", f"Note: {problem}"]
    return "\n".join(lines) + "\n"


# --- Records as rows ------------------------------------------------------------

# Foreign keys to these get a second column with the related row's name, so a
# reader outside the firm sees people and teams, not ids.
NAMED_RELATIONS = (User, Team)


def _columns(model: type[models.Model], extra: Iterable[str] = ()) -> list[str]:
    columns = []
    for field in model._meta.concrete_fields:
        if isinstance(field, models.FileField):
            continue  # the storage name is internal; the pack path stands for it
        if field.is_relation:
            columns.append(field.attname)
            if field.related_model in NAMED_RELATIONS:
                columns.append(field.name)
        else:
            columns.append(field.name)
    return [*columns, *extra]


def _row(obj: models.Model, names: Mapping[tuple[type, Any], str]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for field in obj._meta.concrete_fields:
        if isinstance(field, models.FileField):
            continue
        if field.is_relation:
            pk = getattr(obj, field.attname)
            row[field.attname] = pk
            if field.related_model in NAMED_RELATIONS:
                row[field.name] = names.get((field.related_model, pk))
        else:
            row[field.name] = field.value_from_object(obj)
    return row


def _names(client: Client, objects: Iterable[models.Model]) -> dict[tuple[type, Any], str]:
    """Display names of every user the records point to, in one query."""
    user_ids = set()
    for obj in objects:
        for field in obj._meta.concrete_fields:
            if field.is_relation and field.related_model is User:
                pk = getattr(obj, field.attname)
                if pk is not None:
                    user_ids.add(pk)
    names: dict[tuple[type, Any], str] = {
        (User, user.pk): str(user) for user in User.objects.filter(pk__in=user_ids)
    }
    names[(Team, client.team_id)] = str(client.team)
    return names


def _tables(
    client: Client, context: Mapping[str, Any], evidence_rows: list[dict[str, Any]]
) -> dict[str, tuple[list[str], list[dict[str, Any]]]]:
    """Each CSV's columns and rows; client.json holds the same rows."""
    engagements = context["engagements"]
    disagreements = context["disagreements"]
    amendments = context["amendments"]
    comments = context["comments"]
    evidence = context["evidence_files"]
    snapshots = context["snapshots"]
    overrides = context["band_overrides"]
    cases = context["letgo_cases"]
    members = [m for e in engagements for m in e.members.all()]
    records = [client, *engagements, *disagreements, *amendments, *comments, *evidence]
    names = _names(client, [*records, *snapshots, *overrides, *cases])
    names.update({(User, user.pk): str(user) for user in members})

    def rows(objects: Iterable[models.Model]) -> list[dict[str, Any]]:
        return [_row(obj, names) for obj in objects]

    engagement_rows = rows(engagements)
    for row, engagement in zip(engagement_rows, engagements, strict=True):
        people = list(engagement.members.all())
        row["member_ids"] = [u.pk for u in people]
        row["members"] = [str(u) for u in people]
    evidence_table = rows(evidence)
    for row, extra in zip(evidence_table, evidence_rows, strict=True):
        row.update(extra)
    case_rows = rows(cases)
    for row, case in zip(case_rows, cases, strict=True):
        row["evidence_ids"] = [d.pk for d in case.evidence.all()]
    return {
        "client": (_columns(Client), rows([client])),
        "engagements": (_columns(Engagement, ["member_ids", "members"]), engagement_rows),
        "disagreements": (_columns(Disagreement), rows(disagreements)),
        "amendments": (_columns(Amendment), rows(amendments)),
        "comments": (_columns(Comment), rows(comments)),
        "evidence": (
            _columns(EvidenceFile, ["pack_path", "pack_status", "pack_sha256"]),
            evidence_table,
        ),
        "health": (_columns(HealthSnapshot), rows(snapshots)),
        "band_overrides": (_columns(BandOverride), rows(overrides)),
        "letgo_cases": (_columns(LetGoCase, ["evidence_ids"]), case_rows),
    }


def _client_json(
    context: Mapping[str, Any], tables: Mapping[str, tuple[list[str], list[dict[str, Any]]]]
) -> dict[str, Any]:
    now = context["health"]
    return {
        "format": "candor-evidence-pack",
        "version": 1,
        "generated_at": context["generated_at"],
        "client": tables["client"][1][0],
        "health_now": {
            "as_of": now.as_of,
            "score": now.score,
            "band": now.band,
            "computed_band": now.computed_band,
            "cap_reason": now.cap_reason,
            "trend": context["health_trend"],
            "total_friction": round(now.total_friction, 4),
            "contributors": [
                {
                    "disagreement_id": c.facts.id,
                    "age_days": c.age_days,
                    "severity_weight": c.severity_weight,
                    "tone_factor": c.tone_factor,
                    "decision_factor": c.decision_factor,
                    "outcome_factor": c.outcome_factor,
                    "decay": round(c.decay, 6),
                    "friction": round(c.friction, 6),
                }
                for c in now.contributions
            ],
        },
        "engagements": tables["engagements"][1],
        "disagreements": tables["disagreements"][1],
        "amendments": tables["amendments"][1],
        "comments": tables["comments"][1],
        "evidence_files": tables["evidence"][1],
        "health_snapshots": tables["health"][1],
        "band_overrides": tables["band_overrides"][1],
        "letgo_cases": tables["letgo_cases"][1],
    }
