"""The disagreement record's rules, its writes (services) and its querysets."""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, models, transaction

from accounts.roles import Role
from advisory.models import Amendment, Client, Comment, Disagreement, Engagement
from advisory.records.comments import comment_add
from advisory.records.services import (
    disagreement_amend,
    disagreement_log,
    disagreement_mark_reviewed,
    disagreement_record_decision,
    disagreement_record_outcome,
)
from advisory.records.versioning import EditConflict, record_save
from tests.factories import (
    ClientFactory,
    DisagreementFactory,
    EngagementFactory,
    UserFactory,
)
from tests.records import reviewed

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2026, 3, 16)
DAY = datetime.timedelta(days=1)
OCCURRED = TODAY - 10 * DAY  # what DisagreementFactory gives on TODAY


@pytest.fixture(autouse=True)
def _today(time_machine) -> None:
    # Autouse, so it runs before the fixtures that create records.
    time_machine.move_to(datetime.datetime(2026, 3, 16, 10, tzinfo=ZoneInfo("Europe/London")))


def errors_of(disagreement: Disagreement) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as exc:
        disagreement.full_clean()
    return exc.value.message_dict


def proceeded(**fields) -> dict:
    """The decision fields of a client who proceeded against advice and said so."""
    return {
        "decision": Disagreement.Decision.PROCEEDED,
        "decided_on": TODAY - DAY,
        "risk_acknowledged": True,
        "acknowledged_on": TODAY - DAY,
        "acknowledgment_method": Disagreement.AcknowledgmentMethod.EMAIL,
        "client_words": "We understand the risk and proceed anyway.",
        **fields,
    }


# --- Validation ----------------------------------------------------------------


def test_a_valid_disagreement_passes_validation(acme_engagement):
    DisagreementFactory.build(engagement=acme_engagement).full_clean()


def test_it_rejects_a_future_date(acme_engagement):
    disagreement = DisagreementFactory.build(engagement=acme_engagement, occurred_on=TODAY + DAY)

    assert errors_of(disagreement) == {"occurred_on": ["The date cannot be in the future."]}


def test_it_accepts_today(acme_engagement):
    DisagreementFactory.build(engagement=acme_engagement, occurred_on=TODAY).full_clean()


@pytest.mark.parametrize("field", ["decided_on", "outcome_recorded_on"])
def test_it_rejects_a_date_before_the_disagreement(acme_engagement, field):
    disagreement = DisagreementFactory.build(
        engagement=acme_engagement,
        decision=Disagreement.Decision.ACCEPTED,
        **{field: OCCURRED - DAY},
    )

    assert errors_of(disagreement) == {field: ["This cannot be before the disagreement occurred."]}


def test_it_rejects_a_decision_date_while_the_decision_is_pending(acme_engagement):
    disagreement = DisagreementFactory.build(engagement=acme_engagement, decided_on=TODAY)

    assert errors_of(disagreement) == {
        "decided_on": ["Leave this empty while the decision is pending."]
    }


@pytest.mark.parametrize(
    "field, value",
    [
        ("risk_acknowledged", True),
        ("risk_acknowledged", False),
        ("acknowledged_on", TODAY),
        ("acknowledgment_method", Disagreement.AcknowledgmentMethod.EMAIL),
        ("client_words", "Fine, we accept the risk."),
    ],
)
@pytest.mark.parametrize(
    "decision",
    [
        Disagreement.Decision.PENDING,
        Disagreement.Decision.ACCEPTED,
        Disagreement.Decision.COMPROMISE,
        Disagreement.Decision.WITHDREW,
    ],
)
def test_it_rejects_an_acknowledgment_unless_the_client_proceeded(
    acme_engagement, decision, field, value
):
    ack = proceeded(decision=decision, decided_on=None if decision == "pending" else TODAY)
    # Only the one acknowledgment field under test is set.
    for name in ("risk_acknowledged", "acknowledged_on", "acknowledgment_method", "client_words"):
        ack.pop(name)
    disagreement = DisagreementFactory.build(engagement=acme_engagement, **ack, **{field: value})

    errors = errors_of(disagreement)

    assert errors["risk_acknowledged"] == [
        "An acknowledgment of risk only applies when the client proceeded against advice."
    ]


