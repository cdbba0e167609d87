"""RFC 3161 timestamps on tree heads, against a real authority (`openssl ts -reply`
behind an HTTP handler on 127.0.0.1, tests/tsa.py), checked with `openssl ts -verify`."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.urls import reverse

from advisory.history import heads, timestamps, verification
from advisory.models import TreeHead
from advisory.records.comments import comment_add
from advisory.tasks import hourly_tree_head
from tests import tsa

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="session")
def authority_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tsa")
    tsa.make_authority(folder)
    return folder


@pytest.fixture
def authority(authority_folder, settings):
    with tsa.running(tsa.Authority(authority_folder)) as running:
        settings.CANDOR_TSA_URL = running.url
        settings.CANDOR_TSA_CA_FILE = str(running.ca_file)
        yield running


def problems(report: verification.Report) -> list[str]:
    return [f"{p.where}: {p.problem}" for p in report.problems]


def test_a_head_is_timestamped_and_openssl_agrees(authority, dispute):
    head = heads.tree_head_sign()

    assert head.timestamp_token is not None
    assert head.timestamp_authority == authority.url
    assert head.timestamped_at is not None
    assert abs((head.timestamped_at - head.signed_at).total_seconds()) < 60
    assert (head.timestamp_error, head.timestamp_attempts) == ("", 1)
    text = heads.head_of(head).text()
    checked = tsa.openssl_verifies(bytes(head.timestamp_token), text, authority.ca_file)
    assert checked.returncode == 0, checked.stderr
    assert "Verification: OK" in checked.stdout
    # The same token over other bytes does not verify.
    other = tsa.openssl_verifies(bytes(head.timestamp_token), text + b"x", authority.ca_file)
    assert other.returncode != 0
    assert verification.verify().ok


def test_verify_log_and_the_page_name_the_authority(authority, client, admin, dispute):
    heads.tree_head_sign()
    out = io.StringIO()
    call_command("verify_log", stdout=out)
    assert f"It was timestamped by {authority.url} at " in out.getvalue()

    client.force_login(admin)
    page = client.get(reverse("verify-log")).content.decode()
    assert f"By {authority.url}" in page


def test_a_token_for_another_head_is_found(authority, dispute, advisor):
    first = heads.tree_head_sign()
    comment_add(dispute, by=advisor, body="Grows the log.")
    second = heads.tree_head_sign()
    TreeHead.objects.filter(pk=second.pk).update(timestamp_token=first.timestamp_token)

    found = problems(verification.verify())

    assert found == [
        f"{verification.Problem(heads_name(second), '').where}: Its timestamp: "
        "The token is for another hash than this head's."
    ]


def heads_name(stored: TreeHead) -> str:
    return verification._head_name(stored)


def test_a_forged_token_fails_its_signature(authority, dispute):
    head = heads.tree_head_sign()
    token = bytearray(head.timestamp_token)
    token[-10] ^= 0xFF  # inside the authority's signature
    TreeHead.objects.filter(pk=head.pk).update(timestamp_token=bytes(token))

    found = problems(verification.verify())

    assert len(found) == 1
    assert "Its timestamp:" in found[0]


def test_a_token_from_an_authority_the_firm_does_not_trust_is_found(
    authority, dispute, settings, tmp_path_factory
):
    heads.tree_head_sign()
    stranger = tmp_path_factory.mktemp("other-ca")
    tsa.make_authority(stranger)
    settings.CANDOR_TSA_CA_FILE = str(stranger / "ca.crt")

    found = problems(verification.verify())

    assert len(found) == 1
    assert "Its timestamp: The token's signature does not check out" in found[0]


# --- When the authority fails -----------------------------------------------------


def test_an_unreachable_authority_holds_nothing_up_and_is_asked_again(authority, dispute):
    url = authority.url
    authority.behaviour = "error"

    head = heads.tree_head_sign()

    assert head.timestamp_token is None
    assert head.timestamp_error == "The timestamp authority answered HTTP 500."
    assert head.timestamp_attempts == 1
    report = verification.verify()
    assert report.ok  # a head waiting for its token is not a broken log
    assert report.waiting_for_timestamp == [head]
    out = io.StringIO()
    call_command("verify_log", stdout=out)
    assert "1 head waits for a timestamp: The timestamp authority answered HTTP 500." in (
        out.getvalue()
    )

    authority.behaviour = "reply"
    hourly_tree_head.call_local()  # the worker's next run

    head.refresh_from_db()
    assert head.timestamp_token is not None
    assert head.timestamp_authority == url
    assert head.timestamp_attempts == 2
    assert TreeHead.objects.count() == 1  # the log did not grow: no new head
    assert verification.verify().ok


def test_an_authority_that_is_not_listening(dispute, settings):
    settings.CANDOR_TSA_URL = "http://127.0.0.1:9/tsa"  # the discard port: nothing answers

    head = heads.tree_head_sign()

    assert head.timestamp_token is None
    assert head.timestamp_error.startswith("The timestamp authority could not be reached:")


def test_an_authority_answering_garbage(authority, dispute):
    authority.behaviour = "garbage"

    head = heads.tree_head_sign()

    assert head.timestamp_token is None
    assert head.timestamp_error == "The timestamp authority's answer is not an RFC 3161 response."


def test_an_authority_replaying_an_old_token(authority, dispute, advisor):
    heads.tree_head_sign()
    authority.behaviour = "replay"
    comment_add(dispute, by=advisor, body="Grows the log.")

    head = heads.tree_head_sign()

    assert head.timestamp_token is None
    assert head.timestamp_error == "The token is for another hash than this head's."


def test_the_retry_stops_at_the_first_failure(authority, dispute, advisor):
    authority.behaviour = "error"
    heads.tree_head_sign()
    comment_add(dispute, by=advisor, body="Grows the log.")
    heads.tree_head_sign()
    queries = authority.queries

    assert heads.tree_heads_timestamp_missing() == 0

    assert authority.queries == queries + 1  # not one per waiting head while it is down


def test_a_check_without_the_authoritys_certificates_still_checks_the_hash(authority, dispute):
    head = heads.tree_head_sign()
    text = heads.head_of(head).text()

    token = timestamps.check(bytes(head.timestamp_token), text, roots=[])
    assert token.time == head.timestamped_at
    with pytest.raises(timestamps.TimestampError, match="for another hash"):
        timestamps.check(bytes(head.timestamp_token), text + b"x", roots=[])
