"""Letting a client go, the services: propose, decide, withdraw, offboard,
complete and reinstate; the read-only client; the letter; the e-mails."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import formats, timezone

from accounts.roles import Role
from advisory.evidence.files import evidence_attach
from advisory.letgo.selectors import letgo_reason
from advisory.letgo.services import (
    AlreadyDecided,
    client_reinstate,
    draft_letter,
    letgo_complete,
    letgo_decide,
    letgo_propose,
    letgo_update_offboarding,
    letgo_withdraw,
)
from advisory.models import (
    Client,
    Comment,
    Disagreement,
    Engagement,
    EvidenceFile,
    LetGoCase,
    Notification,
)
from advisory.records.comments import comment_add
from advisory.records.services import disagreement_log, engagement_save
from advisory.records.versioning import EditConflict, record_save
from tests.factories import ClientFactory, DisagreementFactory, EngagementFactory, UserFactory
from tests.records import fresh, tick_all

pytestmark = pytest.mark.django_db

Status = LetGoCase.Status
JUSTIFICATION = "Three overrides this year, each against written advice, and abuse on calls."
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def propose(client: Client, by, evidence, **overrides) -> LetGoCase:
    values = {
        "reason": LetGoCase.Reason.OVERRIDDEN_ADVICE,
        "justification": JUSTIFICATION,
        "evidence": evidence,
    }
    return letgo_propose(client, by=by, **{**values, **overrides})


def approve(case: LetGoCase, admin, note: str = "Agreed: the log is clear.") -> LetGoCase:
    return letgo_decide(case, by=admin, approve=True, note=note)


def state(case: LetGoCase) -> tuple:
    """What a refused transition must leave exactly as it was."""
    case = fresh(case)
    client = fresh(case.client)
    return (
        case.status,
        case.version,
        case.decided_by_id,
        case.decided_at,
        case.decision_note,
        case.completed_at,
        [getattr(case, name) for name in LetGoCase.CHECKLIST],
        case.history.count(),
        client.status,
        client.version,
        client.history.count(),
    )


@pytest.fixture
def case(acme, advisor, dispute) -> LetGoCase:
    return propose(acme, advisor, [dispute])


@pytest.fixture
def approved(case, admin) -> LetGoCase:
    return approve(case, admin)


@pytest.fixture
def offboarded(approved, admin) -> LetGoCase:
    ticked = tick_all(approved, admin)
    return letgo_complete(ticked, by=admin, expected_version=ticked.version)


@pytest.fixture
def other_admin(db):
    return UserFactory(username="erin", first_name="Erin", role=Role.ADMIN)


# --- The legal transitions ------------------------------------------------------


def test_an_advisor_proposes_with_evidence_and_the_client_becomes_let_go_proposed(
    acme, advisor, dispute
):
    case = propose(acme, advisor, [dispute], reason=LetGoCase.Reason.HOSTILE_CONDUCT)

    case = fresh(case)
    assert case.status == Status.PROPOSED
    assert case.proposed_by == advisor
    assert case.reason == LetGoCase.Reason.HOSTILE_CONDUCT
    assert case.justification == JUSTIFICATION
    assert list(case.evidence.all()) == [dispute]
    assert fresh(acme).status == Client.Status.LETGO_PROPOSED


def test_a_manager_proposes_for_a_client_of_their_team(acme, manager, dispute):
    case = propose(acme, manager, [dispute])

    assert fresh(case).proposed_by == manager
    assert fresh(acme).status == Client.Status.LETGO_PROPOSED


def test_an_admin_approves_and_the_client_is_flagged_with_a_letter_drafted(case, admin):
    approve(case, admin, note="  Agreed: the log is clear.  ")

    case = fresh(case)
    assert case.status == Status.APPROVED
    assert case.decided_by == admin
    assert case.decided_at is not None
    assert case.decision_note == "Agreed: the log is clear."
    assert "Acme Holdings" in case.letter
    assert fresh(case.client).status == Client.Status.FLAGGED


def test_an_admin_declines_with_a_note_and_the_client_is_active_again(case, admin):
    letgo_decide(case, by=admin, approve=False, note="Try a new partner on the account first.")

    case = fresh(case)
    assert case.status == Status.DECLINED
    assert case.decided_by == admin
    assert case.decision_note == "Try a new partner on the account first."
    assert case.letter == ""
    assert fresh(case.client).status == Client.Status.ACTIVE


def test_the_proposer_withdraws_and_the_client_is_active_again(case, advisor):
    letgo_withdraw(case, by=advisor)

    assert fresh(case).status == Status.WITHDRAWN
    assert fresh(case).decided_by is None
    assert fresh(case.client).status == Client.Status.ACTIVE


def test_the_offboarding_checklist_is_ticked_and_edited_while_approved(approved, admin):
    updated = letgo_update_offboarding(
        approved,
        by=admin,
        expected_version=approved.version,
        check_conflicts=True,
        check_notice_sent=True,
        notice_days=60,
        referral_note="Harrow & Quint LLP.",
        letter="Dear Pat,\n\nEdited by hand.",
    )

    case = fresh(updated)
    assert case.version == approved.version + 1
    assert case.check_conflicts and case.check_notice_sent
    assert not case.check_files_returned
    assert case.notice_days == 60
    assert case.referral_note == "Harrow & Quint LLP."
    assert case.letter == "Dear Pat,\n\nEdited by hand."
    assert case.status == Status.APPROVED
    assert fresh(case.client).status == Client.Status.FLAGGED


def test_completing_a_ticked_checklist_offboards_the_case_and_lets_the_client_go(approved, admin):
    ticked = tick_all(approved, admin)

    letgo_complete(ticked, by=admin, expected_version=ticked.version)

    case = fresh(approved)
    assert case.status == Status.OFFBOARDED
    assert case.completed_by == admin
    assert case.completed_at is not None
    assert fresh(case.client).status == Client.Status.LET_GO
    assert fresh(case.client).is_read_only


@pytest.mark.parametrize("close", ["withdraw", "decline"])
def test_after_a_withdrawn_or_declined_case_a_new_proposal_is_possible(
    close, case, advisor, admin, dispute
):
    if close == "withdraw":
        letgo_withdraw(case, by=advisor)
    else:
        letgo_decide(case, by=admin, approve=False, note="Not yet.")

    second = propose(fresh(case.client), advisor, [dispute])

    assert fresh(second).status == Status.PROPOSED
    assert fresh(case.client).status == Client.Status.LETGO_PROPOSED
    assert LetGoCase.objects.filter(client=case.client).count() == 2


# --- Illegal transitions: refused in the service, nothing changed ----------------


def test_deciding_twice_raises_already_decided_with_the_first_decision(
    approved, admin, other_admin
):
    before = state(approved)

    with pytest.raises(AlreadyDecided) as raised:
        letgo_decide(approved, by=other_admin, approve=False, note="I disagree.")

    assert raised.value.case.decided_by == admin
    assert raised.value.case.decided_at == fresh(approved).decided_at
    assert raised.value.case.status == Status.APPROVED
    assert state(approved) == before


def test_a_stale_copy_of_a_proposed_case_is_still_refused_once_decided(case, admin, other_admin):
    """Two admins open the same proposal; the second decision changes nothing."""
    stale = fresh(case)
    approve(case, admin)
    before = state(case)

    with pytest.raises(AlreadyDecided) as raised:
        letgo_decide(stale, by=other_admin, approve=False, note="No.")

    assert raised.value.case.decided_by == admin
    assert state(case) == before


@pytest.mark.parametrize("how", ["withdrawn", "declined", "offboarded"])
def test_a_closed_case_cannot_be_decided(how, case, advisor, admin, other_admin):
    if how == "withdrawn":
        letgo_withdraw(case, by=advisor)
    elif how == "declined":
        letgo_decide(case, by=admin, approve=False, note="Not yet.")
    else:
        ticked = tick_all(approve(case, admin), admin)
        letgo_complete(ticked, by=admin, expected_version=ticked.version)
    before = state(case)

    with pytest.raises(AlreadyDecided):
        letgo_decide(case, by=other_admin, approve=True, note="")

    assert state(case) == before


def test_declining_without_a_note_is_refused(case, admin):
    before = state(case)

    with pytest.raises(ValidationError) as raised:
        letgo_decide(case, by=admin, approve=False, note="   ")

    assert "note" in raised.value.message_dict
    assert state(case) == before


def test_deciding_with_a_stale_version_is_an_edit_conflict(case, admin):
    before = state(case)

    with pytest.raises(EditConflict):
        letgo_decide(case, by=admin, approve=True, note="", expected_version=case.version - 1)

    assert state(case) == before


@pytest.mark.parametrize("role", ["advisor", "manager"])
def test_only_an_admin_decides(role, request, case):
    user = request.getfixturevalue(role)
    before = state(case)

    with pytest.raises(PermissionDenied):
        letgo_decide(case, by=user, approve=True, note="")

    assert state(case) == before


@pytest.mark.parametrize("decision", [True, False])
def test_a_decided_case_cannot_be_withdrawn(decision, case, advisor, admin):
    letgo_decide(case, by=admin, approve=decision, note="Decided.")
    before = state(case)

    with pytest.raises(ValidationError, match="Only a proposal can be withdrawn"):
        letgo_withdraw(case, by=advisor)

    assert state(case) == before


@pytest.mark.parametrize("who", ["manager", "admin", "other_advisor"])
def test_only_the_proposer_withdraws(who, request, case):
    user = request.getfixturevalue(who)
    before = state(case)

    with pytest.raises(PermissionDenied):
        letgo_withdraw(case, by=user)

    assert state(case) == before


def test_completing_with_an_incomplete_checklist_is_refused_and_lists_what_is_missing(
    approved, admin
):
    ticks = dict.fromkeys(LetGoCase.CHECKLIST, True) | {"check_referral": False}
    updated = letgo_update_offboarding(
        approved, by=admin, expected_version=approved.version, **ticks
    )
    before = state(updated)

    with pytest.raises(ValidationError) as raised:
        letgo_complete(updated, by=admin, expected_version=updated.version)

    assert LetGoCase.CHECKLIST["check_referral"] in raised.value.messages[0]
    assert LetGoCase.CHECKLIST["check_conflicts"] not in raised.value.messages[0]
    assert state(updated) == before


def test_a_proposed_case_cannot_be_completed(case, admin):
    before = state(case)

    with pytest.raises(ValidationError, match="Only an approved case"):
        letgo_complete(case, by=admin, expected_version=case.version)

    assert state(case) == before


def test_completing_with_a_stale_version_is_an_edit_conflict(approved, admin):
    ticked = tick_all(approved, admin)
    before = state(ticked)

    with pytest.raises(EditConflict):
        letgo_complete(ticked, by=admin, expected_version=approved.version)

    assert state(ticked) == before


@pytest.mark.parametrize("how", ["proposed", "declined", "offboarded"])
def test_offboarding_is_recorded_only_while_approved(how, case, admin):
    if how == "declined":
        letgo_decide(case, by=admin, approve=False, note="Not yet.")
    elif how == "offboarded":
        ticked = tick_all(approve(case, admin), admin)
        letgo_complete(ticked, by=admin, expected_version=ticked.version)
    current = fresh(case)
    before = state(case)

    with pytest.raises(ValidationError, match="only while the case is approved"):
        letgo_update_offboarding(
            current, by=admin, expected_version=current.version, referral_note="Changed."
        )

    assert state(case) == before
    assert fresh(case).referral_note == ""


def test_offboarding_with_a_stale_version_is_an_edit_conflict(approved, admin):
    first = letgo_update_offboarding(
        approved, by=admin, expected_version=approved.version, referral_note="Harrow & Quint."
    )

    with pytest.raises(EditConflict):
        letgo_update_offboarding(
            approved, by=admin, expected_version=approved.version, referral_note="Mine."
        )

    assert fresh(first).referral_note == "Harrow & Quint."


def test_offboarding_refuses_a_notice_period_of_no_days(approved, admin):
    before = state(approved)

    with pytest.raises(ValidationError) as raised:
        letgo_update_offboarding(
            approved, by=admin, expected_version=approved.version, notice_days=0
        )

    assert "notice_days" in raised.value.message_dict
    assert state(approved) == before


def test_offboarding_refuses_fields_outside_the_checklist(approved, admin):
    before = state(approved)

    with pytest.raises(ValueError, match="status"):
        letgo_update_offboarding(
            approved, by=admin, expected_version=approved.version, status=Status.OFFBOARDED
        )

    assert state(approved) == before


@pytest.mark.parametrize("role", ["advisor", "manager"])
def test_only_an_admin_records_offboarding_or_completes(role, request, approved):
    user = request.getfixturevalue(role)
    before = state(approved)

    with pytest.raises(PermissionDenied):
        letgo_update_offboarding(
            approved, by=user, expected_version=approved.version, check_conflicts=True
        )
    with pytest.raises(PermissionDenied):
        letgo_complete(approved, by=user, expected_version=approved.version)

    assert state(approved) == before


@pytest.mark.parametrize(
    ("stage", "label"),
    [("case", "let-go proposed"), ("approved", "flagged to let go"), ("offboarded", "let go")],
)
def test_a_client_with_a_case_cannot_be_proposed_again(stage, label, request, manager, dispute):
    first = request.getfixturevalue(stage)
    cases = LetGoCase.objects.count()
    before = state(first)

    with pytest.raises(ValidationError) as raised:
        propose(fresh(first.client), manager, [fresh(dispute)])

    assert f"is already {label}" in raised.value.messages[0]
    assert LetGoCase.objects.count() == cases
    assert state(first) == before


def test_a_stale_copy_of_an_active_client_cannot_be_proposed_twice(acme, advisor, manager, dispute):
    propose(acme, advisor, [dispute])  # `acme` in memory still says "active"

    with pytest.raises(ValidationError, match="already"):
        propose(acme, manager, [dispute])

    assert LetGoCase.objects.count() == 1


def test_evidence_must_come_from_the_clients_own_log(acme, advisor, dispute, team):
    elsewhere = DisagreementFactory(
        engagement=EngagementFactory(client=ClientFactory(lead_advisor=advisor, team=team))
    )

    with pytest.raises(ValidationError) as raised:
        propose(acme, advisor, [dispute, elsewhere])

    assert raised.value.message_dict["evidence"] == ["Evidence must come from this client's log."]
    assert not LetGoCase.objects.exists()
    assert fresh(acme).status == Client.Status.ACTIVE


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"justification": ""}, "justification"),
        ({"justification": "  \n "}, "justification"),
        ({"evidence": []}, "evidence"),
    ],
)
def test_a_proposal_without_justification_or_evidence_is_refused(
    overrides, field, acme, advisor, dispute
):
    evidence = overrides.pop("evidence", [dispute])

    with pytest.raises(ValidationError) as raised:
        propose(acme, advisor, evidence, **overrides)

    assert field in raised.value.message_dict
    assert not LetGoCase.objects.exists()
    assert fresh(acme).status == Client.Status.ACTIVE
    assert fresh(acme).history.count() == acme.history.count()


def test_a_proposal_without_either_names_both(acme, advisor):
    with pytest.raises(ValidationError) as raised:
        propose(acme, advisor, [], justification="")

    assert set(raised.value.message_dict) == {"justification", "evidence"}


def test_a_proposal_with_an_unknown_reason_is_refused(acme, advisor, dispute):
    with pytest.raises(ValidationError):
        propose(acme, advisor, [dispute], reason="they are annoying")

    assert not LetGoCase.objects.exists()
    assert fresh(acme).status == Client.Status.ACTIVE


def test_an_archived_client_cannot_be_proposed(acme, advisor, dispute):
    Client.objects.filter(pk=acme.pk).update(is_archived=True)

    with pytest.raises(ValidationError, match="archived"):
        propose(fresh(acme), advisor, [dispute])

    assert not LetGoCase.objects.exists()
    assert fresh(acme).status == Client.Status.ACTIVE


def test_an_outsider_cannot_propose(acme, other_advisor, dispute):
    with pytest.raises(PermissionDenied):
        propose(acme, other_advisor, [dispute])

    assert not LetGoCase.objects.exists()
    assert fresh(acme).status == Client.Status.ACTIVE


def test_a_user_without_a_role_cannot_propose(acme, team, dispute):
    nobody = UserFactory(username="nobody", role="", team=team)

    with pytest.raises(PermissionDenied):
        propose(acme, nobody, [dispute])

    assert not LetGoCase.objects.exists()


# --- After let go: read-only, until reinstated ----------------------------------


READ_ONLY = "has been let go"


def new_disagreement(engagement: Engagement) -> Disagreement:
    return Disagreement(
        engagement=engagement,
        client=engagement.client,
        occurred_on=datetime.date.today() - datetime.timedelta(days=2),
        title="Wants the fee waived",
        topic=Disagreement.Topic.FEES,
        client_request="Waive the fee for the extra work.",
        recommendation="Invoice it as agreed in the engagement letter.",
        severity=Disagreement.Severity.LOW,
        tone=Disagreement.Tone.TENSE,
    )


def attempts(acme, advisor, manager) -> dict:
    """Every write to a client's records, each on copies loaded now."""
    client = fresh(acme)
    engagement = Engagement.objects.get(client=client)
    disagreement = Disagreement.objects.get(client=client)

    def save_client():
        client.notes = "Changed after the let-go."
        record_save(client, by=advisor, reason="Edit")

    def save_engagement():
        engagement.title = "Renamed after the let-go"
        record_save(engagement, by=advisor, reason="Edit")

    def save_disagreement():
        disagreement.title = "Retitled after the let-go"
        record_save(disagreement, by=advisor, reason="Edit")

    def log():
        disagreement_log(new_disagreement(Engagement.objects.get(pk=engagement.pk)), by=advisor)

    def new_engagement():
        engagement_save(
            Engagement(
                client=fresh(acme),
                title="New tax work",
                lead_advisor=advisor,
                start_date=datetime.date(2026, 1, 5),
            ),
            by=advisor,
        )

    def comment():
        comment_add(Disagreement.objects.get(pk=disagreement.pk), by=manager, body="Noted.")

    def attach():
        evidence_attach(
            Disagreement.objects.get(pk=disagreement.pk),
            by=advisor,
            upload=SimpleUploadedFile("letter.pdf", PDF, content_type="application/pdf"),
        )

    return {
        "record_save on the client": save_client,
        "record_save on its engagement": save_engagement,
        "record_save on its disagreement": save_disagreement,
        "disagreement_log": log,
        "engagement_save": new_engagement,
        "comment_add": comment,
        "evidence_attach": attach,
    }