def test_a_full_acknowledgment_passes_when_the_client_proceeded(acme_engagement):
    DisagreementFactory.build(engagement=acme_engagement, **proceeded()).full_clean()


@pytest.mark.parametrize(
    "missing, message",
    [
        ("acknowledged_on", "Say when the client acknowledged the risk."),
        ("acknowledgment_method", "Say how the client acknowledged the risk."),
        ("client_words", "Quote the client's acknowledgment in their own words."),
    ],
)
def test_an_acknowledgment_needs_its_date_method_and_the_clients_words(
    acme_engagement, missing, message
):
    empty = None if missing == "acknowledged_on" else ""
    disagreement = DisagreementFactory.build(
        engagement=acme_engagement, **proceeded(**{missing: empty})
    )

    assert errors_of(disagreement) == {missing: [message]}


def test_an_acknowledgment_with_nothing_given_lists_every_missing_part(acme_engagement):
    disagreement = DisagreementFactory.build(
        engagement=acme_engagement,
        **proceeded(acknowledged_on=None, acknowledgment_method="", client_words=""),
    )

    assert errors_of(disagreement).keys() == {
        "acknowledged_on",
        "acknowledgment_method",
        "client_words",
    }


@pytest.mark.parametrize("acknowledged", [None, False])
def test_no_acknowledgment_yet_or_refused_needs_no_words(acme_engagement, acknowledged):
    DisagreementFactory.build(
        engagement=acme_engagement,
        **proceeded(
            risk_acknowledged=acknowledged,
            acknowledged_on=None,
            acknowledgment_method="",
            client_words="",
        ),
    ).full_clean()


@pytest.mark.parametrize("outcome", ["", "   \n "])
@pytest.mark.parametrize(
    "verdict",
    [v for v in Disagreement.Verdict.values if v != Disagreement.Verdict.PENDING],
)
def test_a_verdict_needs_the_outcome_described(acme_engagement, verdict, outcome):
    disagreement = DisagreementFactory.build(
        engagement=acme_engagement,
        decision=Disagreement.Decision.ACCEPTED,
        decided_on=TODAY,
        verdict=verdict,
        outcome=outcome,
        outcome_recorded_on=TODAY,
    )

    assert errors_of(disagreement) == {"outcome": ["Describe how it turned out."]}


# --- Database constraints --------------------------------------------------------


def test_the_database_refuses_a_decision_before_the_disagreement(dispute):
    with pytest.raises(IntegrityError), transaction.atomic():
        Disagreement.objects.filter(pk=dispute.pk).update(
            decision=Disagreement.Decision.ACCEPTED, decided_on=OCCURRED - DAY
        )

    dispute.refresh_from_db()
    assert dispute.decided_on is None


def test_the_database_refuses_an_outcome_before_the_disagreement(dispute):
    with pytest.raises(IntegrityError), transaction.atomic():
        Disagreement.objects.filter(pk=dispute.pk).update(outcome_recorded_on=OCCURRED - DAY)

    dispute.refresh_from_db()
    assert dispute.outcome_recorded_on is None


# The services skip Django's query per CheckConstraint for disagreements because
# clean() states the same rules: a new constraint needs its rule in clean() too.
COVERED_BY_CLEAN = {
    "disagreement_decided_after_occurred": "decided_on",
    "disagreement_outcome_after_occurred": "outcome_recorded_on",
}


def test_every_disagreement_check_constraint_is_also_a_rule_in_clean(acme_engagement):
    checks = {
        c.name for c in Disagreement._meta.constraints if isinstance(c, models.CheckConstraint)
    }
    assert checks == set(COVERED_BY_CLEAN)
    for field in COVERED_BY_CLEAN.values():
        disagreement = DisagreementFactory.build(
            engagement=acme_engagement,
            decision=Disagreement.Decision.ACCEPTED,
            **{field: OCCURRED - DAY},
        )
        with pytest.raises(ValidationError) as refused:
            disagreement.full_clean(validate_constraints=False)
        assert field in refused.value.message_dict


# --- Related records -------------------------------------------------------------


