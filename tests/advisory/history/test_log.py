"""The log: entries made as history is written, signed tree heads, `verify()`,
`manage.py verify_log` and the administrators' page.

The Merkle tree itself is tested in test_merkle.py, timestamps in
test_timestamps.py, migrations that change tracked fields in
test_log_migrations.py.
"""

from __future__ import annotations

import datetime
import hashlib
import io
import json
import threading
from decimal import Decimal

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
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
from advisory.history import heads, log, signing, verification
from advisory.history.merkle import Tree
from advisory.history.verifier import Head, entry_digest, leaf_hash
from advisory.models import (
    ENGAGEMENT_HISTORY,
    ChainLink,
    Client,
    Comment,
    Disagreement,
    Engagement,
    EvidenceFile,
    LetGoCase,
    LogEntry,
    TreeHead,
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


def logged_entry(history_row) -> LogEntry:
    return LogEntry.objects.get(
        history_model=type(history_row)._meta.label_lower, history_id=history_row.pk
    )


def every_history_row():
    for history_model in log.logged_models().values():
        yield from history_model.objects.all()


def assert_intact() -> verification.Report:
    report = verification.verify()
    assert report.ok, report.problems
    assert report.entries == LogEntry.objects.count()
    return report


def problems(report: verification.Report) -> list[str]:
    return [f"{p.where}: {p.problem}" for p in report.problems]


def the_problem(report: verification.Report, kind: str) -> verification.Problem:
    """The one problem of this kind (a changed history entry is also a live
    record that no longer equals its latest entry: two findings, each named)."""
    found = [problem for problem in report.problems if problem.kind == kind]
    assert len(found) == 1, problems(report)
    return found[0]


def rewrite(entry: LogEntry, **fields) -> None:
    """Change a logged entry the way someone with the database would, digest and all."""
    document = json.loads(entry.canonical)
    document["fields"].update(fields)
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    digest = entry_digest(bytes.fromhex(entry.salt), canonical.encode()).hex()
    LogEntry.objects.filter(pk=entry.pk).update(canonical=canonical, digest=digest)


# --- Entries are logged as history is written ---------------------------------------


def test_every_historical_model_is_logged():
    # tests/logapp's note: the test run's own history-tracked model (tests/settings.py).
    assert set(log.logged_models()) - {"logapp.historicalnote"} == {
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


def test_the_fixtures_history_is_logged(dispute):
    # Factories save through the model, so their history entries are logged too.
    rows = list(every_history_row())
    assert {(type(r)._meta.label_lower, r.pk) for r in rows} == set(
        LogEntry.objects.values_list("history_model", "history_id")
    )
    assert_intact()


def test_positions_run_without_gaps_and_salts_differ(dispute):
    logged = list(LogEntry.objects.order_by("index"))
    assert [entry.index for entry in logged] == list(range(len(logged)))
    assert len({entry.salt for entry in logged}) == len(logged)
    assert all(len(bytes.fromhex(entry.salt)) == 16 for entry in logged)


def test_a_digest_reveals_nothing_without_its_salt(dispute):
    entry = logged_entry(dispute.history.get())
    assert entry.digest != hashlib.sha256(entry.canonical.encode()).hexdigest()
    assert entry.digest == entry_digest(bytes.fromhex(entry.salt), entry.canonical.encode()).hex()


def test_saving_a_client_logs_its_entry(advisor, team):
    client = ClientFactory.build(name="Globex", lead_advisor=advisor, team=team)
    client_save(client, by=advisor)

    entry = client.history.get()
    logged = logged_entry(entry)
    assert logged == LogEntry.objects.last()
    assert logged.canonical.encode() == log.canonical(entry)
    assert (
        logged.digest
        == hashlib.sha256(bytes.fromhex(logged.salt) + logged.canonical.encode()).hexdigest()
    )
    assert_intact()


def test_saving_an_engagement_with_members_logs_one_entry_with_them(acme, advisor, manager):
    engagement = EngagementFactory.build(client=acme, lead_advisor=advisor, fee=Decimal("1500"))
    engagement_save(engagement, by=advisor, members=[manager, advisor])

    entry = engagement.history.get()
    content = json.loads(log.canonical(entry))
    assert content["m2m"] == {"members": sorted([advisor.pk, manager.pk])}
    # In memory the fee was Decimal("1500"); stored, it has the column's two places.
    assert content["fields"]["fee"] == "1500.00"
    logged_entry(entry)
    assert_intact()


def test_changing_an_engagements_members_is_logged(acme_engagement, advisor, manager):
    engagement_save(acme_engagement, by=advisor, members=[manager], expected_version=1)
    acme_engagement.members.add(advisor)  # simple-history's own m2m_changed entry

    for entry in acme_engagement.history.all():
        logged_entry(entry)
    latest = acme_engagement.history.order_by("-history_id").first()
    assert json.loads(log.canonical(latest))["m2m"] == {"members": sorted([advisor.pk, manager.pk])}
    assert_intact()


def test_logging_a_disagreement_and_its_decision_are_logged(acme_engagement, advisor):
    disagreement = DisagreementFactory.build(engagement=acme_engagement, logged_by=None)
    disagreement_log(disagreement, by=advisor)
    disagreement.decision = Disagreement.Decision.ACCEPTED
    disagreement.decided_on = timezone.localdate()
    disagreement_record_decision(disagreement, by=advisor, expected_version=1)

    entries = list(disagreement.history.order_by("history_id"))
    assert [e.history_change_reason for e in entries] == ["Logged", "Decision: Accepted advice"]
    for entry in entries:
        logged_entry(entry)
    assert_intact()


def test_a_comment_is_logged(dispute, manager):
    comment = comment_add(dispute, by=manager, body="Please chase the client.")

    logged_entry(comment.history.get())
    assert_intact()


def test_a_band_override_is_logged(acme, manager):
    override = band_override_set(
        acme,
        by=manager,
        band="strained",
        reason="They threatened to leave.",
        expires_on=timezone.localdate() + datetime.timedelta(days=30),
    )

    logged_entry(override.history.get())
    assert_intact()


def test_evidence_files_and_let_go_cases_are_logged(dispute, advisor, manager):
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


def test_logging_an_entry_costs_one_select_and_one_insert(acme_engagement, manager):
    acme_engagement.members.set([manager])

    def queries_for_an_entry() -> list[str]:
        with CaptureQueriesContext(connection) as queries:
            ENGAGEMENT_HISTORY.create_historical_record(acme_engagement, "~")
        return [q["sql"] for q in queries.captured_queries]

    with_log = queries_for_an_entry()
    post_create_historical_record.disconnect(dispatch_uid="advisory.chain.entry")
    try:
        without_log = queries_for_an_entry()
    finally:
        post_create_historical_record.connect(
            log.on_history_created, dispatch_uid="advisory.chain.entry"
        )

    # The log's size (on PostgreSQL with the lock that serialises appends, in
    # one call), then the entry: what the hash chain before it cost.
    extra = with_log[len(without_log) :]
    assert len(extra) == 2
    if connection.vendor == "postgresql":
        assert extra[0].startswith("SELECT candor_log_size(")
    else:
        assert extra[0].startswith("SELECT") and "advisory_logentry" in extra[0]
    assert extra[1].startswith("INSERT") and "advisory_logentry" in extra[1]


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
    # Read back from the database, the entry gives the same bytes, as logged.
    assert log.canonical(HistoricalDisagreement.objects.get(pk=entry.pk)) == content
    assert logged_entry(entry).canonical.encode() == content


# --- Tampering is found, and named --------------------------------------------------


def test_an_edited_history_entry_is_named_with_its_field(dispute, advisor):
    dispute.title = "Renamed"
    disagreement_record_decision(dispute, by=advisor, expected_version=1)
    first = dispute.history.earliest()
    HistoricalDisagreement.objects.filter(pk=first.pk).update(client_request="tampered")

    problem = the_problem(verification.verify(), "entry")

    assert problem.index == logged_entry(first).index
    assert problem.where.startswith(
        f"Log entry #{problem.index} — Disagreement #{dispute.pk} “Stock count skipped”, "
        f"history entry {first.pk} of"
    )
    assert problem.problem == (
        "The history entry was changed after it was logged: client_request no longer "
        "says what was logged."
    )


def test_an_edited_member_list_is_found(acme_engagement, advisor, manager):
    engagement_save(acme_engagement, by=advisor, members=[manager], expected_version=1)
    entry = acme_engagement.history.order_by("-history_id").first()
    EngagementMembersHistory.objects.filter(history=entry).update(user=advisor)

    problem = the_problem(verification.verify(), "entry")

    assert problem.index == logged_entry(entry).index
    assert "members no longer says what was logged" in problem.problem


def test_a_deleted_history_entry_is_found_and_its_content_kept(dispute):
    entry = dispute.history.get()
    logged = logged_entry(entry)
    entry.delete()

    problem = the_problem(verification.verify(), "entry")

    assert problem.index == logged.index
    assert "The history entry it logs is missing: it was deleted." in problem.problem
    assert "Stock count skipped" in problem.where  # named from what was logged


def test_an_entry_added_around_the_application_is_found(dispute):
    forged = dispute.history.get()
    forged.history_id = None
    forged.client_request = "We never said that."
    forged.save()  # a plain INSERT: simple-history's signal is not sent

    problem = the_problem(verification.verify(), "unlogged")

    assert problem.where == "Disagreement history"
    assert problem.problem.startswith(
        f"1 history entry is not in the log: added around the application (the earliest: "
        f"#{forged.pk} of"
    )


def test_entries_bulk_created_with_history_are_found(dispute, manager):
    bulk_create_with_history(
        [Comment(disagreement=dispute, author=manager, body="Bulk")],
        Comment,
        default_user=manager,
    )

    problem = the_problem(verification.verify(), "unlogged")

    assert problem.where == "Comment history"
    assert f"#{Comment.history.get().pk} of" in problem.problem


def test_an_edited_log_entry_no_longer_matches_its_digest(dispute):
    entry = logged_entry(dispute.history.get())
    LogEntry.objects.filter(pk=entry.pk).update(
        canonical=entry.canonical.replace("Stock count skipped", "Stock count done")
    )

    found = problems(verification.verify())

    assert any("no longer matches its digest" in p for p in found)
    # The history entry now disagrees with the log, too.
    assert any("title no longer says what was logged" in p for p in found)


def test_garbage_in_the_log_is_reported_not_a_crash(dispute):
    entry = LogEntry.objects.order_by("index").first()
    head = heads.tree_head_sign()
    LogEntry.objects.filter(pk=entry.pk).update(salt="not hex", canonical="{not json")
    TreeHead.objects.filter(pk=head.pk).update(signature="zz", public_key="garbage")

    found = problems(verification.verify())

    assert any("Its salt or digest is not hexadecimal SHA-256" in p for p in found)
    assert any("Its root or signature is not hexadecimal" in p for p in found)
    out = io.StringIO()
    with pytest.raises(CommandError, match="The log does not verify"):
        call_command("verify_log", stdout=out)


def test_a_removed_log_entry_leaves_a_gap(dispute):
    entry = LogEntry.objects.order_by("index")[1]
    entry.delete()

    found = problems(verification.verify())

    assert (
        "Log entries #1: Missing: removed from the log (the positions must run without a gap)."
        in found
    )
    assert any("1 history entry is not in the log" in p for p in found)


def test_a_record_changed_behind_the_applications_back_is_found(dispute):
    """An UPDATE in the database: the page would show one thing, the log another."""
    Disagreement.objects.filter(pk=dispute.pk).update(
        decision=Disagreement.Decision.ACCEPTED, client_request="We agreed all along."
    )

    problem = the_problem(verification.verify(), "record")

    entry = dispute.history.get()
    assert problem.where == f"Disagreement #{dispute.pk} “Stock count skipped”"
    assert problem.problem == (
        "It was changed around the application: client_request, decision differ from its "
        f"latest history entry ({entry.pk})."
    )


def test_a_record_added_behind_the_applications_back_is_found(acme):
    forged = Client.objects.bulk_create(
        [ClientFactory.build(name="Ghost Ltd", team=acme.team, lead_advisor=acme.lead_advisor)]
    )[0]

    problem = the_problem(verification.verify(), "record")

    assert problem.where == f"Client #{forged.pk} “Ghost Ltd”"
    assert problem.problem == (
        "It has no history entry: it was added around the application, or its history was deleted."
    )


def test_fields_kept_out_of_the_history_may_change(dispute):
    Disagreement.objects.filter(pk=dispute.pk).update(version=7)  # not tracked

    assert_intact()


# --- Signed tree heads ---------------------------------------------------------------


def test_a_tree_head_signs_the_root_of_the_whole_log(dispute):
    head = heads.tree_head_sign()

    entries = list(LogEntry.objects.order_by("index"))
    tree = Tree(leaf_hash(bytes.fromhex(entry.digest)) for entry in entries)
    assert head.size == len(entries)
    assert head.root_hash == tree.root().hex()
    text = Head(head.size, tree.root(), head.signed_at).text()
    public = signing.load_public_pem(head.public_key)
    public.verify(bytes.fromhex(head.signature), text)  # raises if it does not
    assert head.key_id == signing.key_id(signing.signing_key().public_key())
    assert head.timestamp_token is None  # no authority in these tests
    report = assert_intact()
    assert report.covered == len(entries)


def test_a_log_that_has_not_grown_gets_no_new_head(dispute, advisor):
    first = heads.tree_head_sign()
    assert heads.tree_head_sign() == first
    assert heads.tree_head_sign(force=True) != first

    comment_add(dispute, by=advisor, body="Chased the client.")
    grown = heads.tree_head_sign()
    assert grown.size == first.size + 1
    assert_intact()


def test_without_a_key_no_head_is_made(dispute, settings, tmp_path):
    settings.CANDOR_LOG_SIGNING_KEY_FILE = tmp_path / "nowhere.pem"

    with pytest.raises(signing.SigningKeyError, match="There is no signing key at"):
        heads.tree_head_sign()

    assert not TreeHead.objects.exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not a key", "is not a PEM private key without a password"),
        (b"", "is not a PEM private key without a password"),
    ],
)
def test_an_unusable_key_says_why(dispute, settings, tmp_path, content, message):
    path = tmp_path / "key.pem"
    path.write_bytes(content)
    settings.CANDOR_LOG_SIGNING_KEY_FILE = path

    with pytest.raises(signing.SigningKeyError, match=message):
        heads.tree_head_sign()


