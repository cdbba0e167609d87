"""Letting a client go, the pages: the review queue, a case, proposing,
deciding, withdrawing, offboarding, the letter and reinstating; the client's
pages once it is let go; the demo cases."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.roles import Role
from advisory.letgo.services import (
    letgo_complete,
    letgo_decide,
    letgo_propose,
    letgo_update_offboarding,
    letgo_withdraw,
)
from advisory.models import Client, Disagreement, Engagement, LetGoCase
from advisory.views import letgo as views
from tests.factories import ClientFactory, DisagreementFactory, EngagementFactory, UserFactory
from tests.otp import SignedInClient, code_for
from tests.records import fresh, offboarding_data, tick_all

pytestmark = pytest.mark.django_db

Status = LetGoCase.Status
D = Disagreement
JUSTIFICATION = "Three overrides this year, each against written advice, and abuse on calls."
XSS = "<script>alert('x')</script>"
XSS_ESCAPED = "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;"
SETUP = reverse("two-factor-setup")


def url(name: str, obj) -> str:
    return reverse(name, args=[obj.pk])


def shown_messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def propose(client_obj: Client, by, evidence) -> LetGoCase:
    return letgo_propose(
        client_obj,
        by=by,
        reason=LetGoCase.Reason.OVERRIDDEN_ADVICE,
        justification=JUSTIFICATION,
        evidence=evidence,
    )


def state(case: LetGoCase) -> tuple:
    case = fresh(case)
    client_obj = fresh(case.client)
    return (
        case.status,
        case.version,
        case.decided_by_id,
        case.decided_at,
        case.decision_note,
        case.referral_note,
        case.letter,
        [getattr(case, name) for name in LetGoCase.CHECKLIST],
        case.history.count(),
        client_obj.status,
        client_obj.version,
    )


@pytest.fixture
def case(acme, advisor, dispute) -> LetGoCase:
    return propose(acme, advisor, [dispute])


@pytest.fixture
def approved(case, admin) -> LetGoCase:
    return letgo_decide(case, by=admin, approve=True, note="Agreed.")


@pytest.fixture
def offboarded(approved, admin) -> LetGoCase:
    ticked = tick_all(approved, admin)
    return letgo_complete(ticked, by=admin, expected_version=ticked.version)


@pytest.fixture
def other_admin(db):
    return UserFactory(username="erin", first_name="Erin", role=Role.ADMIN)


@pytest.fixture
def globex_case(other_advisor, other_team) -> LetGoCase:
    """An open case on the other team, by its own advisor."""
    globex = ClientFactory(name="Globex Retail", lead_advisor=other_advisor, team=other_team)
    engagement = EngagementFactory(client=globex, title="Store openings")
    evidence = DisagreementFactory(engagement=engagement, title="Opened without permits")
    return propose(globex, other_advisor, [evidence])


# --- The review queue: /let-go/ ----------------------------------------------------


@pytest.fixture
def scored_case(acme, acme_engagement, advisor) -> LetGoCase:
    """Acme's log: two overrides (one proved us right), a client win, a mixed
    outcome, and an archived override that no longer counts."""

    def log(title, **facts):
        return DisagreementFactory(engagement=acme_engagement, title=title, **facts)

    override_right = log(
        "Skipped the stock count",
        decision=D.Decision.PROCEEDED,
        verdict=D.Verdict.ADVICE_VINDICATED,
    )
    override_open = log("Booked revenue early", decision=D.Decision.PROCEEDED)
    client_right = log(
        "Chose the cheaper valuer",
        decision=D.Decision.PROCEEDED,
        verdict=D.Verdict.CLIENT_VINDICATED,
    )
    mixed = log("Delayed the filing", decision=D.Decision.COMPROMISE, verdict=D.Verdict.MIXED)
    log("Archived override", decision=D.Decision.PROCEEDED, is_archived=True)
    log("Not linked", decision=D.Decision.ACCEPTED)
    Client.objects.filter(pk=acme.pk).update(
        health_score=23, health_band="adversarial", health_trend=-31
    )
    return propose(fresh(acme), advisor, [override_right, override_open, client_right, mixed])


def test_an_admin_sees_every_open_case_with_what_is_needed_to_decide(
    client, admin, scored_case, globex_case
):
    client.force_login(admin)

    response = client.get(reverse("letgo-list"))

    assert response.status_code == 200
    cases = {c.client.name: c for c in response.context["open_cases"]}
    assert set(cases) == {"Acme Holdings", "Globex Retail"}
    acme_case = cases["Acme Holdings"]
    assert acme_case.overridden == 3
    assert (acme_case.advice_right, acme_case.client_right, acme_case.mixed) == (1, 1, 1)
    page = response.content.decode()
    assert "Health: <strong>23</strong>" in page
    assert "Adversarial" in page
    assert "down 31 points in 90 days" in page
    assert "Overridden advice: <strong>3</strong>" in page
    assert "Who was right: advice 1 · client 1 · mixed 1" in page
    for title in [
        "Skipped the stock count",
        "Booked revenue early",
        "Chose the cheaper valuer",
        "Delayed the filing",
        "Opened without permits",
    ]:
        assert title in page
    assert "Not linked" not in page
    assert "Archived override" not in page
    assert JUSTIFICATION in page


def test_closed_cases_are_listed_apart_from_the_open_ones(client, admin, case, advisor, acme):
    letgo_withdraw(case, by=advisor)
    client.force_login(admin)

    response = client.get(reverse("letgo-list"))

    assert list(response.context["open_cases"]) == []
    assert [c.pk for c in response.context["page_obj"]] == [case.pk]
    assert "No open proposals." in response.content.decode()
    assert "Withdrawn" in response.content.decode()


def test_a_manager_sees_only_their_teams_cases_and_cannot_decide(
    client, manager, case, globex_case
):
    client.force_login(manager)

    response = client.get(reverse("letgo-list"))

    assert response.status_code == 200
    assert [c.pk for c in response.context["open_cases"]] == [case.pk]
    page = response.content.decode()
    assert "Globex Retail" not in page
    assert "in your teams (admins decide)" in page
    detail = client.get(url("letgo-detail", case)).content.decode()
    assert url("letgo-decide", case) not in detail
    assert (
        "Awaiting an admin&#x27;s decision." in detail or "Awaiting an admin's decision." in detail
    )


def test_a_manager_cannot_open_another_teams_case(client, manager, globex_case):
    client.force_login(manager)

    assert client.get(url("letgo-detail", globex_case)).status_code == 404


def test_an_advisor_cannot_see_the_review_queue(client, advisor, case):
    client.force_login(advisor)

    assert client.get(reverse("letgo-list")).status_code == 403


def test_the_queue_query_count_does_not_grow_with_the_cases(client, admin, team, advisor):
    client.force_login(admin)
    list_url = reverse("letgo-list")

    def add(count: int) -> None:
        for _ in range(count):
            client_obj = ClientFactory(lead_advisor=advisor, team=team)
            engagement = EngagementFactory(client=client_obj)
            evidence = [
                DisagreementFactory(engagement=engagement, decision=D.Decision.PROCEEDED)
                for _ in range(2)
            ]
            propose(client_obj, advisor, evidence)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            client.get(list_url)
        return len(captured)

    add(2)
    queries()  # warm up caches (content types, session)
    few = queries()
    add(8)

    assert queries() == few
    assert len(client.get(list_url).context["open_cases"]) == 10


def test_the_case_page_shows_the_evidence_health_and_the_decision_form(client, admin, scored_case):
    client.force_login(admin)

    response = client.get(url("letgo-detail", scored_case))

    page = response.content.decode()
    assert response.status_code == 200
    assert "Let Acme Holdings go?" in page
    assert "Skipped the stock count" in page
    assert "Not linked" not in page
    assert url("letgo-decide", scored_case) in page
    assert "Approve: let the client go" in page


def test_the_case_page_is_404_for_an_outsider(client, other_advisor, case):
    client.force_login(other_advisor)

    assert client.get(url("letgo-detail", case)).status_code == 404
    assert client.get(url("letgo-letter", case)).status_code == 404


def test_the_justification_is_escaped(client, admin, acme, advisor, dispute):
    letgo_propose(acme, by=advisor, reason="other", justification=f"Said {XSS}", evidence=[dispute])
    client.force_login(admin)

    for page_url in [reverse("letgo-list"), url("letgo-detail", LetGoCase.objects.get())]:
        page = client.get(page_url).content.decode()
        assert XSS not in page
        assert XSS_ESCAPED in page


# --- Proposing ---------------------------------------------------------------------


def proposal(*evidence, **overrides) -> dict:
    data = {
        "reason": LetGoCase.Reason.HOSTILE_CONDUCT,
        "justification": JUSTIFICATION,
        "evidence": [d.pk for d in evidence],
    }
    return {**data, **overrides}


def test_the_proposal_form_offers_only_the_clients_own_disagreements(
    client, advisor, acme, dispute, team
):
    elsewhere = DisagreementFactory(
        engagement=EngagementFactory(client=ClientFactory(lead_advisor=advisor, team=team)),
        title="Another client's quarrel",
    )
    archived = DisagreementFactory(engagement=dispute.engagement, is_archived=True, title="Old")
    client.force_login(advisor)

    response = client.get(url("letgo-propose", acme))

    assert response.status_code == 200
    assert list(response.context["form"].fields["evidence"].queryset) == [dispute]
    page = response.content.decode()
    assert "Stock count skipped" in page
    assert elsewhere.title not in page
    assert f'value="{archived.pk}"' not in page


@pytest.mark.parametrize("role", ["advisor", "manager"])
def test_proposing_creates_the_case_and_flags_the_client(role, request, client, acme, dispute):
    user = request.getfixturevalue(role)
    client.force_login(user)

    response = client.post(url("letgo-propose", acme), proposal(dispute))

    case = LetGoCase.objects.get()
    assert response.status_code == 302
    assert response.url == url("letgo-detail", case)
    assert case.proposed_by == user
    assert case.reason == LetGoCase.Reason.HOSTILE_CONDUCT
    assert case.justification == JUSTIFICATION
    assert list(case.evidence.all()) == [dispute]
    assert fresh(acme).status == Client.Status.LETGO_PROPOSED


def test_proposing_mails_the_admins_after_commit(
    client, advisor, admin, acme, dispute, mailoutbox, django_capture_on_commit_callbacks
):
    client.force_login(advisor)

    with django_capture_on_commit_callbacks(execute=True):
        client.post(url("letgo-propose", acme), proposal(dispute))

    assert [m.to for m in mailoutbox] == [["dana@example.com"]]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"justification": ""}, "This field is required."),
        ({"evidence": []}, "This field is required."),
        ({"reason": ""}, "This field is required."),
    ],
)
def test_a_proposal_without_justification_or_evidence_is_refused(
    overrides, message, client, advisor, acme, dispute
):
    client.force_login(advisor)

    response = client.post(url("letgo-propose", acme), proposal(dispute, **overrides))

    assert response.status_code == 400
    field = next(iter(overrides))
    assert response.context["form"].errors[field] == [message]
    assert message in response.content.decode()
    assert not LetGoCase.objects.exists()
    assert fresh(acme).status == Client.Status.ACTIVE


def test_a_blank_justification_gets_the_services_message(client, advisor, acme, dispute):
    client.force_login(advisor)

    response = client.post(url("letgo-propose", acme), proposal(dispute, justification="   "))

    assert response.status_code == 400
    assert not LetGoCase.objects.exists()
    assert response.context["form"].errors["justification"]


def test_evidence_from_another_client_is_refused(client, advisor, acme, dispute, team):
    elsewhere = DisagreementFactory(
        engagement=EngagementFactory(client=ClientFactory(lead_advisor=advisor, team=team))
    )
    client.force_login(advisor)

    response = client.post(url("letgo-propose", acme), proposal(dispute, elsewhere))

    assert response.status_code == 400
    assert "evidence" in response.context["form"].errors
    assert not LetGoCase.objects.exists()


def test_a_client_already_proposed_is_refused_with_a_message(client, manager, case, acme, dispute):
    client.force_login(manager)

    response = client.post(url("letgo-propose", acme), proposal(dispute), follow=True)

    assert response.redirect_chain[-1][0] == acme.get_absolute_url()
    assert "Acme Holdings is let-go proposed: no new let-go proposal." in response.content.decode()
    assert LetGoCase.objects.count() == 1
    # The form isn't even offered.
    assert client.get(url("letgo-propose", acme)).status_code == 302


def test_proposing_is_404_for_an_outsider(client, other_advisor, acme, dispute):
    client.force_login(other_advisor)

    assert client.get(url("letgo-propose", acme)).status_code == 404
    assert client.post(url("letgo-propose", acme), proposal(dispute)).status_code == 404
    assert not LetGoCase.objects.exists()


def test_proposing_is_403_for_a_user_without_a_role(client, acme, dispute, team):
    nobody = UserFactory(username="nobody", role="", team=team)
    client.force_login(nobody)

    assert client.get(url("letgo-propose", acme)).status_code == 403
    assert client.post(url("letgo-propose", acme), proposal(dispute)).status_code == 403
    assert not LetGoCase.objects.exists()


def test_the_client_page_offers_to_propose_only_while_active(client, advisor, acme, case):
    client.force_login(advisor)
    page = client.get(url("client-detail", acme)).content.decode()

    assert url("letgo-propose", acme) not in page
    assert "Let-go proposed." in page


# --- Deciding ----------------------------------------------------------------------


def decide(
    client, case, *, approve: bool, note: str = "", version: int | None = None, confirm=True
):
    """Approve or Decline; by default as sent from the confirmation page."""
    data = {"version": case.version if version is None else version, "note": note}
    data["approve" if approve else "decline"] = "1"
    if confirm:
        data["confirm"] = "1"
    return client.post(url("letgo-decide", case), data)


def complete(client, case, *, version: int | None = None, confirm=True):
    """Complete offboarding; by default as sent from the confirmation page."""
    data = {"version": case.version if version is None else version}
    if confirm:
        data["confirm"] = "1"
    return client.post(url("letgo-complete", case), data)


def test_an_admin_approves_the_client_is_flagged_and_the_letter_drafted(client, admin, case, acme):
    client.force_login(admin)

    response = decide(client, case, approve=True, note="Agreed after the partners' meeting.")

    assert response.status_code == 302
    assert response.url == url("letgo-detail", case)
    case = fresh(case)
    assert case.status == Status.APPROVED
    assert case.decided_by == admin
    assert case.decision_note == "Agreed after the partners' meeting."
    assert "Acme Holdings" in case.letter
    assert fresh(acme).status == Client.Status.FLAGGED
    assert shown_messages(response) == ["Proposal approved."]


def test_an_admin_declines_with_a_note(client, admin, case, acme):
    client.force_login(admin)

    response = decide(client, case, approve=False, note="Give the new partner a quarter.")

    assert response.status_code == 302
    assert fresh(case).status == Status.DECLINED
    assert fresh(acme).status == Client.Status.ACTIVE


def test_declining_without_a_note_is_refused(client, admin, case):
    client.force_login(admin)
    before = state(case)

    response = decide(client, case, approve=False, note=" ")

    assert response.status_code == 400
    assert "Say why the proposal is declined." in response.content.decode()
    assert state(case) == before


def test_a_decision_mails_the_proposer_and_lead_advisor(
    client, admin, manager, acme, dispute, mailoutbox, django_capture_on_commit_callbacks
):
    case = propose(acme, manager, [dispute])
    client.force_login(admin)

    with django_capture_on_commit_callbacks(execute=True):
        decide(client, case, approve=True)

    assert sorted(m.to[0] for m in mailoutbox) == ["alice@example.com", "charlie@example.com"]


def test_a_second_admin_is_told_who_decided_and_when_and_nothing_changes(
    client, admin, other_admin, case, time_machine
):
    # Summer: London is an hour ahead of UTC, and the message must say London time.
    time_machine.move_to(datetime.datetime(2027, 7, 1, 9, 30, tzinfo=datetime.UTC))
    version = case.version  # the page both admins opened
    letgo_decide(case, by=admin, approve=True, note="Agreed.")
    before = state(case)
    client.force_login(other_admin)

    response = decide(client, case, approve=False, note="I disagree.", version=version)

    assert response.status_code == 302
    assert response.url == url("letgo-detail", case)
    [message] = shown_messages(response)
    assert "Dana Tester already approved this case on 1 Jul 2027, 10:30" in message
    assert "nothing was changed" in message
    assert state(case) == before
    page = client.get(response.url).content.decode()
    assert "by Dana Tester on 1 Jul 2027, 10:30" in page


def test_a_second_admin_is_told_who_declined(client, admin, other_admin, case):
    letgo_decide(case, by=admin, approve=False, note="Not yet.")
    client.force_login(other_admin)

    response = decide(client, case, approve=True)

    [message] = shown_messages(response)
    assert message.startswith("Dana Tester already declined this case on ")
    assert fresh(case).status == Status.DECLINED


def test_deciding_a_withdrawn_case_says_so_and_changes_nothing(client, admin, advisor, case):
    version = case.version
    letgo_withdraw(case, by=advisor)
    before = state(case)
    client.force_login(admin)

    response = decide(client, case, approve=True, version=version)

    assert response.status_code == 302
    assert shown_messages(response) == [
        "Alice Tester withdrew this proposal; it can no longer be decided. Nothing was changed."
    ]
    assert state(case) == before


def test_deciding_is_403_for_a_manager(client, manager, case):
    client.force_login(manager)
    before = state(case)

    assert decide(client, case, approve=True).status_code == 403
    assert state(case) == before


def test_deciding_is_404_for_an_outsider_without_the_case(client, other_advisor, case):
    client.force_login(other_advisor)

    # An advisor lacks the permission: the role check answers first.
    assert decide(client, case, approve=True).status_code == 403
    assert fresh(case).status == Status.PROPOSED


@pytest.mark.parametrize(
    "name",
    [
        "letgo-decide",
        "letgo-withdraw",
        "letgo-offboarding",
        "letgo-complete",
    ],
)
def test_post_only_views_answer_405_to_get(name, client, admin, case):
    client.force_login(admin)

    assert client.get(url(name, case)).status_code == 405


def test_reinstating_answers_405_to_get(client, admin, offboarded, acme):
    client.force_login(admin)

    assert client.get(url("client-reinstate", acme)).status_code == 405


# --- Withdrawing -------------------------------------------------------------------


def test_the_proposer_withdraws(client, advisor, case, acme):
    client.force_login(advisor)
    assert "Withdraw the proposal" in client.get(url("letgo-detail", case)).content.decode()

    response = client.post(url("letgo-withdraw", case))

    assert response.status_code == 302
    assert fresh(case).status == Status.WITHDRAWN
    assert fresh(acme).status == Client.Status.ACTIVE
    assert shown_messages(response) == ["Proposal withdrawn; the client is active again."]


def test_someone_else_cannot_withdraw(client, manager, case):
    client.force_login(manager)
    before = state(case)

    assert "Withdraw the proposal" not in client.get(url("letgo-detail", case)).content.decode()
    assert client.post(url("letgo-withdraw", case)).status_code == 403
    assert state(case) == before


def test_withdrawing_is_404_for_an_outsider(client, other_advisor, case):
    client.force_login(other_advisor)

    assert client.post(url("letgo-withdraw", case)).status_code == 404
    assert fresh(case).status == Status.PROPOSED


def test_a_decided_case_cannot_be_withdrawn(client, advisor, approved):
    client.force_login(advisor)
    before = state(approved)

    response = client.post(url("letgo-withdraw", approved))

    assert response.status_code == 302
    assert shown_messages(response) == [
        "Only a proposal can be withdrawn; this case is approved — offboarding."
    ]
    assert state(approved) == before


# --- Offboarding and completing ----------------------------------------------------


def offboarding(case: LetGoCase, **overrides) -> dict:
    return offboarding_data(case, **overrides)


def test_an_admin_saves_the_checklist_notice_referral_and_letter(client, admin, approved):
    client.force_login(admin)

    response = client.post(
        url("letgo-offboarding", approved),
        offboarding(
            approved,
            check_conflicts="on",
            check_notice_sent="on",
            notice_days=60,
            referral_note="Harrow & Quint LLP.",
            letter="Dear Pat,\n\nEdited by hand.",
        ),
    )

    # The letter was edited in the same save that changed its fields: the
    # edited letter is kept, and the new draft waits beside it for a choice.
    assert response.status_code == 302
    assert response.url == url("letgo-detail", approved) + "#letter-choice"
    case = fresh(approved)
    assert case.check_conflicts and case.check_notice_sent
    assert not case.check_referral
    assert case.notice_days == 60
    assert case.referral_note == "Harrow & Quint LLP."
    assert case.letter == "Dear Pat,\n\nEdited by hand."
    assert case.letter_choice_pending
    assert "Harrow & Quint LLP." in case.letter_draft
    assert case.version == approved.version + 1


def test_a_stale_offboarding_form_shows_a_conflict_and_overwrites_nothing(
    client, admin, other_admin, approved
):
    letgo_update_offboarding(
        approved,
        by=other_admin,
        expected_version=approved.version,
        check_conflicts=True,
        referral_note="Harrow & Quint LLP.",
    )
    before = state(approved)
    client.force_login(admin)

    response = client.post(
        url("letgo-offboarding", approved),
        offboarding(approved, check_files_returned="on", referral_note="My own note."),
    )

    assert response.status_code == 400
    page = response.content.decode()
    assert "Someone updated the offboarding meanwhile" in page
    assert "My own note." in page  # your changes are kept on the form
    assert state(approved) == before
    assert fresh(approved).referral_note == "Harrow & Quint LLP."
    form = response.context["offboarding_form"]
    assert form.data["version"] == str(fresh(approved).version)


def test_offboarding_a_case_that_is_not_approved_shows_why(client, admin, case):
    client.force_login(admin)
    before = state(case)

    response = client.post(url("letgo-offboarding", case), offboarding(case, check_conflicts="on"))

    assert response.status_code == 400
    assert "Offboarding is recorded only while the case is approved." in response.content.decode()
    assert state(case) == before


def test_a_bad_notice_period_is_refused(client, admin, approved):
    client.force_login(admin)
    before = state(approved)

    response = client.post(url("letgo-offboarding", approved), offboarding(approved, notice_days=0))

    assert response.status_code == 400
    assert response.context["offboarding_form"].errors["notice_days"]
    assert state(approved) == before


@pytest.mark.parametrize("role", ["advisor", "manager"])
def test_offboarding_and_completing_are_403_below_admin(role, request, client, approved):
    client.force_login(request.getfixturevalue(role))
    before = state(approved)

    page = client.get(url("letgo-detail", approved)).content.decode()
    assert url("letgo-offboarding", approved) not in page
    assert url("letgo-complete", approved) not in page
    assert (
        client.post(
            url("letgo-offboarding", approved), offboarding(approved, check_conflicts="on")
        ).status_code
        == 403
    )
    assert complete(client, approved).status_code == 403
    assert state(approved) == before


def test_completing_lets_the_client_go(client, admin, approved, acme):
    ticked = tick_all(approved, admin)
    client.force_login(admin)

    response = complete(client, ticked)

    assert response.status_code == 302
    assert fresh(ticked).status == Status.OFFBOARDED
    assert fresh(ticked).completed_by == admin
    assert fresh(acme).status == Client.Status.LET_GO
    assert shown_messages(response) == [
        "Acme Holdings has been let go. Its open engagements are terminated and its records "
        "are now read-only."
    ]


def test_completing_an_incomplete_checklist_is_refused_with_what_is_missing(
    client, admin, approved
):
    client.force_login(admin)
    before = state(approved)

    response = complete(client, approved)

    assert response.status_code == 302
    [message] = shown_messages(response)
    assert message.startswith("Complete the offboarding checklist first:")
    assert LetGoCase.CHECKLIST["check_referral"] in message
    assert state(approved) == before


def test_completing_with_a_stale_version_is_refused(client, admin, approved):
    ticked = tick_all(approved, admin)
    client.force_login(admin)
    before = state(ticked)

    response = complete(client, ticked, version=approved.version)

    assert shown_messages(response) == [
        "The case changed while you were reading it; check it again."
    ]
    assert state(ticked) == before


# --- Decisions are shown before they are made --------------------------------------


def confirm_form(page: str) -> str:
    """The confirmation page's form, as sent back."""
    return page[page.index('<form method="post"', page.index("What will happen")) :]