def test_validation_looks_up_only_the_relations_not_loaded(
    acme_engagement, advisor, django_assert_num_queries
):
    loaded = DisagreementFactory.build(engagement=acme_engagement, logged_by=advisor)
    with django_assert_num_queries(0):
        loaded.full_clean(validate_constraints=False)

    dangling = DisagreementFactory.build(engagement=acme_engagement, logged_by=advisor)
    dangling.engagement_id = 999999  # no longer the loaded engagement
    assert "engagement" in errors_of(dangling)
    assert "logged_by" in errors_of(
        DisagreementFactory.build(engagement=acme_engagement, logged_by=None)
    )


def test_the_database_refuses_a_loaded_engagement_deleted_since(advisor):
    gone = EngagementFactory()
    disagreement = DisagreementFactory.build(engagement=gone)
    Engagement.objects.filter(pk=gone.pk).delete()

    with pytest.raises(IntegrityError), transaction.atomic():
        disagreement_log(disagreement, by=advisor)
        connection.check_constraints()  # (deferred to the commit otherwise)

    assert not Disagreement.objects.exists()


# --- Logging ---------------------------------------------------------------------


def test_logging_attributes_the_disagreement_to_who_logged_it(acme_engagement, advisor, manager):
    disagreement = DisagreementFactory.build(engagement=acme_engagement, logged_by=advisor)

    disagreement_log(disagreement, by=manager)

    disagreement.refresh_from_db()
    assert disagreement.logged_by == manager
    assert disagreement.client == acme_engagement.client
    assert disagreement.version == 1
    [entry] = disagreement.history.all()
    assert entry.history_type == "+"
    assert entry.history_user == manager
    assert entry.history_change_reason == "Logged"


def test_logging_refuses_an_invalid_disagreement_and_saves_nothing(acme_engagement, advisor):
    disagreement = DisagreementFactory.build(engagement=acme_engagement, occurred_on=TODAY + DAY)

    with pytest.raises(ValidationError):
        disagreement_log(disagreement, by=advisor)

    assert not Disagreement.objects.exists()


def test_a_let_go_client_takes_no_new_disagreement(acme, acme_engagement, advisor):
    Client.objects.filter(pk=acme.pk).update(status=Client.Status.LET_GO)
    acme_engagement.refresh_from_db()
    disagreement = DisagreementFactory.build(engagement=acme_engagement)

    with pytest.raises(ValidationError) as exc:
        disagreement_log(disagreement, by=advisor)

    assert "has been let go" in exc.value.messages[0]
    assert not Disagreement.objects.exists()


@pytest.mark.parametrize(
    "status", [Client.Status.ACTIVE, Client.Status.LETGO_PROPOSED, Client.Status.FLAGGED]
)
def test_a_client_not_yet_let_go_still_takes_disagreements(acme_engagement, advisor, status):
    Client.objects.filter(pk=acme_engagement.client_id).update(status=status)
    acme_engagement.refresh_from_db()

    disagreement_log(DisagreementFactory.build(engagement=acme_engagement), by=advisor)

    assert Disagreement.objects.count() == 1


# --- Optimistic locking ----------------------------------------------------------


def test_a_save_increments_the_version(dispute, advisor):
    dispute.title = "Stock count postponed"

    record_save(dispute, by=advisor, expected_version=1)

    dispute.refresh_from_db()
    assert dispute.version == 2
    assert dispute.title == "Stock count postponed"


def test_a_save_from_a_stale_version_raises_a_conflict_and_writes_nothing(
    dispute, advisor, manager
):
    mine = Disagreement.objects.get(pk=dispute.pk)
    theirs = Disagreement.objects.get(pk=dispute.pk)
    theirs.title = "Their title"
    record_save(theirs, by=manager, expected_version=1)
    history_before = dispute.history.count()

    mine.title = "My title"
    mine.client_request = "My rewording of the request."
    with pytest.raises(EditConflict) as exc:
        record_save(mine, by=advisor, expected_version=1)

    assert exc.value.current.version == 2
    assert exc.value.current.title == "Their title"
    dispute.refresh_from_db()
    assert dispute.title == "Their title"
    assert dispute.client_request == "Skip the stock count this year."
    assert dispute.version == 2
    assert dispute.history.count() == history_before


# --- Decision and outcome ------------------------------------------------------------