def test_appending_never_waits_for_a_key(dispute, advisor, settings, tmp_path):
    settings.CANDOR_LOG_SIGNING_KEY_FILE = tmp_path / "nowhere.pem"
    before = LogEntry.objects.count()

    comment_add(dispute, by=advisor, body="Logged without a key.")

    assert LogEntry.objects.count() == before + 1


def test_no_head_is_signed_over_a_damaged_log(dispute, client, admin):
    LogEntry.objects.order_by("index")[1].delete()

    with pytest.raises(heads.LogDamaged, match="entries are missing"):
        heads.tree_head_sign()
    with pytest.raises(CommandError, match="No tree head is signed over a damaged log"):
        run("log_head")
    client.force_login(admin)
    response = client.post(reverse("tree-head-sign"), follow=True)
    assert "No tree head was signed. The log should hold" in response.content.decode()
    assert not TreeHead.objects.exists()


def test_a_changed_entry_after_a_head_breaks_its_root(dispute):
    head = heads.tree_head_sign()
    entry = LogEntry.objects.order_by("index")[2]
    rewrite(entry, title="Rewritten")  # digest recomputed: only the head can tell
    HistoricalDisagreement.objects.filter(pk=entry.history_id).update(title="Rewritten")

    problem = the_problem(verification.verify(), "head")

    assert problem.head == head.pk
    assert problem.problem == (
        f"The log's first {head.size} entries no longer give the root it signed: an entry "
        "it covers was changed, removed, inserted or reordered since."
    )