def records(acme) -> tuple:
    return (
        fresh(acme).notes,
        fresh(acme).version,
        list(Engagement.objects.filter(client=acme).values_list("title", "version")),
        list(Disagreement.objects.filter(client=acme).values_list("title", "version")),
        Comment.objects.count(),
        EvidenceFile.objects.count(),
    )


@pytest.mark.parametrize(
    "attempt",
    [
        "record_save on the client",
        "record_save on its engagement",
        "record_save on its disagreement",
        "disagreement_log",
        "engagement_save",
        "comment_add",
        "evidence_attach",
    ],
)
def test_a_let_go_clients_records_are_read_only(attempt, offboarded, acme, advisor, manager, media):
    before = records(acme)
    write = attempts(acme, advisor, manager)[attempt]

    with pytest.raises(ValidationError) as raised:
        write()

    message = " ".join(raised.value.messages)
    assert f"Acme Holdings {READ_ONLY}" in message
    assert "read-only" in message
    assert records(acme) == before
    assert not list(media.rglob("*.pdf"))


def test_the_refusal_does_not_trust_a_stale_copy_of_the_client(acme, dispute, advisor, admin):
    """`dispute.client` was loaded before the let-go and still says "active";
    the database says "let go", and the database decides."""
    case = propose(fresh(acme), advisor, [dispute])
    ticked = tick_all(approve(case, admin), admin)
    letgo_complete(ticked, by=admin, expected_version=ticked.version)
    assert dispute.client.status == Client.Status.ACTIVE  # the stale copy

    dispute.title = "Retitled through a stale copy"
    with pytest.raises(ValidationError, match=READ_ONLY):
        record_save(dispute, by=advisor, reason="Edit")

    assert fresh(dispute).title == "Stock count skipped"


