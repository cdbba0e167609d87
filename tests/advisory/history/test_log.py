"""The history's tamper-evident chain: links made as entries are written,
`verify()`, `manage.py verify_log` and the administrators' page."""

from __future__ import annotations

import datetime
import io
import itertools
import json
import threading
from decimal import Decimal

import pytest
from django.apps import apps
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from simple_history.signals import post_create_historical_record
from simple_history.utils import bulk_create_with_history

from advisory.health.services import band_override_set
from advisory.history import log
from advisory.models import (
    ENGAGEMENT_HISTORY,
    ChainLink,
    Comment,
    Disagreement,
    Engagement,
    EvidenceFile,
    LetGoCase,
)
from advisory.records.comments import comment_add
from advisory.records.services import (
    client_save,
    disagreement_log,
    disagreement_record_decision,
    engagement_save,
)
from tests.concurrency import postgresql_only, wait_until_another_waits
from tests.factories import ClientFactory, DisagreementFactory, EngagementFactory, UserFactory

pytestmark = pytest.mark.django_db

HistoricalDisagreement = Disagreement.history.model
HistoricalEngagement = Engagement.history.model
EngagementMembersHistory = apps.get_model("advisory", "HistoricalEngagement_members")


def link_of(history_row) -> ChainLink:
    return ChainLink.objects.get(
        history_model=type(history_row)._meta.label_lower, history_id=history_row.pk
    )


def every_history_row():
    for history_model in log.chained_models().values():
        yield from history_model.objects.all()


def assert_intact() -> log.Result:
    result = log.verify()
    assert result.ok, result.problem
    assert result.checked == ChainLink.objects.count()
    return result


# --- Links are made as history is written ---------------------------------------


def test_every_historical_model_is_chained():
    assert set(log.chained_models()) == {
        f"advisory.historical{name}"
        for name in [
            "client",
            "engagement",
            "disagreement",
            "comment",
            "evidencefile",
            "bandoverride",
            "letgocase",
        ]
    }


def test_the_fixtures_history_is_linked(dispute):
    # Factories save through the model, so their history entries are linked too.
    rows = list(every_history_row())
    assert {(type(r)._meta.label_lower, r.pk) for r in rows} == set(
        ChainLink.objects.values_list("history_model", "history_id")
    )
    assert_intact()


def test_each_link_follows_the_one_before(dispute):
    links = list(ChainLink.objects.order_by("pk"))
    assert links[0].prev_hash == log.GENESIS
    for before, after in itertools.pairwise(links):
        assert after.prev_hash == before.hash
    assert assert_intact().head == links[-1].hash


def test_saving_a_client_links_its_entry(advisor, team):
    client = ClientFactory.build(name="Globex", lead_advisor=advisor, team=team)
    client_save(client, by=advisor)

    entry = client.history.get()
    link = link_of(entry)
    assert link == ChainLink.objects.last()
    assert link.hash == log.link_hash(link.prev_hash, log.canonical(entry))
    assert_intact()


def test_saving_an_engagement_with_members_links_one_entry_with_them(acme, advisor, manager):
    engagement = EngagementFactory.build(client=acme, lead_advisor=advisor, fee=Decimal("1500"))
    engagement_save(engagement, by=advisor, members=[manager, advisor])

    entry = engagement.history.get()
    content = json.loads(log.canonical(entry))
    assert content["m2m"] == {"members": sorted([advisor.pk, manager.pk])}
    # In memory the fee was Decimal("1500"); stored, it has the column's two places.
    assert content["fields"]["fee"] == "1500.00"
    link_of(entry)
    assert_intact()


def test_changing_an_engagements_members_is_linked(acme_engagement, advisor, manager):
    engagement_save(acme_engagement, by=advisor, members=[manager], expected_version=1)
    acme_engagement.members.add(advisor)  # simple-history's own m2m_changed entry

    for entry in acme_engagement.history.all():
        link_of(entry)
    latest = acme_engagement.history.order_by("-history_id").first()
    assert json.loads(log.canonical(latest))["m2m"] == {"members": sorted([advisor.pk, manager.pk])}
    assert_intact()