def test_reordered_entries_break_the_root(dispute):
    head = heads.tree_head_sign()
    first, second = LogEntry.objects.order_by("index")[:2]
    swapped = {
        field: getattr(first, field)
        for field in ("canonical", "salt", "digest", "history_model", "history_id")
    }
    with transaction.atomic():
        LogEntry.objects.filter(pk=first.pk).update(history_id=-1)
        LogEntry.objects.filter(pk=second.pk).update(history_id=-2)
        LogEntry.objects.filter(pk=first.pk).update(
            **{field: getattr(second, field) for field in swapped}
        )
        LogEntry.objects.filter(pk=second.pk).update(**swapped)

    problem = the_problem(verification.verify(), "head")

    assert problem.head == head.pk
    assert "no longer give the root it signed" in problem.problem


def test_entries_cut_from_the_end_after_a_head_are_found(dispute, advisor):
    comment_add(dispute, by=advisor, body="The last entry.")
    head = heads.tree_head_sign()
    last = LogEntry.objects.order_by("index").last()
    HistoricalComment = Comment.history.model
    HistoricalComment.objects.filter(pk=last.history_id).delete()
    last.delete()

    problem = the_problem(verification.verify(), "head")

    assert problem.head == head.pk
    assert problem.problem == (
        f"It was signed over {head.size} entries, but the log now holds {head.size - 1}: "
        "entries were removed after it (the log was cut short)."
    )