def test_reinstating_needs_a_reason(offboarded, admin):
    before = state(offboarded)

    with pytest.raises(ValidationError) as raised:
        client_reinstate(fresh(offboarded.client), by=admin, reason="  ")

    assert "reason" in raised.value.message_dict
    assert state(offboarded) == before


@pytest.mark.parametrize("role", ["advisor", "manager"])
def test_only_an_admin_reinstates(role, request, offboarded):
    before = state(offboarded)

    with pytest.raises(PermissionDenied):
        client_reinstate(
            fresh(offboarded.client), by=request.getfixturevalue(role), reason="Sorry."
        )

    assert state(offboarded) == before


@pytest.mark.parametrize("stage", ["case", "approved"])
def test_a_client_not_let_go_cannot_be_reinstated(stage, request, admin):
    case = request.getfixturevalue(stage)
    before = state(case)

    with pytest.raises(ValidationError, match="has not been let go"):
        client_reinstate(fresh(case.client), by=admin, reason="Sorry.")

    assert state(case) == before


def test_reinstating_keeps_the_reason_in_the_clients_history_and_on_the_case(
    offboarded, acme, admin
):
    client_reinstate(fresh(acme), by=admin, reason="  New board; they apologised in writing.  ")

    client = fresh(acme)
    assert client.status == Client.Status.ACTIVE
    assert not client.is_read_only
    latest = client.history.first()
    assert latest.history_user == admin
    assert latest.history_change_reason == "Reinstated: New board; they apologised in writing."
    case = fresh(offboarded)
    assert case.status == Status.OFFBOARDED
    assert case.reinstated_by == admin
    assert case.reinstated_at is not None
    assert case.reinstatement_reason == "New board; they apologised in writing."
    assert case.history.first().history_change_reason.startswith("Client reinstated: New board")


