"""Comments on a disagreement: managers' review notes and the advisor's replies."""

from __future__ import annotations

import datetime

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from accounts.permissions import can_comment
from advisory.models import Comment, Disagreement
from advisory.records.versioning import lock_open_disagreement

# Within this long, the same comment again is taken as the first one resent.
REPEAT_WINDOW = datetime.timedelta(seconds=30)


@transaction.atomic
def comment_add(disagreement: Disagreement, *, by: User, body: str) -> Comment:
    if not can_comment(by, disagreement):
        raise PermissionDenied
    lock_open_disagreement(disagreement)
    # The same words from the same person a moment ago: a double click or a
    # resent form, not a second comment. (The lock above makes two at once
    # take turns, so the second finds the first.)
    repeated = Comment.objects.filter(
        disagreement=disagreement,
        author=by,
        body=body.strip(),
        created_at__gte=timezone.now() - REPEAT_WINDOW,
    ).first()
    if repeated is not None:
        return repeated
    comment = Comment(disagreement=disagreement, author=by, body=body.strip())
    comment.full_clean()
    comment._history_user = by
    comment.save()
    return comment