def test_an_emptied_log_is_not_intact(dispute):
    heads.tree_head_sign()
    for history_model in log.logged_models().values():
        history_model.objects.all().delete()
    LogEntry.objects.all().delete()

    report = verification.verify()

    assert not report.ok
    assert "the log was cut short" in problems(report)[0]


def test_a_head_changed_in_the_database_fails_its_signature(dispute):
    head = heads.tree_head_sign()
    TreeHead.objects.filter(pk=head.pk).update(size=head.size - 1)

    found = problems(verification.verify())

    assert any("Its signature does not match its size, root and time" in p for p in found)


def test_a_head_signed_by_someone_elses_key_is_not_trusted(dispute):
    """Whoever can write the database can sign with a key of their own and store it."""
    head = heads.tree_head_sign()
    intruder = Ed25519PrivateKey.generate()
    text = heads.head_of(head).text()
    TreeHead.objects.filter(pk=head.pk).update(
        public_key=signing.public_pem(intruder.public_key()),
        key_id=signing.key_id(intruder.public_key()),
        signature=intruder.sign(text).hex(),
    )

    problem = the_problem(verification.verify(), "head")

    assert problem.head == head.pk
    assert "signed by a key the firm does not trust" in problem.problem


def test_a_retired_key_still_verifies_its_heads(dispute, advisor, settings, tmp_path):
    old = heads.tree_head_sign()
    retired = tmp_path / "retired.pem"
    retired.write_text(old.public_key)
    settings.CANDOR_LOG_SIGNING_KEY_FILE = tmp_path / "new-key.pem"
    signing.create_key(settings.CANDOR_LOG_SIGNING_KEY_FILE)
    comment_add(dispute, by=advisor, body="After the rotation.")
    new = heads.tree_head_sign()
    assert new.key_id != old.key_id

    found = problems(verification.verify())
    assert len(found) == 1 and "does not trust" in found[0]  # the old key, not listed yet

    settings.CANDOR_LOG_RETIRED_PUBLIC_KEYS = [str(retired)]
    assert_intact()