@pytest.mark.parametrize(
    "attempt",
    [
        "record_save on the client",
        "record_save on its engagement",
        "record_save on its disagreement",
        "disagreement_log",
        "engagement_save",
        "comment_add",
        "evidence_attach",
    ],
)
def test_after_reinstating_everything_works_again(
    attempt, offboarded, acme, advisor, manager, admin, media
):
    client_reinstate(fresh(acme), by=admin, reason="New board.")
    before = records(acme)

    attempts(acme, advisor, manager)[attempt]()

    assert records(acme) != before


def test_a_reinstated_client_can_be_proposed_again(offboarded, acme, advisor, admin, dispute):
    client_reinstate(fresh(acme), by=admin, reason="New board.")

    second = propose(fresh(acme), advisor, [dispute])

    assert fresh(second).status == Status.PROPOSED
    assert fresh(acme).status == Client.Status.LETGO_PROPOSED


def test_reinstating_a_second_time_records_it_on_the_latest_case(acme, advisor, admin, dispute):
    for reason in ["First return.", "Second return."]:
        case = propose(fresh(acme), advisor, [dispute])
        ticked = tick_all(approve(case, admin), admin)
        letgo_complete(ticked, by=admin, expected_version=ticked.version)
        client_reinstate(fresh(acme), by=admin, reason=reason)

    first, second = LetGoCase.objects.order_by("pk")
    assert first.reinstatement_reason == "First return."
    assert second.reinstatement_reason == "Second return."