def test_logging_a_disagreement_and_its_decision_are_linked(acme_engagement, advisor):
    disagreement = DisagreementFactory.build(engagement=acme_engagement, logged_by=None)
    disagreement_log(disagreement, by=advisor)
    disagreement.decision = Disagreement.Decision.ACCEPTED
    disagreement.decided_on = timezone.localdate()
    disagreement_record_decision(disagreement, by=advisor, expected_version=1)

    entries = list(disagreement.history.order_by("history_id"))
    assert [e.history_change_reason for e in entries] == ["Logged", "Decision: Accepted advice"]
    for entry in entries:
        link_of(entry)
    assert_intact()


def test_a_comment_is_linked(dispute, manager):
    comment = comment_add(dispute, by=manager, body="Please chase the client.")

    link_of(comment.history.get())
    assert_intact()


def test_a_band_override_is_linked(acme, manager):
    override = band_override_set(
        acme,
        by=manager,
        band="strained",
        reason="They threatened to leave.",
        expires_on=timezone.localdate() + datetime.timedelta(days=30),
    )

    link_of(override.history.get())
    assert_intact()


def test_evidence_files_and_let_go_cases_are_linked(dispute, advisor, manager):
    evidence = EvidenceFile.objects.create(
        disagreement=dispute,
        file="evidence/1/0123abcd",
        original_name="minutes.pdf",
        content_type="application/pdf",
        size=1234,
        sha256="a" * 64,
        uploaded_by=advisor,
    )
    case = LetGoCase.objects.create(
        client=dispute.client, proposed_by=manager, reason="other", justification="Enough."
    )
    case.evidence.set([dispute])

    assert json.loads(log.canonical(evidence.history.get()))["fields"]["file"] == (
        "evidence/1/0123abcd"
    )
    latest = case.history.order_by("-history_id").first()
    assert json.loads(log.canonical(latest))["m2m"] == {"evidence": [dispute.pk]}
    assert_intact()


def test_linking_an_entry_costs_one_select_and_one_insert(acme_engagement, manager):
    acme_engagement.members.set([manager])

    def queries_for_an_entry() -> list[str]:
        with CaptureQueriesContext(connection) as queries:
            ENGAGEMENT_HISTORY.create_historical_record(acme_engagement, "~")
        return [q["sql"] for q in queries.captured_queries]

    with_chain = queries_for_an_entry()
    post_create_historical_record.disconnect(dispatch_uid="advisory.chain.entry")
    try:
        without_chain = queries_for_an_entry()
    finally:
        post_create_historical_record.connect(
            log.on_history_created, dispatch_uid="advisory.chain.entry"
        )

    # The last hash (on PostgreSQL with the lock that serialises appends, in
    # one call), then the link.
    extra = with_chain[len(without_chain) :]
    assert len(extra) == 2
    if connection.vendor == "postgresql":
        assert extra[0].startswith("SELECT candor_chain_tail(")
    else:
        assert extra[0].startswith("SELECT") and "advisory_chainlink" in extra[0]
    assert extra[1].startswith("INSERT") and "advisory_chainlink" in extra[1]


def test_the_canonical_form_is_compact_sorted_json(dispute):
    entry = dispute.history.get()

    content = log.canonical(entry)
    document = json.loads(content)
    assert content == json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    assert document["model"] == "advisory.historicaldisagreement"
    assert document["history_id"] == entry.pk
    assert document["history_type"] == "+"
    assert document["history_date"].endswith("+00:00")
    assert document["fields"]["occurred_on"] == dispute.occurred_on.isoformat()
    assert document["fields"]["decided_on"] is None
    assert "version" not in document["fields"]  # not tracked
    assert "m2m" not in document
    # Read back from the database, the entry gives the same bytes.
    assert log.canonical(HistoricalDisagreement.objects.get(pk=entry.pk)) == content


# --- Tampering is detected ---------------------------------------------------------


def test_an_edited_entry_is_named(dispute, advisor):
    dispute.title = "Renamed"
    disagreement_record_decision(dispute, by=advisor, expected_version=1)
    first = dispute.history.earliest()
    HistoricalDisagreement.objects.filter(pk=first.pk).update(client_request="tampered")

    result = log.verify()

    assert not result.ok
    assert result.first_broken == link_of(first)
    assert "no longer matches its hash" in result.problem
    assert result.model == "disagreement"
    assert result.history_id == first.pk
    assert result.record == f"Disagreement #{dispute.pk} “Stock count skipped”"
    assert result.checked == ChainLink.objects.filter(pk__lt=result.first_broken.pk).count()