def test_approve_first_shows_what_will_happen_and_changes_nothing(
    client, admin, case, acme_engagement, time_machine
):
    time_machine.move_to(datetime.datetime(2027, 3, 1, 12, tzinfo=datetime.UTC))
    EngagementFactory(client=acme_engagement.client, title="Old tax return", status="completed")
    client.force_login(admin)
    before = state(case)

    response = decide(client, case, approve=True, note="Agreed.\nSee the minutes.", confirm=False)

    assert response.status_code == 200
    assert response.templates[0].name == "advisory/letgo_confirm.html"
    page = response.content.decode()
    assert "Approve letting Acme Holdings go?" in page
    assert "Nothing has been changed yet." in page
    assert "Annual audit 2026" in page  # the open engagement ends
    assert "Old tax return" not in page  # a finished one does not
    assert "Our work ends on 31 Mar 2027" in page  # 30 days' notice from today
    assert "Candor notifies Alice Tester (who proposed it" in page
    assert "The client is not told until you send the letter." in page
    assert "See the minutes." in page
    form = confirm_form(page)
    assert f'action="{url("letgo-decide", case)}"' in form
    assert 'name="confirm" value="1"' in form
    assert 'name="approve" value="1"' in form
    assert f'name="version" value="{case.version}"' in form
    assert 'name="note" value="Agreed.\nSee the minutes."' in form
    assert "csrfmiddlewaretoken" in form
    assert state(case) == before