# --- The disengagement letter ------------------------------------------------------


@pytest.fixture
def engagements(acme, acme_engagement) -> dict[str, Engagement]:
    E = Engagement.Status
    made = {"active": acme_engagement}
    for status, title in [
        (E.PROPOSED, "Group restructuring"),
        (E.ON_HOLD, "VAT health check"),
        (E.COMPLETED, "Annual audit 2025"),
        (E.TERMINATED, "Payroll bureau"),
    ]:
        made[status] = EngagementFactory(client=acme, title=title, status=status)
    made["archived"] = EngagementFactory(
        client=acme, title="Archived advisory", status=E.ACTIVE, is_archived=True
    )
    return made


def test_the_letter_says_what_ends_when_and_what_happens_next(
    engagements, acme, advisor, dispute, admin, time_machine
):
    time_machine.move_to(datetime.datetime(2027, 1, 15, 10, 0, tzinfo=datetime.UTC))
    Client.objects.filter(pk=acme.pk).update(name="Acme & Sons Holdings")
    case = propose(fresh(acme), advisor, [dispute])
    case = fresh(case)
    case.notice_days = 45
    case.referral_note = "Harrow & Quint LLP handle groups of your size."

    letter = draft_letter(case)

    assert letter.startswith("15 January 2027")
    assert "Acme & Sons Holdings" in letter  # plain text: nothing HTML-escaped
    assert "Dear Pat Contact" in letter
    for title in ["Annual audit 2026", "Group restructuring", "VAT health check"]:
        assert f"- {title}" in letter
    for title in ["Annual audit 2025", "Payroll bureau", "Archived advisory"]:
        assert title not in letter
    assert "ends on 1 March 2027, 45 days from the date of this letter" in letter
    assert "files" in letter.lower()
    assert "fees" in letter.lower() and "final invoice" in letter
    assert "Deadlines you must watch" in letter
    assert "another adviser" in letter
    assert "Harrow & Quint LLP handle groups of your size." in letter
    assert "Alice" in letter  # signed by the lead advisor


