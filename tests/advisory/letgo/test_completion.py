"""Completing a let-go checks what the checklist claims and does what it says;
reinstating brings back the client's status only.

Refusals: an unticked item, a letter that is empty, still has a placeholder or
does not name an engagement that ends, a case completed by someone else first
(the deadlines and the letter's choice: test_letter_fields).
Effects, in one transaction with a history entry each: open engagements
terminated with their end date, the client let go.
"""

from __future__ import annotations

import datetime
import io

import pytest
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from accounts.roles import Role
from advisory.letgo import selectors
from advisory.letgo.services import (
    AlreadyCompleted,
    client_reinstate,
    letgo_choose_letter,
    letgo_complete,
    letgo_decide,
    letgo_propose,
    letgo_update_offboarding,
)
from advisory.models import Client, Engagement, LetGoCase
from advisory.records.services import engagement_save
from tests.factories import EngagementFactory, UserFactory
from tests.records import deadline, fresh, letter_posted, ready_letter, tick_all

pytestmark = pytest.mark.django_db

Status = LetGoCase.Status
E = Engagement.Status
PLACEHOLDER_TEXT = "[list the filing, payment or regulatory deadlines the client must meet"


def shown_messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def complete(client, case, *, version: int | None = None, confirm: bool = True):
    data = {"version": fresh(case).version if version is None else version}
    if confirm:
        data["confirm"] = "1"
    return client.post(reverse("letgo-complete", args=[case.pk]), data)


def state(case: LetGoCase) -> tuple:
    """The case, its client and the client's engagements, as a refusal must leave them."""
    case = fresh(case)
    client = fresh(case.client)
    engagements = [
        (e.pk, e.status, e.end_date, e.version, e.history.count())
        for e in Engagement.objects.filter(client=client).order_by("pk")
    ]
    return (
        case.status,
        case.version,
        case.completed_at,
        case.history.count(),
        client.status,
        client.version,
        client.history.count(),
        engagements,
    )


@pytest.fixture
def approved(acme, advisor, admin, dispute) -> LetGoCase:
    case = letgo_propose(
        acme,
        by=advisor,
        reason=LetGoCase.Reason.OVERRIDDEN_ADVICE,
        justification="Three overrides this year, each against written advice.",
        evidence=[dispute],
    )
    return letgo_decide(case, by=admin, approve=True, note="Agreed.")


@pytest.fixture
def other_admin(db):
    return UserFactory(username="erin", first_name="Erin", role=Role.ADMIN)


def with_letter(case: LetGoCase, admin, letter: str) -> LetGoCase:
    """Every item ticked, and `letter` as the letter."""
    ticks = dict.fromkeys(LetGoCase.CHECKLIST, True)
    return letgo_update_offboarding(
        case, by=admin, expected_version=fresh(case).version, letter=letter, **ticks
    )


# --- What completion refuses -------------------------------------------------------


def test_the_drafted_letter_has_the_deadlines_placeholder(approved):
    assert PLACEHOLDER_TEXT in approved.letter


def test_a_letter_with_a_placeholder_is_refused_naming_it(client, admin, approved):
    ticked = with_letter(approved, admin, fresh(approved).letter)  # as drafted
    client.force_login(admin)
    before = state(ticked)

    response = complete(client, ticked)

    assert response.status_code == 302
    [message] = shown_messages(response)
    assert message.startswith("The letter is not ready: replace the placeholder [list the")
    assert "Complete the offboarding checklist" not in message
    assert state(ticked) == before


def test_every_placeholder_is_named_once(admin, approved):
    letter = ready_letter(approved) + "\n\n[Partner's name]\n[Partner's name]\n[date]"
    ticked = with_letter(approved, admin, letter)
    before = state(ticked)

    with pytest.raises(ValidationError) as raised:
        letgo_complete(ticked, by=admin, expected_version=ticked.version)

    message = " ".join(raised.value.messages)
    assert message.count("[Partner's name]") == 1
    assert "[date]" in message
    assert state(ticked) == before