def test_confirming_the_approval_makes_it(client, admin, case, acme):
    client.force_login(admin)
    decide(client, case, approve=True, note="Agreed.", confirm=False)

    response = decide(client, case, approve=True, note="Agreed.")

    assert response.status_code == 302
    assert fresh(case).status == Status.APPROVED
    assert fresh(case).decision_note == "Agreed."
    assert fresh(acme).status == Client.Status.FLAGGED


def test_decline_first_shows_that_the_client_stays_and_who_is_told(
    client, admin, manager, acme, dispute
):
    case = propose(acme, manager, [dispute])
    client.force_login(admin)
    before = state(case)

    response = decide(client, case, approve=False, note="Give them a quarter.", confirm=False)

    assert response.status_code == 200
    page = response.content.decode()
    assert "Decline the proposal to let Acme Holdings go?" in page
    assert "Acme Holdings becomes an active client again." in page
    assert "Candor notifies Charlie Tester and Alice Tester" in page
    assert "Engagements that end" not in page
    assert 'name="decline" value="1"' in confirm_form(page)
    assert state(case) == before


@pytest.mark.parametrize("flag", [None, "", "0", "yes", "true"])
def test_a_decision_without_the_confirm_flag_changes_nothing(flag, client, admin, case):
    client.force_login(admin)
    before = state(case)
    data = {"version": case.version, "note": "Agreed.", "approve": "1"}
    if flag is not None:
        data["confirm"] = flag

    response = client.post(url("letgo-decide", case), data)

    assert response.status_code == 200
    assert "What will happen" in response.content.decode()
    assert state(case) == before