def test_a_head_that_does_not_extend_the_one_before_is_found(dispute, advisor):
    """A log rewritten and signed again with the firm's own key: the old head gives it away."""
    first = heads.tree_head_sign()
    entry = LogEntry.objects.order_by("index")[1]
    rewrite(entry, title="Rewritten")
    HistoricalDisagreement.objects.filter(pk=entry.history_id).update(title="Rewritten")
    comment_add(dispute, by=advisor, body="Then more.")
    second = heads.tree_head_sign()

    found = problems(verification.verify())

    assert any(
        p.startswith(f"Tree head #{first.pk} ") and "no longer give the root" in p for p in found
    )
    assert any(
        p.startswith(f"Tree head #{second.pk} ")
        and f"It does not extend the head before it (Tree head #{first.pk} " in p
        for p in found
    )


def test_progress_is_reported_in_batches(dispute, monkeypatch):
    monkeypatch.setattr(verification, "BATCH", 2)
    done = []

    report = verification.verify(progress=done.append)

    assert report.ok
    assert sum(done) == LogEntry.objects.count()
    assert max(done) == 2


# --- The hash chain the log replaced ---------------------------------------------


def carry_into_old_chain() -> list[ChainLink]:
    """Links as the old chain made them, over the entries now in the log (as
    migration 0015 leaves them: the links were there first)."""
    prev = verification.GENESIS
    links = []
    for entry in LogEntry.objects.order_by("index"):
        link = ChainLink.objects.create(
            history_model=entry.history_model,
            history_id=entry.history_id,
            prev_hash=prev,
            hash=verification.chain_hash(prev, entry.canonical),
        )
        links.append(link)
        prev = link.hash
    return links