def test_recording_a_decision_keeps_who_and_which_decision(dispute, advisor):
    for field, value in proceeded().items():
        setattr(dispute, field, value)

    disagreement_record_decision(dispute, by=advisor, expected_version=1)

    dispute.refresh_from_db()
    assert dispute.decision == Disagreement.Decision.PROCEEDED
    assert dispute.client_words == "We understand the risk and proceed anyway."
    entry = dispute.history.first()
    assert entry.history_user == advisor
    assert entry.history_change_reason == "Decision: Proceeded against advice"


def test_recording_a_decision_from_a_stale_version_raises_a_conflict(dispute, advisor):
    dispute.decision = Disagreement.Decision.ACCEPTED
    dispute.decided_on = TODAY

    with pytest.raises(EditConflict):
        disagreement_record_decision(dispute, by=advisor, expected_version=0)

    dispute.refresh_from_db()
    assert dispute.decision == Disagreement.Decision.PENDING


def test_recording_an_outcome_keeps_who_which_verdict_and_when(dispute, advisor, manager):
    dispute.decision, dispute.decided_on = Disagreement.Decision.ACCEPTED, TODAY
    disagreement_record_decision(dispute, by=advisor, expected_version=1)
    dispute.verdict = Disagreement.Verdict.ADVICE_VINDICATED
    dispute.outcome = "The auditors asked for the count; we had it."

    disagreement_record_outcome(dispute, by=manager, expected_version=2)

    dispute.refresh_from_db()
    assert dispute.verdict == Disagreement.Verdict.ADVICE_VINDICATED
    assert dispute.outcome_recorded_on == TODAY
    entry = dispute.history.first()
    assert entry.history_user == manager
    assert entry.history_change_reason == "Outcome: Advice vindicated"


def test_an_outcome_waits_for_the_decision(dispute, advisor):
    dispute.verdict = Disagreement.Verdict.MIXED
    dispute.outcome = "Partly."

    with pytest.raises(ValidationError) as exc:
        disagreement_record_outcome(dispute, by=advisor, expected_version=1)

    assert exc.value.message_dict == {
        "verdict": ["Record the client's decision before the outcome."]
    }
    dispute.refresh_from_db()
    assert dispute.verdict == Disagreement.Verdict.PENDING


# --- Review ----------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["manager", "admin"])
def test_managers_and_admins_mark_a_disagreement_reviewed(dispute, request, role):
    user = request.getfixturevalue(role)

    reviewed(dispute, user)

    dispute.refresh_from_db()
    assert dispute.is_reviewed
    assert dispute.reviewed_by == user
    assert dispute.reviewed_at is not None
    assert dispute.version == 2
    entry = dispute.history.first()
    assert entry.history_user == user
    assert entry.history_change_reason == "Reviewed: facts locked"


def test_an_advisor_may_not_mark_a_disagreement_reviewed(dispute, advisor):
    with pytest.raises(PermissionDenied):
        disagreement_mark_reviewed(dispute, by=advisor, expected_version=1)

    dispute.refresh_from_db()
    assert not dispute.is_reviewed
    assert dispute.version == 1


def test_a_disagreement_is_reviewed_once(dispute, manager, admin):
    reviewed(dispute, manager)

    with pytest.raises(ValidationError):
        reviewed(dispute, admin)

    dispute.refresh_from_db()
    assert dispute.reviewed_by == manager


def test_a_review_from_a_stale_version_raises_a_conflict(dispute, manager, advisor):
    stale = Disagreement.objects.get(pk=dispute.pk)
    dispute.title = "Changed meanwhile"
    record_save(dispute, by=advisor, expected_version=1)

    with pytest.raises(EditConflict):
        disagreement_mark_reviewed(stale, by=manager, expected_version=1)

    dispute.refresh_from_db()
    assert not dispute.is_reviewed


@pytest.mark.parametrize(
    "field, value",
    [
        ("client_request", "Skip the count, and the inventory too."),
        ("recommendation", "Whatever you prefer."),
        ("occurred_on", OCCURRED - DAY),
        ("severity", Disagreement.Severity.CRITICAL),
        ("tone", Disagreement.Tone.HOSTILE),
    ],
)
def test_a_review_locks_the_facts(dispute, manager, advisor, field, value):
    reviewed(dispute, manager)
    original = getattr(dispute, field)
    setattr(dispute, field, value)

    with pytest.raises(ValidationError) as exc:
        record_save(dispute, by=advisor, expected_version=dispute.version)

    assert exc.value.message_dict == {
        field: ["Locked since the manager's review: record a correction as an amendment."]
    }
    dispute.refresh_from_db()
    assert getattr(dispute, field) == original
    assert dispute.version == 2