def test_a_decline_without_a_note_is_refused_before_the_confirmation(client, admin, case):
    client.force_login(admin)
    before = state(case)

    response = decide(client, case, approve=False, note="  ", confirm=False)

    assert response.status_code == 400
    assert "Say why the proposal is declined." in response.content.decode()
    assert "What will happen" not in response.content.decode()
    assert state(case) == before


def test_the_confirmation_of_a_case_decided_meanwhile_says_who_decided(
    client, admin, other_admin, case
):
    version = case.version
    letgo_decide(case, by=other_admin, approve=False, note="Not yet.")
    before = state(case)
    client.force_login(admin)

    response = decide(client, case, approve=True, version=version, confirm=False)

    assert response.status_code == 302
    [message] = shown_messages(response)
    assert message.startswith("Erin Tester already declined this case on ")
    assert state(case) == before


def test_the_confirmation_of_a_stale_page_asks_to_check_again(client, admin, case):
    client.force_login(admin)
    before = state(case)

    response = decide(client, case, approve=True, version=case.version - 1, confirm=False)

    assert response.status_code == 302
    assert shown_messages(response) == [
        "The case changed while you were reading it; check it again."
    ]
    assert state(case) == before


def test_the_note_on_the_confirmation_page_is_escaped(client, admin, case):
    client.force_login(admin)

    page = decide(client, case, approve=True, note=XSS, confirm=False).content.decode()

    assert XSS not in page
    assert XSS_ESCAPED in page