def test_the_old_chain_still_links_the_carried_entries(dispute):
    links = carry_into_old_chain()

    report = assert_intact()

    assert report.carried == len(links)


def test_an_entry_changed_before_the_log_took_over_is_found(dispute):
    links = carry_into_old_chain()
    ChainLink.objects.filter(pk=links[1].pk).update(hash="f" * 64)

    found = problems(verification.verify())

    assert any("It no longer matches its link in the old hash chain" in p for p in found)
    assert any(
        p == f"Link #{links[2].pk} of the old hash chain: It does not follow the link before it."
        for p in found
    )


# --- The commands ------------------------------------------------------------------


def run(command: str, *args) -> str:
    out = io.StringIO()
    call_command(command, *args, stdout=out)
    return out.getvalue()


def test_the_command_says_the_log_is_intact(dispute):
    output = run("verify_log")

    count = LogEntry.objects.count()
    assert f"Log intact: {count} entries verified." in output
    assert "No signed tree head yet" in output


def test_the_command_summarises_the_heads(dispute, advisor):
    head = heads.tree_head_sign()
    comment_add(dispute, by=advisor, body="Since the head.")

    output = run("verify_log", "--verbosity", "2")

    count = LogEntry.objects.count()
    assert f"1 signed tree head verified; the latest (#{head.pk}, " in output
    assert f"covers {head.size} of {count} entries." in output
    assert "Timestamps are off (no TSA_URL)" in output
    assert f"Latest tree head: #{head.pk}, root {head.root_hash}" in output


def test_the_command_fails_naming_every_problem(dispute):
    entry = dispute.history.get()
    HistoricalDisagreement.objects.filter(pk=entry.pk).update(client_request="tampered")

    with pytest.raises(CommandError) as error:
        run("verify_log")

    message = str(error.value)
    assert error.value.returncode == 1
    # The entry, and the record that no longer equals its latest entry.
    assert message.startswith("The log does not verify: 2 problems.")
    assert f"Disagreement #{dispute.pk} “Stock count skipped”, history entry {entry.pk}" in message
    assert "client_request no longer says what was logged" in message


def test_the_command_fails_when_heads_cannot_be_signed(dispute, settings, tmp_path):
    settings.CANDOR_LOG_SIGNING_KEY_FILE = tmp_path / "nowhere.pem"

    with pytest.raises(
        CommandError, match=r"New tree heads cannot be signed\. There is no signing key"
    ):
        run("verify_log")