def test_after_review_the_title_and_follow_up_can_still_change(dispute, manager, advisor):
    reviewed(dispute, manager)
    dispute.title = "Stock count skipped (FY2026)"
    dispute.follow_up_on = TODAY + 7 * DAY

    record_save(dispute, by=advisor, expected_version=2)

    dispute.refresh_from_db()
    assert dispute.title == "Stock count skipped (FY2026)"


def test_after_review_the_decision_and_outcome_can_still_be_recorded(dispute, manager, advisor):
    reviewed(dispute, manager)
    for field, value in proceeded().items():
        setattr(dispute, field, value)
    disagreement_record_decision(dispute, by=advisor, expected_version=2)
    dispute.verdict = Disagreement.Verdict.CLIENT_VINDICATED
    dispute.outcome = "The count was not needed after all."

    disagreement_record_outcome(dispute, by=advisor, expected_version=3)

    dispute.refresh_from_db()
    assert dispute.decision == Disagreement.Decision.PROCEEDED
    assert dispute.verdict == Disagreement.Verdict.CLIENT_VINDICATED
    assert dispute.version == 4


# --- Amendments -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "field, new_value, stored, old_display, new_display",
    [
        (
            "client_request",
            "Skip the stock count this year and next.",
            "Skip the stock count this year and next.",
            "Skip the stock count this year.",
            "Skip the stock count this year and next.",
        ),
        (
            "recommendation",
            "Keep the count.",
            "Keep the count.",
            "Keep the stock count; the auditors will ask for it.",
            "Keep the count.",
        ),
        ("severity", "critical", "critical", "Moderate", "Critical"),
        ("tone", "hostile", "hostile", "Tense", "Hostile"),
        ("occurred_on", "2026-03-05", datetime.date(2026, 3, 5), "2026-03-06", "2026-03-05"),
    ],
)
def test_an_amendment_corrects_a_locked_fact_and_keeps_the_original(
    dispute, manager, advisor, field, new_value, stored, old_display, new_display
):
    reviewed(dispute, manager)

    amendment = disagreement_amend(
        dispute,
        by=advisor,
        field=field,
        new_value=new_value,
        reason="Misheard on the call",
        expected_version=2,
    )

    dispute.refresh_from_db()
    assert getattr(dispute, field) == stored
    assert dispute.version == 3
    assert amendment.disagreement == dispute
    assert amendment.field == field
    assert amendment.old_value == old_display
    assert amendment.new_value == new_display
    assert amendment.reason == "Misheard on the call"
    assert amendment.amended_by == advisor
    assert list(dispute.amendments.all()) == [amendment]
    entry = dispute.history.first()
    assert entry.history_user == advisor
    assert entry.history_change_reason == "Amended: Misheard on the call"


@pytest.mark.parametrize("reason", ["", "   "])
def test_an_amendment_needs_a_reason(dispute, manager, advisor, reason):
    reviewed(dispute, manager)

    with pytest.raises(ValidationError) as exc:
        disagreement_amend(
            dispute,
            by=advisor,
            field="severity",
            new_value="high",
            reason=reason,
            expected_version=2,
        )

    assert "reason" in exc.value.message_dict
    _assert_not_amended(dispute)


def test_an_amendment_to_the_same_value_is_refused(dispute, manager, advisor):
    reviewed(dispute, manager)

    with pytest.raises(ValidationError) as exc:
        disagreement_amend(
            dispute,
            by=advisor,
            field="severity",
            new_value="moderate",
            reason="Just checking",
            expected_version=2,
        )

    assert "new_value" in exc.value.message_dict
    _assert_not_amended(dispute)


@pytest.mark.parametrize("field", ["title", "decision", "client_words", "logged_by"])
def test_only_the_locked_facts_are_amended(dispute, manager, advisor, field):
    reviewed(dispute, manager)

    with pytest.raises(ValidationError) as exc:
        disagreement_amend(
            dispute,
            by=advisor,
            field=field,
            new_value="x",
            reason="Trying my luck",
            expected_version=2,
        )

    assert "field" in exc.value.message_dict
    _assert_not_amended(dispute)