def test_an_edited_member_list_is_detected(acme_engagement, advisor, manager):
    engagement_save(acme_engagement, by=advisor, members=[manager], expected_version=1)
    entry = acme_engagement.history.order_by("-history_id").first()
    EngagementMembersHistory.objects.filter(history=entry).update(user=advisor)

    result = log.verify()

    assert result.first_broken == link_of(entry)


def test_a_deleted_entry_is_detected(dispute):
    entry = dispute.history.get()
    link, history_id = link_of(entry), entry.pk
    entry.delete()

    result = log.verify()

    assert not result.ok
    assert result.first_broken == link
    assert "missing" in result.problem
    assert result.history_id == history_id


def test_an_entry_added_around_the_application_is_detected(dispute):
    forged = dispute.history.get()
    forged.history_id = None
    forged.client_request = "We never said that."
    forged.save()  # a plain INSERT: simple-history's signal is not sent

    result = log.verify()

    assert not result.ok
    assert result.first_broken is None
    assert result.history_id == forged.pk
    assert "1 history entry has no link" in result.problem
    assert result.checked == ChainLink.objects.count()  # the chain itself is intact


def test_entries_bulk_created_with_history_are_detected(dispute, manager):
    bulk_create_with_history(
        [Comment(disagreement=dispute, author=manager, body="Bulk")],
        Comment,
        default_user=manager,
    )

    result = log.verify()

    assert not result.ok
    assert result.history_id == Comment.history.get().pk


def test_a_changed_link_hash_is_detected(dispute):
    link = ChainLink.objects.order_by("pk")[1]
    ChainLink.objects.filter(pk=link.pk).update(hash="f" * 64)

    result = log.verify()

    assert not result.ok
    assert result.first_broken == link


def test_a_removed_link_is_detected_at_the_next(dispute):
    removed, following = ChainLink.objects.order_by("pk")[1:3]
    removed.delete()

    result = log.verify()

    assert result.first_broken == following
    assert "previous hash" in result.problem


def test_progress_is_reported_in_batches(dispute, monkeypatch):
    monkeypatch.setattr(log, "BATCH", 2)
    done = []

    result = log.verify(progress=done.append)

    assert result.ok
    assert sum(done) == ChainLink.objects.count()


# --- The command -----------------------------------------------------------------------


def run_verify_log(*args) -> str:
    out = io.StringIO()
    call_command("verify_log", *args, stdout=out)
    return out.getvalue()


def test_the_command_says_the_chain_is_intact(dispute):
    output = run_verify_log()

    count = ChainLink.objects.count()
    assert f"History chain intact: {count} entries verified." in output


def test_the_command_prints_the_latest_hash_when_asked(dispute):
    output = run_verify_log("--verbosity", "2")

    assert f"Latest hash: {ChainLink.objects.last().hash}" in output


def test_the_command_fails_naming_the_broken_link(dispute):
    entry = dispute.history.get()
    HistoricalDisagreement.objects.filter(pk=entry.pk).update(client_request="tampered")

    with pytest.raises(CommandError) as error:
        run_verify_log()

    message = str(error.value)
    assert f"History chain broken at link #{link_of(entry).pk}." in message
    assert "Model:      disagreement" in message
    assert f"History id: {entry.pk}" in message
    assert f"Record:     Disagreement #{dispute.pk} “Stock count skipped”" in message
    assert "no longer matches its hash" in message


def test_the_command_exits_with_status_1(dispute):
    HistoricalDisagreement.objects.update(client_request="tampered")

    with pytest.raises(CommandError) as error:
        run_verify_log()

    assert error.value.returncode == 1


def test_backfill_links_a_history_that_predates_the_chain(dispute, manager):
    ChainLink.objects.all().delete()
    Comment.objects.create(disagreement=dispute, author=manager, body="After the upgrade.")
    unlinked = sum(1 for _ in every_history_row()) - 1

    with pytest.raises(CommandError, match="history entries have no link"):
        run_verify_log()

    output = run_verify_log("--backfill")

    assert f"Linked {unlinked} history entries that had no link." in output
    assert "History chain intact" in output
    # Oldest first, after the link made since.
    backfilled = list(ChainLink.objects.order_by("pk"))[1:]
    dates = [
        log.chained_models()[link.history_model].objects.get(pk=link.history_id).history_date
        for link in backfilled
    ]
    assert dates == sorted(dates)
    assert_intact()