def test_the_confirmation_step_is_403_for_a_manager_and_keeps_nothing(client, manager, case):
    client.force_login(manager)
    before = state(case)

    assert decide(client, case, approve=True, note="Mine.", confirm=False).status_code == 403
    assert complete(client, case, confirm=False).status_code == 403
    assert state(case) == before
    assert views.NOTES_KEY not in client.session


def test_the_confirmation_step_is_404_for_a_case_out_of_reach(client, admin, case):
    client.force_login(admin)
    missing = LetGoCase(pk=case.pk + 1000)

    assert decide(client, missing, approve=True, note="x", confirm=False).status_code == 404
    assert complete(client, missing, confirm=False).status_code == 404
    assert views.NOTES_KEY not in client.session


def test_complete_first_shows_what_will_happen_and_changes_nothing(
    client, admin, case, acme_engagement, time_machine
):
    time_machine.move_to(datetime.datetime(2027, 3, 1, 12, tzinfo=datetime.UTC))
    approved = letgo_decide(case, by=admin, approve=True, note="Agreed.")
    ticked = tick_all(approved, admin)
    client.force_login(admin)
    before = state(ticked)

    response = complete(client, ticked, confirm=False)

    assert response.status_code == 200
    page = response.content.decode()
    assert "Complete offboarding of Acme Holdings?" in page
    assert "Acme Holdings is marked let go today." in page
    assert "Annual audit 2026" in page
    assert "Our work ends on 31 Mar 2027" in page
    assert "Candor notifies nobody." in page
    form = confirm_form(page)
    assert f'action="{url("letgo-complete", ticked)}"' in form
    assert 'name="confirm" value="1"' in form
    assert f'name="version" value="{ticked.version}"' in form
    assert state(ticked) == before