def test_backfill_logs_entries_written_around_the_application(dispute, manager):
    forged = dispute.history.get()
    forged.history_id = None
    forged.save()
    bulk_create_with_history(
        [Comment(disagreement=dispute, author=manager, body="Bulk")], Comment, default_user=manager
    )
    before = LogEntry.objects.count()

    with pytest.raises(CommandError, match="not in the log"):
        run("verify_log")
    output = run("verify_log", "--backfill")

    assert "Logged 2 history entries that were not in the log." in output
    assert "Log intact" in output
    added = list(LogEntry.objects.filter(index__gte=before).order_by("index"))
    assert [e.history_id for e in added] == [forged.pk, Comment.history.get().pk]  # oldest first


def test_relogging_an_edited_tail_cannot_pass_the_signed_head(dispute, advisor):
    """Remove the log entries from an edit on, edit, log them again: the head tells."""
    comment = comment_add(dispute, by=advisor, body="What was really said.")
    head = heads.tree_head_sign()
    entry = comment.history.get()
    LogEntry.objects.filter(index__gte=logged_entry(entry).index).delete()
    type(entry).objects.filter(pk=entry.pk).update(body="Something nicer.")
    Comment.objects.filter(pk=comment.pk).update(body="Something nicer.")

    assert log.backfill() == 1  # the edited entry, logged again at the end
    report = verification.verify()

    assert not report.ok
    problem = the_problem(report, "head")
    assert problem.head == head.pk
    assert "no longer give the root it signed" in problem.problem


def test_backfill_with_nothing_to_log(dispute):
    output = run("verify_log", "--backfill")

    assert "Logged 0 history entries" in output
    assert_intact()


def test_log_head_signs_and_says_so(dispute):
    output = run("log_head")

    head = TreeHead.objects.get()
    assert output == f"Tree head #{head.pk}: {head.size} entries, root {head.root_hash}.\n"


def test_log_key_creates_a_private_key_once(settings, tmp_path):
    settings.CANDOR_LOG_SIGNING_KEY_FILE = path = tmp_path / "keys" / "log.pem"

    output = run("log_key", "create")

    assert f"Created the log's signing key at {path} (mode 600)." in output
    assert path.stat().st_mode & 0o777 == 0o600
    key_id = signing.key_id(signing.signing_key().public_key())
    assert f"Key id: {key_id}" in output
    assert "-----BEGIN PUBLIC KEY-----" in output
    assert "PRIVATE" not in output
    with pytest.raises(CommandError, match="There is a key at"):
        run("log_key", "create")
    assert run("log_key", "create", "--if-missing") == ""
    assert f"Key id: {key_id}" in run("log_key", "show")


def test_the_worker_signs_a_head_every_hour(dispute):
    from advisory.tasks import hourly_tree_head

    hourly_tree_head.call_local()

    assert TreeHead.objects.get().size == LogEntry.objects.count()


# --- The administrators' page -------------------------------------------------------


def test_an_admin_sees_the_log_intact(client, admin, dispute):
    client.force_login(admin)

    response = client.get(reverse("verify-log"))

    assert response.status_code == 200
    page = response.content.decode()
    assert "Intact." in page
    assert f"{LogEntry.objects.count()} entries verified" in page
    assert "No tree head has been signed yet." in page
    assert "Sign a tree head now" in page


def test_the_page_names_each_problem(client, admin, dispute):
    entry = dispute.history.get()
    HistoricalDisagreement.objects.filter(pk=entry.pk).update(client_request="tampered")
    client.force_login(admin)

    page = client.get(reverse("verify-log")).content.decode()

    assert "The log does not verify: 2 problems" in page
    assert f"Disagreement #{dispute.pk} “Stock count skipped”" in page
    assert "client_request no longer says what was logged" in page
    assert "Intact." not in page