def test_the_placeholder_is_refused_on_the_confirmation_step_too(client, admin, approved):
    ticked = with_letter(approved, admin, fresh(approved).letter)
    client.force_login(admin)
    before = state(ticked)

    response = complete(client, ticked, confirm=False)

    assert response.status_code == 302  # back to the case, not to the summary
    assert "replace the placeholder" in shown_messages(response)[0]
    assert state(ticked) == before


def test_an_empty_letter_is_refused(client, admin, approved):
    """Saving one is refused at the field (test_letter_fields); one stored
    empty some other way (before migration 0019) is refused at completion."""
    ticked = tick_all(approved, admin)
    LetGoCase.objects.filter(pk=ticked.pk).update(letter="   ")
    client.force_login(admin)
    before = state(ticked)

    response = complete(client, ticked)

    assert shown_messages(response) == ["The letter is not ready: it is empty."]
    assert state(ticked) == before


def test_a_letter_that_does_not_name_an_engagement_that_ends_is_refused(
    client, admin, approved, acme
):
    """An engagement added after the letter was drafted would end unannounced."""
    ticked = tick_all(approved, admin)
    EngagementFactory(client=acme, title="Payroll 2027", status=E.PROPOSED)
    client.force_login(admin)
    before = state(ticked)

    response = complete(client, ticked)

    assert shown_messages(response) == [
        "The letter is not ready: it does not name the engagement “Payroll 2027”, "
        "which completing ends."
    ]
    assert state(ticked) == before


def test_a_notice_period_changed_after_the_letter_was_edited_is_refused(client, admin, approved):
    """The admin keeps their edited letter, which gives 30 days' notice; the
    engagements would end on another day."""
    ticked = tick_all(approved, admin)
    ticked = letgo_update_offboarding(
        ticked,
        by=admin,
        expected_version=ticked.version,
        letter=fresh(ticked).letter + "\n\nP.S. Edited by hand.",
    )
    ticked = letgo_update_offboarding(
        ticked, by=admin, expected_version=ticked.version, notice_days=90
    )
    ticked = letgo_choose_letter(
        ticked, by=admin, expected_version=ticked.version, keep_draft=False
    )
    effective = timezone.localdate(ticked.decided_at) + datetime.timedelta(days=90)
    client.force_login(admin)
    before = state(ticked)

    response = complete(client, ticked)

    assert shown_messages(response) == [
        "The letter is not ready: it does not give the effective date, "
        f"{effective:%-d %B %Y} (90 days' notice from the approval), on which completing "
        "ends the engagements."
    ]
    assert state(ticked) == before


def test_a_notice_period_changed_on_a_letter_nobody_edited_redrafts_it(admin, approved):
    ticked = tick_all(approved, admin)

    ticked = letgo_update_offboarding(
        ticked, by=admin, expected_version=ticked.version, notice_days=90
    )

    effective = timezone.localdate(ticked.decided_at) + datetime.timedelta(days=90)
    assert f"ends on {effective:%-d %B %Y}, 90 days from" in fresh(ticked).letter
    ticked = letter_posted(ticked, admin)  # the new letter, not the one posted before
    assert letgo_complete(ticked, by=admin, expected_version=ticked.version).status == (
        Status.OFFBOARDED
    )


def test_unticked_items_and_letter_problems_are_named_together(client, admin, approved):
    unticked = letgo_update_offboarding(
        approved, by=admin, expected_version=approved.version, check_conflicts=True
    )
    client.force_login(admin)
    before = state(unticked)

    response = complete(client, unticked)

    [message] = shown_messages(response)
    assert message.startswith("Complete the offboarding checklist first: ")
    assert LetGoCase.CHECKLIST["check_referral"] in message
    assert LetGoCase.CHECKLIST["check_conflicts"] not in message
    assert "The letter is not ready: replace the placeholder [list the" in message
    assert state(unticked) == before


@pytest.mark.parametrize("confirm", [False, True], ids=["summary", "confirmed"])
def test_a_second_admin_completing_is_told_who_did_it_and_nothing_changes(
    confirm, client, admin, other_admin, approved
):
    ticked = tick_all(approved, admin)
    stale_version = ticked.version
    letgo_complete(ticked, by=admin, expected_version=stale_version)
    client.force_login(other_admin)
    before = state(ticked)

    response = complete(client, ticked, version=stale_version, confirm=confirm)

    assert response.status_code == 302
    [message] = shown_messages(response)
    assert message.startswith("Dana Tester already completed this case on ")
    assert message.endswith("; nothing was changed.")
    assert state(ticked) == before
    assert fresh(ticked).completed_by == admin