def test_the_letter_is_drafted_on_approval_with_the_default_notice_period(
    engagements, case, admin, time_machine
):
    time_machine.move_to(datetime.datetime(2027, 1, 15, 10, 0, tzinfo=datetime.UTC))

    approve(case, admin)

    letter = fresh(case).letter
    assert letter.startswith("15 January 2027")
    assert "ends on 14 February 2027, 30 days from" in letter
    assert "- Annual audit 2026" in letter
    assert "Annual audit 2025" not in letter


def test_a_client_with_no_open_engagement_gets_a_letter_without_the_list(acme, advisor, admin):
    done = EngagementFactory(client=acme, status=Engagement.Status.COMPLETED, title="Old audit")
    case = propose(acme, advisor, [DisagreementFactory(engagement=done)])

    letter = draft_letter(case)

    assert "Engagements ending" not in letter
    assert "Old audit" not in letter
    assert "Effective date" in letter


def test_the_edited_letter_is_kept_with_the_case(approved, admin):
    edited = approved.letter.replace("Yours sincerely", "Kind regards")

    letgo_update_offboarding(approved, by=admin, expected_version=approved.version, letter=edited)

    assert fresh(approved).letter == edited
    assert "Kind regards" in fresh(approved).letter


# --- E-mail ------------------------------------------------------------------------