def test_an_unreviewed_disagreement_is_edited_not_amended(dispute, advisor):
    with pytest.raises(ValidationError):
        disagreement_amend(
            dispute,
            by=advisor,
            field="severity",
            new_value="high",
            reason="Worse than we thought",
            expected_version=1,
        )

    dispute.refresh_from_db()
    assert dispute.severity == Disagreement.Severity.MODERATE
    assert not Amendment.objects.exists()


def test_an_amendment_from_a_stale_version_raises_a_conflict(dispute, manager, advisor):
    reviewed(dispute, manager)

    with pytest.raises(EditConflict) as exc:
        disagreement_amend(
            dispute,
            by=advisor,
            field="severity",
            new_value="high",
            reason="Worse than we thought",
            expected_version=1,
        )

    assert exc.value.current.version == 2
    _assert_not_amended(dispute)


def test_an_amendment_that_breaks_a_rule_is_refused(dispute, manager, advisor):
    dispute.decision, dispute.decided_on = Disagreement.Decision.ACCEPTED, OCCURRED
    disagreement_record_decision(dispute, by=advisor, expected_version=1)
    reviewed(dispute, manager)

    # The disagreement cannot move after the decision it led to.
    with pytest.raises(ValidationError):
        disagreement_amend(
            dispute,
            by=advisor,
            field="occurred_on",
            new_value=(OCCURRED + DAY).isoformat(),
            reason="Wrong day",
            expected_version=3,
        )

    dispute.refresh_from_db()
    assert dispute.occurred_on == OCCURRED
    assert not Amendment.objects.exists()


def _assert_not_amended(dispute: Disagreement) -> None:
    fresh = Disagreement.objects.get(pk=dispute.pk)
    assert fresh.version == 2
    assert fresh.severity == Disagreement.Severity.MODERATE
    assert not Amendment.objects.exists()


# --- Comments -------------------------------------------------------------------------


@pytest.fixture
def colleague(team, acme_engagement):
    """An advisor on the engagement (so they see the dispute) who did not log it."""
    user = UserFactory(username="erin", first_name="Erin", team=team)
    acme_engagement.members.add(user)
    return user


@pytest.mark.parametrize("role", ["manager", "admin", "advisor"])
def test_managers_admins_and_the_logging_advisor_comment(dispute, request, role):
    user = request.getfixturevalue(role)

    comment = comment_add(dispute, by=user, body="  Please chase the client.  ")

    assert comment.author == user
    assert comment.body == "Please chase the client."
    assert list(dispute.comments.all()) == [comment]
    entry = comment.history.get()
    assert entry.history_user == user


def test_an_advisor_who_did_not_log_it_may_not_comment(dispute, colleague):
    with pytest.raises(PermissionDenied):
        comment_add(dispute, by=colleague, body="Me too.")

    assert not Comment.objects.exists()


def test_an_outsider_may_not_comment(dispute, other_advisor):
    with pytest.raises(PermissionDenied):
        comment_add(dispute, by=other_advisor, body="Hello.")

    assert not Comment.objects.exists()


def test_a_manager_of_another_team_may_not_comment(dispute, other_team):
    outside_manager = UserFactory(username="frank", role=Role.MANAGER, team=other_team)
    other_team.managers.add(outside_manager)

    with pytest.raises(PermissionDenied):
        comment_add(dispute, by=outside_manager, body="Hello.")

    assert not Comment.objects.exists()


def test_a_user_without_a_role_may_not_comment_even_having_logged_it(dispute, advisor):
    advisor.groups.clear()
    advisor = type(advisor).objects.get(pk=advisor.pk)

    with pytest.raises(PermissionDenied):
        comment_add(dispute, by=advisor, body="Hello.")


def test_an_empty_comment_is_refused(dispute, manager):
    with pytest.raises(ValidationError):
        comment_add(dispute, by=manager, body="   ")

    assert not Comment.objects.exists()


# --- Querysets -------------------------------------------------------------------------