def test_completing_an_incomplete_checklist_is_refused_before_the_confirmation(
    client, admin, approved
):
    client.force_login(admin)
    before = state(approved)

    response = complete(client, approved, confirm=False)

    assert response.status_code == 302
    [message] = shown_messages(response)
    assert message.startswith("Complete the offboarding checklist first:")
    assert state(approved) == before


def test_the_confirmed_post_needs_the_pages_csrf_token(admin, approved):
    browser = SignedInClient(enforce_csrf_checks=True)
    browser.force_login(admin)
    ticked = tick_all(approved, admin)
    before = state(ticked)

    assert complete(browser, ticked).status_code == 403
    assert state(ticked) == before


def test_the_case_page_says_a_decision_is_confirmed_next(client, admin, case):
    client.force_login(admin)

    page = client.get(url("letgo-detail", case)).content.decode()

    assert "Next you see what the decision will do and confirm it" in page


# --- The note kept while the admin sets up two-factor sign-in ----------------------


def test_an_admin_without_two_factor_is_told_before_typing_and_sent_to_set_it_up(
    client, admin, case
):
    client.force_login(admin, verified=False)

    page = client.get(url("letgo-detail", case)).content.decode()

    decision = page[page.index('id="decision-heading"') :]
    notice = decision.index("You need two-factor sign-in before you can decide.")
    assert notice < decision.index("Decision note")
    assert "Set up two-factor sign-in to decide" in decision
    assert "Approve: let the client go" not in page
    assert ">Decline</button>" not in page


def test_the_note_survives_setting_up_two_factor_and_is_restored(client, admin, case):
    client.force_login(admin, verified=False)
    note = "Agreed after the partners' meeting.\nThe letter goes this week."
    before = state(case)

    response = client.post(
        url("letgo-decide", case), {"version": case.version, "note": note, "second_factor": "1"}
    )

    back = url("letgo-detail", case)
    assert response.status_code == 302
    assert response.url == f"{SETUP}?next={back.replace('/', '%2F')}"
    assert state(case) == before
    setup = client.get(response.url)
    done = client.post(SETUP, {"code": code_for(setup.context["secret"]), "next": back})
    assert f'href="{back}"' in done.content.decode()

    returned = client.get(back)

    assert returned.context["decision_form"]["note"].value() == note
    page = returned.content.decode()
    assert "Agreed after the partners&#x27; meeting." in page
    assert "Approve: let the client go" in page
    assert "You need two-factor sign-in" not in page

    decide(client, case, approve=True, note=note, confirm=False)  # the confirmation
    decide(client, case, approve=True, note=note)

    assert fresh(case).decision_note == note
    assert str(case.pk) not in client.session.get(views.NOTES_KEY, {})