def test_a_proposal_mails_the_active_admins_only(
    acme,
    advisor,
    manager,
    admin,
    other_admin,
    dispute,
    mailoutbox,
    django_capture_on_commit_callbacks,
):
    UserFactory(username="gone", role=Role.ADMIN, is_active=False)
    UserFactory(username="mute", role=Role.ADMIN, email="")

    with django_capture_on_commit_callbacks(execute=True):
        case = propose(acme, advisor, [dispute])

    # One e-mail per person: each carries its own unsubscribe link.
    assert sorted(m.to[0] for m in mailoutbox) == ["dana@example.com", "erin@example.com"]
    for mail in mailoutbox:
        assert len(mail.to) == 1
        assert mail.subject == "Let-go proposed: Acme Holdings"
        assert JUSTIFICATION in mail.body
        assert f"/let-go/{case.pk}/" in mail.body


@pytest.mark.parametrize("approve_it", [True, False])
def test_a_decision_mails_the_proposer_and_the_lead_advisor(
    approve_it,
    acme,
    advisor,
    manager,
    admin,
    dispute,
    mailoutbox,
    django_capture_on_commit_callbacks,
):
    case = propose(acme, manager, [dispute])

    with django_capture_on_commit_callbacks(execute=True):
        letgo_decide(case, by=admin, approve=approve_it, note="Decided after a call.")

    assert sorted(m.to[0] for m in mailoutbox) == ["alice@example.com", "charlie@example.com"]
    verdict = "approved" if approve_it else "declined"
    for mail in mailoutbox:
        assert mail.subject == f"Let-go {verdict}: Acme Holdings"
        assert "Decided after a call." in mail.body
        assert "Dana" in mail.body
        assert f"/let-go/{case.pk}/" in mail.body


