"""Nothing is added to a closed disagreement (archived, or its client let go):
the pages don't offer it, a POST is refused with a message (never a 500), and
a comment or an evidence file racing an archive lands before it or not at all."""

from __future__ import annotations

import threading

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.urls import reverse

from advisory.evidence import files
from advisory.models import Client, Comment, Disagreement, EvidenceFile
from advisory.records import comments, versioning
from tests.concurrency import postgresql_only, wait_until_another_waits
from tests.factories import ClientFactory, DisagreementFactory, EngagementFactory, UserFactory

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def archive(disagreement: Disagreement, *, by) -> None:
    versioning.record_set_archived(
        Disagreement.objects.get(pk=disagreement.pk),
        by=by,
        archived=True,
        expected_version=Disagreement.objects.get(pk=disagreement.pk).version,
    )


@pytest.fixture
def let_go(dispute) -> Disagreement:
    Client.objects.filter(pk=dispute.client_id).update(status=Client.Status.LET_GO)
    return dispute


def test_commenting_on_an_archived_disagreement_says_why_and_stores_nothing(
    client, manager, dispute
):
    archive(dispute, by=manager)
    client.force_login(manager)

    response = client.post(
        reverse("comment-create", args=[dispute.pk]), {"body": "Chase the client."}
    )

    assert response.status_code == 400
    assert versioning.ARCHIVED in response.content.decode()
    assert not Comment.objects.exists()


def test_commenting_on_a_let_go_clients_disagreement_says_why(client, manager, let_go):
    client.force_login(manager)

    response = client.post(reverse("comment-create", args=[let_go.pk]), {"body": "Noted."})

    assert response.status_code == 400
    assert "has been let go" in response.content.decode()
    assert not Comment.objects.exists()


@pytest.mark.parametrize("closed", ["archived", "let_go"])
def test_a_closed_disagreements_page_offers_no_comment_or_upload(client, manager, dispute, closed):
    if closed == "archived":
        archive(dispute, by=manager)
    else:
        Client.objects.filter(pk=dispute.client_id).update(status=Client.Status.LET_GO)
    client.force_login(manager)

    page = client.get(dispute.get_absolute_url()).content.decode()

    assert "Add comment" not in page
    assert reverse("comment-create", args=[dispute.pk]) not in page
    assert reverse("evidence-upload", args=[dispute.pk]) not in page


def test_an_open_disagreements_page_offers_both(client, manager, dispute):
    client.force_login(manager)

    page = client.get(dispute.get_absolute_url()).content.decode()

    assert reverse("comment-create", args=[dispute.pk]) in page
    assert reverse("evidence-upload", args=[dispute.pk]) in page


# --- Racing an archive (PostgreSQL: two transactions meet on the row lock) ----------------


def _race_with_archive(add) -> list[Exception]:
    """Archive a disagreement in a transaction that holds its lock while `add`
    runs in another thread; returns what `add` raised."""
    # Transactional tests have no role groups: a superuser may do both.
    admin = UserFactory(role="", is_superuser=True)
    engagement = EngagementFactory(client=ClientFactory(lead_advisor=admin))
    disagreement = DisagreementFactory(engagement=engagement, logged_by=admin)
    raised: list[Exception] = []

    def add_meanwhile() -> None:
        try:
            # Loaded before the archive commits: this copy says "not archived".
            add(Disagreement.objects.select_related("client").get(pk=disagreement.pk), admin)
        except Exception as exc:  # reported to the test
            raised.append(exc)
        finally:
            connection.close()

    with transaction.atomic():
        archive(disagreement, by=admin)
        other = threading.Thread(target=add_meanwhile)
        other.start()
        wait_until_another_waits("the addition")
    other.join()
    return raised


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_comment_racing_an_archive_is_refused_after_it():
    raised = _race_with_archive(
        lambda disagreement, by: comments.comment_add(disagreement, by=by, body="Late")
    )

    assert [type(exc) for exc in raised] == [ValidationError]
    assert not Comment.objects.exists()


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_an_upload_racing_an_archive_is_refused_after_it_and_leaves_no_file(media):
    def attach(disagreement, by):
        upload = SimpleUploadedFile("letter.pdf", PDF, content_type="application/pdf")
        files.evidence_attach(disagreement, by=by, upload=upload)

    raised = _race_with_archive(attach)

    assert [type(exc) for exc in raised] == [ValidationError]
    assert not EvidenceFile.objects.exists()
    assert [path for path in media.rglob("*") if path.is_file()] == []