def test_the_note_of_an_admin_pressing_approve_unverified_is_kept(client, admin, case):
    # A page opened before the notice (or a stale tab) still posts Approve.
    client.force_login(admin, verified=False)

    response = decide(client, case, approve=True, note="Clear.", confirm=False)

    assert response.status_code == 302 and response.url.startswith(SETUP)
    assert fresh(case).status == Status.PROPOSED
    client.force_login(admin)  # verified now (the session keeps what it held)
    assert client.get(url("letgo-detail", case)).context["decision_form"]["note"].value() == (
        "Clear."
    )


def test_a_kept_note_is_shown_only_on_its_case_and_to_its_author(
    client, admin, other_admin, case, globex_case
):
    client.force_login(admin)
    decide(client, case, approve=True, note="For Acme only.", confirm=False)

    def shown(on: LetGoCase) -> str:
        return client.get(url("letgo-detail", on)).context["decision_form"]["note"].value()

    assert shown(case) == "For Acme only."
    assert not shown(globex_case)
    # Kept by someone else (a session is one person's, but the note says whose it is).
    session = client.session
    session[views.NOTES_KEY] = {str(case.pk): {"user": other_admin.pk, "note": "Erin's."}}
    session.save()
    assert not shown(case)


def test_going_back_from_the_confirmation_keeps_the_note(client, admin, case):
    client.force_login(admin)
    decide(client, case, approve=False, note="Give them a quarter.", confirm=False)

    page = client.get(url("letgo-detail", case))

    assert page.context["decision_form"]["note"].value() == "Give them a quarter."


def test_the_set_up_button_pressed_once_verified_goes_back_to_the_case(client, admin, case):
    client.force_login(admin)
    before = state(case)

    response = client.post(
        url("letgo-decide", case), {"version": case.version, "note": "Kept.", "second_factor": "1"}
    )

    assert response.status_code == 302
    assert response.url == url("letgo-detail", case)
    assert state(case) == before
    assert client.get(response.url).context["decision_form"]["note"].value() == "Kept."


def test_an_unverified_admin_is_told_before_offboarding_and_completing(client, admin, approved):
    client.force_login(admin, verified=False)

    page = client.get(url("letgo-detail", approved)).content.decode()

    assert "You need two-factor sign-in before you can save the offboarding or complete it." in page
    assert "Set up two-factor sign-in to complete the offboarding" in page
    assert "Complete offboarding: mark the client let go" not in page


# --- The case page once the client is let go ---------------------------------------


def test_a_completed_case_says_let_go_on_the_day_and_asks_nothing(
    client, admin, case, time_machine
):
    time_machine.move_to(datetime.datetime(2027, 3, 1, 12, tzinfo=datetime.UTC))
    approved = letgo_decide(case, by=admin, approve=True, note="Agreed after the meeting.")
    ticked = tick_all(approved, admin)
    time_machine.move_to(datetime.datetime(2027, 4, 2, 12, tzinfo=datetime.UTC))
    offboarded = letgo_complete(ticked, by=admin, expected_version=ticked.version)
    client.force_login(admin)

    page = client.get(url("letgo-detail", offboarded)).content.decode()

    assert "Let go on 2 Apr 2027" in page
    assert "Let Acme Holdings go?" not in page
    assert "<title>Acme Holdings: let go on 2 Apr 2027" in page
    assert "Approved by Dana Tester on 1 Mar 2027" in page
    assert "Agreed after the meeting." in page
    assert url("letgo-letter", offboarded) in page
    for action in ["letgo-decide", "letgo-complete", "letgo-offboarding"]:
        assert url(action, offboarded) not in page
    assert "Approve: let the client go" not in page
    assert "Offboarded by" not in page


# --- The letter --------------------------------------------------------------------


def test_the_letter_page_prints_the_letter_escaped_line_by_line(client, admin, approved):
    letter = f"Dear Pat,\n\nWe stop acting for {XSS} & Co.\n\nYours sincerely,\nAlice"
    letgo_update_offboarding(approved, by=admin, expected_version=approved.version, letter=letter)
    client.force_login(admin)

    response = client.get(url("letgo-letter", approved))

    assert response.status_code == 200
    page = response.content.decode()
    assert XSS not in page
    assert XSS_ESCAPED in page
    assert "&amp; Co." in page
    # Printable: the navigation is left off the page, the letter keeps its lines.
    assert 'class="navbar navbar-expand-md bg-dark d-print-none"' in page
    assert "Yours sincerely,<br>Alice" in page


def test_the_letter_page_before_a_letter_is_drafted(client, advisor, case):
    client.force_login(advisor)

    response = client.get(url("letgo-letter", case))

    assert response.status_code == 200
    assert "No letter drafted yet." in response.content.decode()


def test_the_approved_case_page_links_the_printable_letter(client, admin, approved):
    client.force_login(admin)

    page = client.get(url("letgo-detail", approved)).content.decode()

    assert url("letgo-letter", approved) in page
    assert "Print the letter" in page


# --- Reinstating -------------------------------------------------------------------


def test_an_admin_reinstates_with_a_reason(client, admin, offboarded, acme):
    client.force_login(admin)
    assert "Reinstate the client" in client.get(url("letgo-detail", offboarded)).content.decode()

    response = client.post(url("client-reinstate", acme), {"reason": "New board; apologised."})

    assert response.status_code == 302
    assert response.url == url("client-detail", acme)
    assert fresh(acme).status == Client.Status.ACTIVE
    assert fresh(offboarded).reinstatement_reason == "New board; apologised."
    assert fresh(acme).history.first().history_change_reason == "Reinstated: New board; apologised."
    assert shown_messages(response) == [
        "Acme Holdings is reinstated. The engagements the let-go ended stay terminated: "
        "reopen by hand those that go on (“Annual audit 2026”)."
    ]
    page = client.get(url("letgo-detail", offboarded)).content.decode()
    assert "New board; apologised." in page