def test_backfill_with_nothing_to_link(dispute):
    output = run_verify_log("--backfill")

    assert "Linked 0 history entries" in output
    assert_intact()


# --- The administrators' page -------------------------------------------------------


def test_an_admin_sees_the_chain_intact(client, admin, dispute):
    client.force_login(admin)

    response = client.get(reverse("verify-log"))

    assert response.status_code == 200
    page = response.content.decode()
    assert "Intact." in page
    assert f"{ChainLink.objects.count()} history entries verified" in page


def test_the_page_names_the_broken_link(client, admin, dispute):
    entry = dispute.history.get()
    HistoricalDisagreement.objects.filter(pk=entry.pk).update(client_request="tampered")
    client.force_login(admin)

    response = client.get(reverse("verify-log"))

    assert response.status_code == 200
    page = response.content.decode()
    assert f"Broken at link #{link_of(entry).pk}" in page
    assert f"Disagreement #{dispute.pk} “Stock count skipped”" in page
    assert "no longer matches its hash" in page
    assert "Intact." not in page


@pytest.mark.parametrize("role", ["manager", "advisor"])
def test_other_roles_are_refused(client, request, role):
    client.force_login(request.getfixturevalue(role))

    assert client.get(reverse("verify-log")).status_code == 403


def test_a_visitor_is_sent_to_log_in(client, db):
    response = client.get(reverse("verify-log"))

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_a_staff_flag_without_the_admin_role_is_not_enough(client, dispute):
    staff = UserFactory(username="eve", role="", is_staff=True)
    client.force_login(staff)

    assert client.get(reverse("verify-log")).status_code == 403


def test_entries_linked_at_the_end_chain_as_if_linked_one_by_one(acme, advisor, manager):
    before = ChainLink.objects.count()
    with transaction.atomic(), log.linked_at_end():
        for name in ("Globex", "Initech", "Umbrella"):
            client_save(ClientFactory.build(name=name, lead_advisor=advisor), by=manager)
        engagement = EngagementFactory.build(client=acme, lead_advisor=advisor)
        engagement_save(engagement, by=manager, members=[advisor, manager])
        assert ChainLink.objects.count() == before  # nothing linked yet

    links = list(ChainLink.objects.order_by("pk")[before:])
    assert [link.history_model for link in links] == ["advisory.historicalclient"] * 3 + [
        "advisory.historicalengagement"
    ]
    assert json.loads(log.canonical(engagement.history.get()))["m2m"] == {
        "members": sorted([advisor.pk, manager.pk])
    }
    assert_intact()


def test_nothing_is_linked_when_the_block_fails(advisor, manager):
    before = ChainLink.objects.count()
    with pytest.raises(RuntimeError, match="disk"), transaction.atomic(), log.linked_at_end():
        client_save(ClientFactory.build(name="Globex", lead_advisor=advisor), by=manager)
        raise RuntimeError("disk full")

    assert ChainLink.objects.count() == before
    assert_intact()


def test_linking_at_the_end_needs_the_writing_transaction(transactional_db):
    with pytest.raises(RuntimeError, match="inside the transaction"), log.linked_at_end():
        pass


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_an_append_that_waited_for_the_lock_links_to_the_entry_committed_meanwhile():
    """candor_chain_tail reads the last hash after the lock is held, in a
    snapshot taken then: not the tail as it was when the waiting call began."""
    lead = UserFactory(role="")  # no role groups: a flush may have removed them
    first, second = (ClientFactory.build(name=n, lead_advisor=lead) for n in ("First", "Second"))
    failed = []

    def append_meanwhile() -> None:
        try:
            with transaction.atomic():
                second.save()  # its history entry waits for the chain's lock
        except Exception as exc:  # reported below
            failed.append(exc)
        finally:
            connection.close()

    with transaction.atomic():
        first.save()
        other = threading.Thread(target=append_meanwhile)
        other.start()
        wait_until_another_waits("the other append")

    other.join()
    assert failed == []
    *_, before, last = ChainLink.objects.order_by("pk")
    assert last.prev_hash == before.hash
    assert log.verify().ok