def test_the_service_raises_already_completed_with_the_first_completion(
    admin, other_admin, approved
):
    ticked = tick_all(approved, admin)
    letgo_complete(ticked, by=admin, expected_version=ticked.version)
    before = state(ticked)

    with pytest.raises(AlreadyCompleted) as raised:
        letgo_complete(ticked, by=other_admin, expected_version=fresh(ticked).version)

    assert raised.value.case.completed_by == admin
    assert state(ticked) == before


def test_completing_an_unknown_case_is_404(client, admin, approved):
    client.force_login(admin)

    response = client.post(reverse("letgo-complete", args=[approved.pk + 1000]), {"version": 1})

    assert response.status_code == 404


@pytest.mark.parametrize("role", ["advisor", "manager", "other_advisor"])
def test_completing_is_403_below_admin(role, request, client, approved, admin):
    """Only admins complete, and an admin sees every client: someone outside
    the client's team is refused by their role before the case is looked up."""
    ticked = tick_all(approved, admin)
    client.force_login(request.getfixturevalue(role))
    before = state(ticked)

    assert complete(client, ticked).status_code == 403
    assert state(ticked) == before


def test_completing_is_405_for_get(client, admin, approved):
    client.force_login(admin)

    assert client.get(reverse("letgo-complete", args=[approved.pk])).status_code == 405


# --- What completion does ----------------------------------------------------------


@pytest.fixture
def engagements(acme, acme_engagement) -> dict[str, Engagement]:
    """Acme's engagements, open and closed, made before the letter is drafted."""
    return {
        "active": acme_engagement,
        "proposed": EngagementFactory(client=acme, title="Tax 2027", status=E.PROPOSED),
        "on_hold": EngagementFactory(client=acme, title="Valuation", status=E.ON_HOLD),
        "ends_early": EngagementFactory(
            client=acme,
            title="Stock count",
            status=E.ACTIVE,
            end_date=timezone.localdate() + datetime.timedelta(days=3),
        ),
        "completed": EngagementFactory(
            client=acme,
            title="Audit 2025",
            status=E.COMPLETED,
            end_date=timezone.localdate() - datetime.timedelta(days=90),
        ),
        "archived": EngagementFactory(client=acme, title="Old advisory", is_archived=True),
    }


@pytest.fixture
def completed(engagements, approved, admin) -> LetGoCase:
    ticked = tick_all(approved, admin)
    return letgo_complete(ticked, by=admin, expected_version=ticked.version)


def test_completion_terminates_the_open_engagements_on_the_effective_date(engagements, completed):
    effective = timezone.localdate(completed.decided_at) + datetime.timedelta(days=30)
    now = {key: fresh(e) for key, e in engagements.items()}

    for key in ("active", "proposed", "on_hold"):
        assert now[key].status == E.TERMINATED
        assert now[key].end_date == effective
    assert now["ends_early"].status == E.TERMINATED
    assert now["ends_early"].end_date == engagements["ends_early"].end_date  # its own, earlier
    assert now["completed"].status == E.COMPLETED
    assert now["completed"].end_date == engagements["completed"].end_date
    assert now["archived"].status == E.ACTIVE


def test_each_change_has_a_history_entry_by_the_admin_with_the_let_go_reason(
    engagements, completed, admin
):
    reason = f"Let go on {timezone.localdate():%-d %b %Y}"
    for key in ("active", "proposed", "on_hold", "ends_early"):
        latest = fresh(engagements[key]).history.first()
        assert latest.history_change_reason == reason
        assert latest.history_user == admin
        assert latest.status == E.TERMINATED
        assert latest.prev_record.status != E.TERMINATED
    for key in ("completed", "archived"):
        assert fresh(engagements[key]).history.first().history_change_reason != reason
    client_entry = fresh(completed.client).history.first()
    assert (client_entry.history_change_reason, client_entry.status) == (reason, "let_go")
    assert fresh(completed).history.first().history_change_reason == "Offboarding completed"