def test_reinstating_without_a_reason_changes_nothing(client, admin, offboarded, acme):
    client.force_login(admin)
    before = state(offboarded)

    response = client.post(url("client-reinstate", acme), {"reason": ""})

    assert response.status_code == 302
    assert shown_messages(response) == ["Say why the client is reinstated."]
    assert state(offboarded) == before


def test_reinstating_a_client_not_let_go_is_refused(client, admin, approved, acme):
    client.force_login(admin)
    before = state(approved)

    response = client.post(url("client-reinstate", acme), {"reason": "Why not."})

    assert shown_messages(response) == ["Acme Holdings has not been let go."]
    assert state(approved) == before


def test_reinstating_is_403_for_a_manager(client, manager, offboarded, acme):
    client.force_login(manager)

    assert (
        "Reinstate the client" not in client.get(url("letgo-detail", offboarded)).content.decode()
    )
    assert client.post(url("client-reinstate", acme), {"reason": "Sorry."}).status_code == 403
    assert fresh(acme).status == Client.Status.LET_GO


# --- The client's pages once it is let go ------------------------------------------


def test_the_client_page_says_let_go_and_offers_nothing_new(
    client, advisor, offboarded, acme, dispute
):
    client.force_login(advisor)

    page = client.get(url("client-detail", acme)).content.decode()

    assert "<strong>Let go.</strong>" in page
    assert "Let go</dd>" in page
    # The navigation's own "Log disagreement" stays; the client's buttons go.
    assert f'href="{acme.get_log_disagreement_url()}"' not in page
    assert f'href="{reverse("engagement-create")}?client={acme.pk}"' not in page
    assert ">New engagement</a>" not in page
    assert "Propose to let go" not in page
    assert "Stock count skipped" in page  # existing records stay visible


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("disagreement-create", "Acme Holdings is let go: no new disagreement can be logged."),
        ("engagement-create", "Acme Holdings is let go: no new engagement can be added."),
    ],
)
def test_adding_to_a_let_go_client_redirects_to_it_with_the_refusal(
    name, message, client, advisor, offboarded, acme
):
    client.force_login(advisor)

    response = client.get(f"{reverse(name)}?client={acme.pk}")

    assert response.status_code == 302
    assert response.url == url("client-detail", acme)
    assert shown_messages(response) == [message]
    followed = client.get(response.url).content.decode()
    assert message in followed


def test_posting_a_disagreement_on_a_let_go_clients_engagement_saves_nothing(
    client, advisor, offboarded, acme_engagement
):
    client.force_login(advisor)
    count = Disagreement.objects.count()

    response = client.post(
        reverse("disagreement-create"),
        {
            "engagement": acme_engagement.pk,
            "occurred_on": "2026-01-05",
            "title": "Another one",
            "topic": "scope",
            "client_request": "Skip it.",
            "recommendation": "Do not.",
            "severity": "low",
            "tone": "tense",
        },
    )

    assert response.status_code == 400
    assert Disagreement.objects.count() == count


def test_a_let_go_clients_records_stay_visible(
    client, advisor, manager, offboarded, acme_engagement, dispute
):
    for user in [advisor, manager]:
        client.force_login(user)
        detail = client.get(url("disagreement-detail", dispute))
        assert detail.status_code == 200
        assert "Stock count skipped" in detail.content.decode()
        engagement = client.get(url("engagement-detail", acme_engagement))
        assert engagement.status_code == 200
        assert "Stock count skipped" in engagement.content.decode()
        assert acme_engagement.get_log_disagreement_url() not in engagement.content.decode()
        assert client.get(url("letgo-detail", offboarded)).status_code == 200


def test_after_reinstating_the_client_page_offers_everything_again(
    client, admin, advisor, offboarded, acme, acme_engagement
):
    client.force_login(admin)
    client.post(url("client-reinstate", acme), {"reason": "New board."})
    client.force_login(advisor)

    page = client.get(url("client-detail", acme)).content.decode()

    assert f'href="{acme.get_log_disagreement_url()}"' in page
    assert ">New engagement</a>" in page
    assert client.get(f"{reverse('engagement-create')}?client={acme.pk}").status_code == 200
    assert client.get(f"{reverse('disagreement-create')}?client={acme.pk}").status_code == 200


# --- The demo ----------------------------------------------------------------------


def test_the_demo_has_an_approved_case_half_offboarded_and_an_open_proposal(
    mailoutbox, django_capture_on_commit_callbacks
):
    from advisory.seeding.demo import LETGO_APPROVED, LETGO_PROPOSED, seed_people, seed_records

    with django_capture_on_commit_callbacks(execute=True):
        seed_people()
        seed_records()

    approved = LetGoCase.objects.get(client__name=LETGO_APPROVED)
    assert approved.status == Status.APPROVED
    assert approved.decided_by.username == "admin"
    ticked = [done for _name, _label, done in approved.checklist]
    assert any(ticked) and not all(ticked)
    assert approved.letter
    assert approved.referral_note
    assert approved.client.status == Client.Status.FLAGGED
    assert approved.evidence.exists()
    assert not approved.evidence.exclude(client=approved.client).exists()

    proposed = LetGoCase.objects.get(client__name=LETGO_PROPOSED)
    assert proposed.status == Status.PROPOSED
    assert proposed.proposed_by.username == "manager"
    assert proposed.client.status == Client.Status.LETGO_PROPOSED
    assert proposed.evidence.exists()
    assert not proposed.evidence.exclude(client=proposed.client).exists()

    assert LetGoCase.objects.count() == 2
    assert mailoutbox == []  # the demo does not mail anybody
    assert Engagement.objects.filter(client__status=Client.Status.LET_GO).count() == 0
