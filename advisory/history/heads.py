"""Signed tree heads: the log's size and root, signed and timestamped.

A head commits the firm to every entry up to its size: an entry changed,
removed or reordered afterwards no longer gives that root, and the head's
signature (the firm's key, outside the database) and timestamp (an outside
authority's) cannot be remade to match. The worker signs a head every hour
when the log has grown (advisory/tasks.py); an admin can ask for one on the
log's page, and `manage.py log_head` from a terminal.

Timestamping never holds anything up: a head is stored signed, and a token
the authority could not give is asked for again by the next run.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from advisory.history import signing, timestamps
from advisory.history.log import log_size
from advisory.history.merkle import Tree
from advisory.history.verifier import Frontier, Head, leaf_hash
from advisory.models import LogEntry, TreeHead

logger = logging.getLogger(__name__)


class LogDamaged(Exception):
    """The log's positions do not run without a gap: no head is signed over it."""

    def __init__(self, size: int, read: int) -> None:
        super().__init__(
            f"The log should hold {size} entries in order but {read} were read: entries "
            "are missing. No tree head is signed over a damaged log; run verify_log."
        )


READ_CHUNK = 10_000


def leaf_hashes(size: int) -> Iterator[bytes]:
    """The leaf hashes of the first `size` entries, in order."""
    digests = (
        LogEntry.objects.filter(index__lt=size)
        .order_by("index")
        .values_list("digest", flat=True)
        .iterator(chunk_size=READ_CHUNK)
    )
    for digest in digests:
        yield leaf_hash(bytes.fromhex(digest))


def tree_head_sign(*, force: bool = False, tree: Tree | None = None) -> TreeHead:
    """Sign a head over the log as it is now (and timestamp it, when an authority is set).

    Without `force`, a log that has not grown since the latest head gets no
    new one (unless that head was signed by another key: after a rotation
    the current key signs): that head is returned. A caller that has just
    built the `tree` of the whole log (an evidence pack, for its proofs)
    passes it, so the log is read once. Raises `signing.SigningKeyError`
    when there is no usable key, and `LogDamaged` when entries are missing
    from the log; nothing is stored then.
    """
    key = signing.signing_key()
    public = key.public_key()
    # Committed entries are always positions 0..size-1 (appends are serialised).
    size = log_size()
    if tree is not None and tree.size != size:
        raise LogDamaged(size, tree.size)
    latest = latest_head()
    if (
        latest is not None
        and latest.size == size
        and latest.key_id == signing.key_id(public)
        and not force
    ):
        return latest
    if tree is None:
        frontier = Frontier()
        for leaf in leaf_hashes(size):
            frontier.append(leaf)
        if frontier.size != size:
            raise LogDamaged(size, frontier.size)
        root = frontier.root()
    else:
        root = tree.root()
    head = Head(size, root, timezone.now().replace(microsecond=0))
    stored = TreeHead.objects.create(
        size=size,
        root_hash=head.root.hex(),
        signed_at=head.time,
        key_id=signing.key_id(public),
        public_key=signing.public_pem(public),
        signature=key.sign(head.text()).hex(),
    )
    if settings.CANDOR_TSA_URL:
        tree_head_timestamp(stored)
    return stored


def head_of(stored: TreeHead) -> Head:
    return Head(stored.size, bytes.fromhex(stored.root_hash), stored.signed_at)


def tree_head_timestamp(stored: TreeHead) -> bool:
    """Ask the authority for the head's token; whether it was obtained.

    A failure is recorded on the head (and logged) for the next try; it is
    never raised: a head without a token is still a signed head.
    """
    url = settings.CANDOR_TSA_URL
    try:
        token = timestamps.timestamp(head_of(stored).text(), url=url)
    except timestamps.TimestampError as error:
        logger.warning(
            "Tree head %s not timestamped (try %s): %s",
            stored.pk,
            stored.timestamp_attempts + 1,
            error,
        )
        TreeHead.objects.filter(pk=stored.pk).update(
            timestamp_error=str(error), timestamp_attempts=stored.timestamp_attempts + 1
        )
        stored.refresh_from_db()
        return False
    with transaction.atomic():
        TreeHead.objects.filter(pk=stored.pk, timestamp_token__isnull=True).update(
            timestamp_token=token.response,
            timestamp_authority=url,
            timestamped_at=token.time,
            timestamp_error="",
            timestamp_attempts=stored.timestamp_attempts + 1,
        )
    stored.refresh_from_db()
    return True


def tree_heads_timestamp_missing() -> int:
    """Timestamp the heads still without a token (the worker's retry); how many got one."""
    if not settings.CANDOR_TSA_URL:
        return 0
    obtained = 0
    for stored in TreeHead.objects.filter(timestamp_token__isnull=True).order_by("pk"):
        if not tree_head_timestamp(stored):
            break  # the authority is still down: try again at the next run
        obtained += 1
    return obtained


def latest_head() -> TreeHead | None:
    return TreeHead.objects.order_by("-pk").first()