def test_an_admin_signs_a_head_from_the_page(client, admin, dispute):
    client.force_login(admin)

    response = client.post(reverse("tree-head-sign"), follow=True)

    head = TreeHead.objects.get()
    page = response.content.decode()
    assert f"Tree head #{head.pk} signed: it covers {head.size} entries." in page
    assert head.root_hash in page
    assert "Timestamps are off" in page

    again = client.post(reverse("tree-head-sign"), follow=True).content.decode()
    assert "The log has not grown since tree head" in again
    assert TreeHead.objects.count() == 1


def test_the_page_says_when_heads_cannot_be_signed(client, admin, dispute, settings, tmp_path):
    settings.CANDOR_LOG_SIGNING_KEY_FILE = tmp_path / "nowhere.pem"
    client.force_login(admin)

    page = client.get(reverse("verify-log")).content.decode()
    assert "New tree heads cannot be signed." in page
    assert "Sign a tree head now" not in page

    response = client.post(reverse("tree-head-sign"), follow=True)
    assert "No tree head was signed. There is no signing key" in response.content.decode()
    assert not TreeHead.objects.exists()


@pytest.mark.parametrize("role", ["manager", "advisor"])
def test_other_roles_are_refused(client, request, role):
    client.force_login(request.getfixturevalue(role))

    assert client.get(reverse("verify-log")).status_code == 403
    assert client.post(reverse("tree-head-sign")).status_code == 403
    assert not TreeHead.objects.exists()


def test_a_visitor_is_sent_to_log_in(client, db):
    response = client.get(reverse("verify-log"))

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_a_staff_flag_without_the_admin_role_is_not_enough(client, dispute):
    staff = UserFactory(username="eve", role="", is_staff=True)
    client.force_login(staff)

    assert client.get(reverse("verify-log")).status_code == 403


# --- Writing in bulk ---------------------------------------------------------------------


def test_entries_logged_at_the_end_are_logged_as_if_one_by_one(acme, advisor, manager):
    before = LogEntry.objects.count()
    with transaction.atomic(), log.logged_at_end():
        for name in ("Globex", "Initech", "Umbrella"):
            client_save(ClientFactory.build(name=name, lead_advisor=advisor), by=manager)
        engagement = EngagementFactory.build(client=acme, lead_advisor=advisor)
        engagement_save(engagement, by=manager, members=[advisor, manager])
        assert LogEntry.objects.count() == before  # nothing logged yet

    logged = list(LogEntry.objects.order_by("index")[before:])
    assert [entry.history_model for entry in logged] == ["advisory.historicalclient"] * 3 + [
        "advisory.historicalengagement"
    ]
    assert [entry.index for entry in logged] == list(range(before, before + 4))
    assert json.loads(log.canonical(engagement.history.get()))["m2m"] == {
        "members": sorted([advisor.pk, manager.pk])
    }
    assert_intact()


def test_nothing_is_logged_when_the_block_fails(advisor, manager):
    before = LogEntry.objects.count()
    with pytest.raises(RuntimeError, match="disk"), transaction.atomic(), log.logged_at_end():
        client_save(ClientFactory.build(name="Globex", lead_advisor=advisor), by=manager)
        raise RuntimeError("disk full")

    assert LogEntry.objects.count() == before
    assert_intact()


def test_logging_at_the_end_needs_the_writing_transaction(transactional_db):
    with pytest.raises(RuntimeError, match="inside the transaction"), log.logged_at_end():
        pass


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_an_append_that_waited_for_the_lock_takes_the_next_position():
    """candor_log_size reads the size after the lock is held, in a snapshot
    taken then: not the size as it was when the waiting call began."""
    lead = UserFactory(role="")  # no role groups: a flush may have removed them
    first, second = (ClientFactory.build(name=n, lead_advisor=lead) for n in ("First", "Second"))
    failed = []

    def append_meanwhile() -> None:
        try:
            with transaction.atomic():
                second.save()  # its history entry waits for the log's lock
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
    *_, before, last = LogEntry.objects.order_by("index")
    assert last.index == before.index + 1
    assert verification.verify().ok
