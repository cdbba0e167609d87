"""Comments on a disagreement: managers' review notes and the advisor's replies."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db import transaction

from accounts.models import User
from accounts.permissions import can_comment
from advisory.models import Comment, Disagreement
from advisory.records.versioning import lock_open_disagreement


@transaction.atomic
def comment_add(disagreement: Disagreement, *, by: User, body: str) -> Comment:
    if not can_comment(by, disagreement):
        raise PermissionDenied
    lock_open_disagreement(disagreement)
    comment = Comment(disagreement=disagreement, author=by, body=body.strip())
    comment.full_clean()
    comment._history_user = by
    comment.save()
    return comment