@pytest.mark.parametrize("approve_it", [True, False])
def test_the_decision_mail_says_approved_or_declined_in_plain_words(
    approve_it, case, admin, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        letgo_decide(case, by=admin, approve=approve_it, note="Decided.")

    verdict = "approved" if approve_it else "declined"
    [mail] = mailoutbox
    assert mail.body.startswith(
        f"The proposal to let Acme Holdings go was {verdict} by Dana Tester on "
    )


def test_a_decision_mails_a_proposer_who_leads_the_client_once(
    case, admin, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        approve(case, admin)

    [mail] = mailoutbox
    assert mail.to == ["alice@example.com"]


def test_mail_is_sent_only_after_the_transaction_commits(
    acme, advisor, admin, dispute, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        case = propose(acme, advisor, [dispute])
        letgo_decide(case, by=admin, approve=True, note="")
    assert mailoutbox == []

    for callback in callbacks:
        callback()

    assert [m.subject for m in mailoutbox] == [
        "Let-go proposed: Acme Holdings",
        "Let-go approved: Acme Holdings",
    ]


def test_a_refused_transition_sends_no_mail(
    approved, admin, other_admin, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(AlreadyDecided):
        letgo_decide(approved, by=other_admin, approve=False, note="No.")

    assert mailoutbox == []


def test_a_mail_failure_does_not_undo_the_decision(
    case, admin, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    def broken(*args, **kwargs):
        raise ConnectionRefusedError("SMTP is down")

    monkeypatch.setattr("django.core.mail.EmailMultiAlternatives.send", broken)

    with django_capture_on_commit_callbacks(execute=True):
        approve(case, admin)

    assert fresh(case).status == Status.APPROVED
    assert fresh(case.client).status == Client.Status.FLAGGED
    [notification] = Notification.objects.filter(kind="letgo_decided")
    assert notification.emailed_at is None
    assert f"Could not send the e-mail for notification {notification.pk}" in caplog.text


# --- History: who, when and why, for every step -----------------------------------


def entries(obj) -> list[tuple[str, str | None]]:
    """(username, reason) for each step in the history, oldest first.

    A proposal is two entries (the case, then its evidence), both "Proposed":
    one step.
    """
    steps = []
    for h in obj.history.order_by("history_date", "history_id"):
        step = (h.history_user.username if h.history_user else None, h.history_change_reason)
        if not steps or steps[-1] != step:
            steps.append(step)
    return steps


def test_every_step_is_in_the_case_and_client_history_with_who_and_why(
    acme, advisor, admin, dispute
):
    case = propose(acme, advisor, [dispute])
    approve(case, admin, note="Agreed.")
    ticked = tick_all(fresh(case), admin)
    letgo_complete(ticked, by=admin, expected_version=ticked.version)
    client_reinstate(fresh(acme), by=admin, reason="New board.")

    assert entries(fresh(case)) == [
        ("alice", "Proposed"),
        ("dana", "Approved"),
        ("dana", "Offboarding updated"),
        (
            "dana",
            f"Letter sent by post on {formats.date_format(timezone.localdate())} "
            "to Acme Holdings, 1 Dock Road, Bristol BS1 4XX",
        ),
        ("dana", "Offboarding completed"),
        ("dana", "Client reinstated: New board."),
    ]
    assert entries(fresh(acme))[-5:] == [
        ("alice", "Let-go proposed"),
        ("dana", "Let-go approved"),
        ("dana", "Where letters go"),  # the postal address the letter went to
        ("dana", letgo_reason(timezone.localdate())),
        ("dana", "Reinstated: New board."),
    ]
    approved_entry = fresh(case).history.get(history_change_reason="Approved")
    assert approved_entry.decision_note == "Agreed."
    assert approved_entry.status == Status.APPROVED


def test_a_withdrawal_and_a_decline_are_in_the_history(acme, advisor, manager, admin, dispute):
    first = propose(acme, advisor, [dispute])
    letgo_withdraw(first, by=advisor)
    second = propose(fresh(acme), manager, [dispute])
    letgo_decide(second, by=admin, approve=False, note="Give it a quarter.")

    assert entries(fresh(first)) == [("alice", "Proposed"), ("alice", "Withdrawn by the proposer")]
    assert entries(fresh(second)) == [("charlie", "Proposed"), ("dana", "Declined")]
    assert fresh(second).history.first().decision_note == "Give it a quarter."
    assert entries(fresh(acme))[-4:] == [
        ("alice", "Let-go proposed"),
        ("alice", "Let-go withdrawn"),
        ("charlie", "Let-go proposed"),
        ("dana", "Let-go declined"),
    ]


def test_the_evidence_is_kept_in_the_case_history(case, dispute):
    proposed = fresh(case).history.filter(history_change_reason="Proposed").first()

    assert [row.disagreement_id for row in proposed.evidence.all()] == [dispute.pk]
