"""A double click or a resent form stores once: the same comment within
seconds is one comment, and a quick action sent again with the version it was
based on writes no second history entry."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from advisory.models import Comment, Disagreement
from advisory.views.common import ALREADY_SAVED

pytestmark = pytest.mark.django_db


def comment(client, disagreement, body="Chase the client."):
    return client.post(reverse("comment-create", args=[disagreement.pk]), {"body": body})


def entries(disagreement: Disagreement) -> list[str]:
    return list(
        disagreement.history.order_by("history_id").values_list("history_change_reason", flat=True)
    )


def test_the_same_comment_sent_twice_is_stored_once(client, manager, dispute):
    client.force_login(manager)

    first, second = comment(client, dispute), comment(client, dispute)

    assert first.status_code == second.status_code == 302
    assert Comment.objects.count() == 1
    assert Comment.history.count() == 1


def test_the_same_words_later_or_different_words_are_new_comments(
    client, manager, dispute, time_machine
):
    client.force_login(manager)
    time_machine.move_to(timezone.now())
    comment(client, dispute)
    comment(client, dispute, body="And the auditors.")
    time_machine.shift(datetime.timedelta(minutes=1))
    comment(client, dispute)

    assert list(Comment.objects.values_list("body", flat=True)) == [
        "Chase the client.",
        "And the auditors.",
        "Chase the client.",
    ]


def test_a_decision_sent_twice_is_recorded_once(client, advisor, dispute):
    client.force_login(advisor)
    data = {
        "version": dispute.version,
        "decision": Disagreement.Decision.ACCEPTED,
        "decided_on": timezone.localdate().isoformat(),
    }
    url = reverse("disagreement-decision", args=[dispute.pk])

    first = client.post(url, data)
    second = client.post(url, data, follow=True)

    assert first.status_code == 302
    assert second.redirect_chain[-1][0] == dispute.get_absolute_url()
    assert ALREADY_SAVED in second.content.decode()
    assert entries(dispute) == [None, "Decision: Accepted advice"]


def test_an_outcome_sent_twice_is_recorded_once(client, advisor, dispute):
    client.force_login(advisor)
    decision = {"decision": "accepted", "decided_on": timezone.localdate().isoformat()}
    client.post(reverse("disagreement-decision", args=[dispute.pk]), {"version": 1, **decision})
    data = {
        "version": 2,
        "verdict": "advice_vindicated",
        "outcome": "The count found the shortfall.",
        "outcome_recorded_on": timezone.localdate().isoformat(),
    }
    url = reverse("disagreement-outcome", args=[dispute.pk])

    client.post(url, data)
    second = client.post(url, data)

    assert second.status_code == 302
    assert entries(dispute)[-2:] == ["Decision: Accepted advice", "Outcome: Advice vindicated"]
    assert len(entries(dispute)) == 3


def test_a_different_decision_on_an_old_version_is_still_a_conflict(client, advisor, dispute):
    client.force_login(advisor)
    url = reverse("disagreement-decision", args=[dispute.pk])
    today = timezone.localdate().isoformat()
    client.post(url, {"version": 1, "decision": "accepted", "decided_on": today})

    response = client.post(url, {"version": 1, "decision": "withdrew", "decided_on": today})

    assert response.status_code == 409
    dispute.refresh_from_db()
    assert dispute.decision == Disagreement.Decision.ACCEPTED
