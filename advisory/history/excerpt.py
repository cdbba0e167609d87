"""One client's part of the log, with the proofs that it is in the firm's log.

For the evidence pack: every log entry about the client (the client itself,
its engagements, disagreements, comments, evidence files, band overrides and
let-go cases), each with its inclusion proof to a signed tree head. A
recipient checks them with verify.py against that head alone: other clients'
entries appear only as hashes on the proof paths, and their salts keep even
those from saying anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import QuerySet

from advisory.history import heads, signing
from advisory.history.log import log_size
from advisory.history.merkle import Tree
from advisory.models import (
    BandOverride,
    Client,
    Comment,
    Disagreement,
    Engagement,
    EvidenceFile,
    LetGoCase,
    LogEntry,
    TreeHead,
)


@dataclass
class Excerpt:
    head: TreeHead | None
    entries: list[LogEntry] = field(default_factory=list)  # in log order
    proofs: dict[int, list[bytes]] = field(default_factory=dict)  # by index; none past the head
    problem: str = ""  # why there is no (fresh) head, when there is none

    @property
    def unproven(self) -> list[LogEntry]:
        return [entry for entry in self.entries if entry.index not in self.proofs]


def client_history(client: Client) -> dict[str, QuerySet]:
    """The ids of the client's history entries, per historical model's label."""
    disagreements = Disagreement.objects.filter(client=client).values("pk")
    found = {
        Client: Client.history.filter(id=client.pk),
        Engagement: Engagement.history.filter(client_id=client.pk),
        Disagreement: Disagreement.history.filter(id__in=disagreements),
        Comment: Comment.history.filter(disagreement_id__in=disagreements),
        EvidenceFile: EvidenceFile.history.filter(disagreement_id__in=disagreements),
        BandOverride: BandOverride.history.filter(client_id=client.pk),
        LetGoCase: LetGoCase.history.filter(client_id=client.pk),
    }
    return {
        model.history.model._meta.label_lower: rows.values("history_id")
        for model, rows in found.items()
    }


def client_excerpt(client: Client) -> Excerpt:
    """The client's log entries, proven against a head signed now if the log has grown."""
    # One read of the whole log: its tree gives the new head's root and every proof.
    tree = Tree(heads.leaf_hashes(log_size()))
    try:
        head = heads.tree_head_sign(tree=tree)
        problem = ""
    except (signing.SigningKeyError, heads.LogDamaged) as error:
        head = heads.latest_head()
        problem = f"No new tree head could be signed: {error}"
    entries = []
    for label, history_ids in client_history(client).items():
        entries.extend(LogEntry.objects.filter(history_model=label, history_id__in=history_ids))
    entries.sort(key=lambda entry: entry.index)
    excerpt = Excerpt(head=head, entries=entries, problem=problem)
    if head is not None and 0 < head.size <= tree.size:
        # (A head larger than the log as read: entries went missing since.
        # No proof can be made; verify.py and verify_log say so.)
        excerpt.proofs = {
            entry.index: tree.inclusion_proof(entry.index, head.size)
            for entry in entries
            if entry.index < head.size
        }
    return excerpt