def test_the_evidence_log_still_verifies_after_completion(completed):
    out = io.StringIO()
    call_command("verify_log", stdout=out)

    assert "Log intact" in out.getvalue()


def test_an_engagement_not_started_by_the_effective_date_ends_the_day_it_was_to_start(
    acme, approved, admin
):
    later = timezone.localdate(approved.decided_at) + datetime.timedelta(days=90)
    starting = EngagementFactory(
        client=acme, title="Audit 2028", status=E.PROPOSED, start_date=later
    )
    ticked = tick_all(approved, admin)  # the letter, drafted again, names Audit 2028

    letgo_complete(ticked, by=admin, expected_version=ticked.version)

    assert (fresh(starting).status, fresh(starting).end_date) == (E.TERMINATED, later)


def test_the_confirmation_page_says_what_completing_does(client, admin, engagements, approved):
    ticked = tick_all(approved, admin)
    client.force_login(admin)

    page = complete(client, ticked, confirm=False).content.decode()

    assert "Each is marked terminated, ending on the effective date" in page
    assert "Tax 2027" in page and "Valuation" in page
    assert "Audit 2025" not in page  # already completed: nothing to end
    assert "leave everyone's open items and home pages" in page
    assert "Candor stops sending follow-up and acknowledgment reminders" in page
    assert "leaves the health board, its band counts and charts" in page
    assert "brings back the client only, not its engagements" in page
    assert state(ticked)[0] == Status.APPROVED


# --- Reinstating -------------------------------------------------------------------


def test_reinstating_reverses_only_the_status(engagements, completed, acme, admin):
    ended = {key: fresh(e) for key, e in engagements.items()}

    client_reinstate(fresh(acme), by=admin, reason="New board; they apologised.")

    assert fresh(acme).status == Client.Status.ACTIVE
    assert fresh(acme).history.first().history_change_reason == (
        "Reinstated: New board; they apologised."
    )
    for engagement in ended.values():
        now = fresh(engagement)
        assert (now.status, now.end_date, now.version) == (
            engagement.status,
            engagement.end_date,
            engagement.version,
        )


def test_reinstating_says_which_engagements_to_reopen_by_hand(
    client, engagements, completed, acme, admin
):
    client.force_login(admin)

    response = client.post(reverse("client-reinstate", args=[acme.pk]), {"reason": "New board."})

    assert response.status_code == 302
    assert shown_messages(response) == [
        "Acme Holdings is reinstated. The engagements the let-go ended stay terminated: "
        "reopen by hand those that go on "
        "(“Annual audit 2026”, “Stock count”, “Tax 2027”, “Valuation”)."
    ]


def test_an_engagement_reopened_after_reinstating_is_no_longer_named(
    engagements, completed, acme, admin
):
    client_reinstate(fresh(acme), by=admin, reason="New board.")
    reopened = fresh(engagements["proposed"])
    reopened.status, reopened.end_date = E.ACTIVE, None
    engagement_save(reopened, by=admin, reason="Continues")

    titles = [e.title for e in selectors.ended_at_letgo(fresh(acme))]

    assert titles == ["Annual audit 2026", "Stock count", "Valuation"]


def test_reinstating_a_client_whose_let_go_ended_nothing_says_so(
    client, acme, approved, admin, engagements
):
    for engagement in engagements.values():
        Engagement.objects.filter(pk=engagement.pk).update(status=E.COMPLETED)
    ticked = tick_all(approved, admin)
    letgo_complete(ticked, by=admin, expected_version=ticked.version)
    client.force_login(admin)

    response = client.post(reverse("client-reinstate", args=[acme.pk]), {"reason": "Sorry."})

    assert shown_messages(response) == [
        "Acme Holdings is reinstated. The let-go ended no engagement."
    ]


def test_the_deadlines_reach_the_completed_letter(completed):
    row = deadline()
    assert f"- {row['due_on']:%-d %B %Y}: {row['description']}" in fresh(completed).letter