@pytest.fixture
def log(acme_engagement) -> dict[str, Disagreement]:
    """One disagreement in each state, by name."""

    def make(title: str, **fields) -> Disagreement:
        return DisagreementFactory(engagement=acme_engagement, title=title, **fields)

    outcome = {"outcome": "It turned out fine.", "outcome_recorded_on": TODAY}
    return {
        "pending": make("pending"),
        "proceeded_unacknowledged": make(
            "proceeded_unacknowledged",
            **proceeded(
                risk_acknowledged=None,
                acknowledged_on=None,
                acknowledgment_method="",
                client_words="",
            ),
        ),
        "proceeded_refused": make(
            "proceeded_refused",
            **proceeded(
                risk_acknowledged=False,
                acknowledged_on=None,
                acknowledgment_method="",
                client_words="",
            ),
        ),
        "proceeded_acknowledged": make("proceeded_acknowledged", **proceeded()),
        "proceeded_closed": make(
            "proceeded_closed",
            **proceeded(),
            verdict=Disagreement.Verdict.ADVICE_VINDICATED,
            **outcome,
        ),
        "accepted": make("accepted", decision=Disagreement.Decision.ACCEPTED, decided_on=TODAY),
        "compromise_closed": make(
            "compromise_closed",
            decision=Disagreement.Decision.COMPROMISE,
            decided_on=TODAY,
            verdict=Disagreement.Verdict.MIXED,
            **outcome,
        ),
        "withdrew": make("withdrew", decision=Disagreement.Decision.WITHDREW, decided_on=TODAY),
    }


def titles(queryset) -> set[str]:
    return set(queryset.values_list("title", flat=True))


def test_open_and_closed_split_the_log(log):
    open_ = {
        "pending",
        "proceeded_unacknowledged",
        "proceeded_refused",
        "proceeded_acknowledged",
        "accepted",
    }

    assert titles(Disagreement.objects.open()) == open_
    assert titles(Disagreement.objects.closed()) == log.keys() - open_


def test_awaiting_decision(log):
    assert titles(Disagreement.objects.awaiting_decision()) == {"pending"}


def test_awaiting_acknowledgment(log):
    assert titles(Disagreement.objects.awaiting_acknowledgment()) == {
        "proceeded_unacknowledged",
        "proceeded_refused",
    }


def test_awaiting_outcome(log):
    assert titles(Disagreement.objects.awaiting_outcome()) == {
        "proceeded_unacknowledged",
        "proceeded_refused",
        "proceeded_acknowledged",
        "accepted",
    }


@pytest.mark.parametrize(
    "method", ["open", "closed", "awaiting_decision", "awaiting_acknowledgment", "awaiting_outcome"]
)
def test_the_row_properties_agree_with_the_querysets(log, method):
    prop = "is_open" if method == "open" else method
    in_queryset = titles(getattr(Disagreement.objects, method)())

    for title, disagreement in log.items():
        expected = (not disagreement.is_open) if method == "closed" else getattr(disagreement, prop)
        assert (title in in_queryset) == expected, title


def test_follow_up_due(acme_engagement):
    for days in [-30, -1, 0, 1, 7, 8]:
        DisagreementFactory(
            engagement=acme_engagement, title=f"{days:+d}", follow_up_on=TODAY + days * DAY
        )
    DisagreementFactory(engagement=acme_engagement, title="none", follow_up_on=None)

    assert titles(Disagreement.objects.follow_up_due()) == {"-30", "-1", "+0"}
    assert titles(Disagreement.objects.follow_up_due(within_days=7)) == {
        "-30",
        "-1",
        "+0",
        "+1",
        "+7",
    }
    due = {d.title for d in Disagreement.objects.all() if d.follow_up_due}
    assert due == {"-30", "-1", "+0"}


def test_visible_to_follows_the_client(dispute, advisor, other_advisor, manager, admin):
    stranger = DisagreementFactory(
        engagement=EngagementFactory(client=ClientFactory(lead_advisor=other_advisor))
    )

    assert list(Disagreement.objects.visible_to(advisor)) == [dispute]
    assert list(Disagreement.objects.visible_to(manager)) == [dispute]
    assert list(Disagreement.objects.visible_to(other_advisor)) == [stranger]
    assert set(Disagreement.objects.visible_to(admin)) == {dispute, stranger}
