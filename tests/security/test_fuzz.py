"""Bad input, tried: every form the site posts gets hostile values (Hypothesis).

For each form (one row of FORMS: the page, who posts it, a valid submission
and the fields to spoil), each example replaces one to three fields with
hostile values (huge text, NUL bytes, markup and script, impossible dates,
huge and non-finite numbers, values of the wrong kind) and checks:

- never a server error;
- a refused post says what went wrong (errors on the re-shown form, an error
  message after a redirect, or a clear 4xx) and changes nothing in the
  database: the row counts of every model (history and the hash chain
  included) and the records involved are as before;
- an accepted post stores the text as typed (surrounding spaces trimmed);
- every page answered, and every page where the stored text appears, shows
  it as text: no markup or script from a payload gets through.

Each example runs in a savepoint that is rolled back, so examples don't see
each other's records. The list filters (GET) and the odd requests (raw
invalid UTF-8, JSON to a form, multipart without the file, a huge page
number) are below the table.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.contrib.messages import WARNING
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from accounts.models import ApiToken, User
from advisory.letgo.services import letgo_decide, letgo_propose, normalise_text
from advisory.models import (
    Amendment,
    BandOverride,
    Client,
    Comment,
    Disagreement,
    Engagement,
    LetGoCase,
)
from advisory.records.services import disagreement_mark_reviewed
from tests.factories import ClientFactory, DisagreementFactory, EngagementFactory
from tests.otp import SignedInClient as Browser
from tests.records import fresh
from tests.security.fuzzing import BY_KIND, FUZZ, row_counts, unsafe_markup

pytestmark = pytest.mark.django_db

ERROR_MARKERS = ("invalid-feedback", "alert-danger", "errorlist", "alert-warning")
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
TODAY = timezone.localdate()
YESTERDAY = (TODAY - datetime.timedelta(days=1)).isoformat()


@dataclass
class Cast:
    """The records every form is tried against (built once per test)."""

    advisor: User
    manager: User
    admin: User
    acme: Client
    engagement: Engagement
    dispute: Disagreement
    reviewed: Disagreement
    proposed: LetGoCase  # waiting for an admin's decision
    approved: LetGoCase  # offboarding
    let_go: Client


@pytest.fixture
def cast(advisor, manager, admin, acme, acme_engagement, dispute) -> Cast:
    reviewed = DisagreementFactory(
        engagement=acme_engagement,
        title="Reviewed one",
        decision=Disagreement.Decision.ACCEPTED,
        decided_on=TODAY - datetime.timedelta(days=5),
    )
    reviewed = disagreement_mark_reviewed(reviewed, by=manager, expected_version=reviewed.version)

    def case_for(name: str) -> LetGoCase:
        client = ClientFactory(name=name, lead_advisor=advisor, team=acme.team)
        evidence = DisagreementFactory(engagement=EngagementFactory(client=client))
        return letgo_propose(
            client, by=manager, reason="other", justification="Enough.", evidence=[evidence]
        )

    proposed = case_for("Initech")
    approved = letgo_decide(case_for("Umbrella"), by=admin, approve=True, note="")
    gone = case_for("Hooli")
    gone = letgo_decide(gone, by=admin, approve=True, note="")
    gone.client.status = Client.Status.LET_GO
    gone.client.save()
    return Cast(
        advisor=advisor,
        manager=manager,
        admin=admin,
        acme=acme,
        engagement=acme_engagement,
        dispute=dispute,
        reviewed=reviewed,
        proposed=proposed,
        approved=approved,
        let_go=gone.client,
    )


@dataclass
class Form:
    """One form: where it posts, who posts it, a valid submission, what to spoil."""

    name: str
    url: Callable[[Cast], str]
    user: str
    valid: Callable[[Cast], dict]
    fields: dict[str, str]  # field -> kind of hostile value (fuzzing.BY_KIND)
    # The record the form writes to (read after an accepted post) and, per
    # text field, the attribute that must hold what was typed.
    record: Callable[[Cast], object] | None = None
    stored: dict[str, str] = field(default_factory=dict)
    normalise: Callable[[str, str], str] = lambda name, value: value.strip()
    # Records a refused post must leave exactly as they were.
    watch: Callable[[Cast], list] = lambda cast: []
    # Pages where what was stored is shown.
    pages: Callable[[Cast, object], list[str]] = lambda cast, record: []
    valid_passes: bool = True  # False where the "valid" post is refused by a rule
    answers_200: bool = False  # an accepted post is answered with the page itself

    def __str__(self) -> str:
        return self.name


def latest(model):
    return lambda cast: model.objects.order_by("-pk").first()


def client_pages(cast: Cast, client) -> list[str]:
    pk = client.pk
    return [
        reverse("client-detail", args=[pk]),
        reverse("client-history", args=[pk]),
        reverse("client-list") + "?archived=all",
        reverse("client-dossier", args=[pk]),
        reverse("health-board"),
    ]


def engagement_pages(cast: Cast, engagement) -> list[str]:
    pk = engagement.pk
    return [
        reverse("engagement-detail", args=[pk]),
        reverse("engagement-history", args=[pk]),
        reverse("engagement-list") + "?archived=all",
        reverse("client-detail", args=[engagement.client_id]),
    ]


def disagreement_pages(cast: Cast, disagreement) -> list[str]:
    pk = disagreement.pk
    return [
        reverse("disagreement-detail", args=[pk]),
        reverse("disagreement-history", args=[pk]),
        reverse("disagreement-list") + "?archived=all",
        reverse("client-detail", args=[disagreement.client_id]),
        reverse("client-dossier", args=[disagreement.client_id]),
        reverse("dashboard"),
    ]


def case_pages(cast: Cast, case) -> list[str]:
    return [
        reverse("letgo-detail", args=[case.pk]),
        reverse("letgo-letter", args=[case.pk]),
        reverse("letgo-list"),
        reverse("client-history", args=[case.client_id]),
    ]


CLIENT_FIELDS = {
    "name": "text",
    "kind": "choice",
    "sector": "text",
    "contact_name": "text",
    "contact_email": "text",
    "contact_phone": "text",
    "lead_advisor": "number",
    "team": "number",
    "client_since": "date",
    "notes": "text",
}
CLIENT_TEXT = ["name", "sector", "contact_name", "contact_phone", "notes"]


def client_data(cast: Cast, lead: User) -> dict:
    return {
        "name": "Fuzz Holdings",
        "kind": "organization",
        "sector": "Retail",
        "contact_name": "Pat",
        "contact_email": "pat@example.com",
        "contact_phone": "+44 20 0000 0000",
        "lead_advisor": lead.pk,
        "team": cast.acme.team_id,
        "client_since": "2020-01-31",
        "notes": "Notes.",
    }


def client_name(name: str, value: str) -> str:
    return " ".join(value.split()) if name == "name" else value.strip()


ENGAGEMENT_FIELDS = {
    "client": "number",
    "title": "text",
    "service_line": "text",
    "lead_advisor": "number",
    "members": "number",
    "status": "choice",
    "start_date": "date",
    "end_date": "date",
    "fee": "number",
    "description": "text",
}


def engagement_data(cast: Cast) -> dict:
    return {
        "client": cast.acme.pk,
        "title": "Fuzz engagement",
        "service_line": "Audit",
        "lead_advisor": cast.advisor.pk,
        "members": [cast.advisor.pk],
        "status": "active",
        "start_date": "2025-01-01",
        "end_date": "2026-12-31",
        "fee": "1200.50",
        "description": "Description.",
    }


DISAGREEMENT_FIELDS = {
    "engagement": "number",
    "occurred_on": "date",
    "title": "text",
    "topic": "choice",
    "client_request": "text",
    "recommendation": "text",
    "rationale": "text",
    "severity": "choice",
    "tone": "choice",
    "follow_up_on": "date",
}
DISAGREEMENT_TEXT = ["title", "client_request", "recommendation", "rationale"]


def disagreement_data(cast: Cast) -> dict:
    return {
        "engagement": cast.engagement.pk,
        "occurred_on": YESTERDAY,
        "title": "Fuzz dispute",
        "topic": "scope",
        "client_request": "Skip it.",
        "recommendation": "Don't.",
        "rationale": "Risky.",
        "severity": "high",
        "tone": "tense",
        "follow_up_on": "",
    }


def versioned(data: dict, record) -> dict:
    return {**data, "version": fresh(record).version, "change_reason": "Fixing it."}


def archive(kind: str, attr: str) -> Form:
    return Form(
        f"{kind}-archive",
        lambda c: reverse(f"{kind}-archive", args=[getattr(c, attr).pk]),
        "manager",
        lambda c: {"version": fresh(getattr(c, attr)).version, "archive": "on", "reason": "Done"},
        {"version": "number", "archive": "choice", "reason": "text"},
        watch=lambda c: [getattr(c, attr)],
        pages=lambda c, r: [getattr(c, attr).get_absolute_url() + "history/"],
    )


FORMS = [
    Form(
        "client-create",
        lambda c: reverse("client-create"),
        "advisor",
        lambda c: client_data(c, c.advisor),
        CLIENT_FIELDS,
        record=latest(Client),
        stored={name: name for name in CLIENT_TEXT},
        normalise=client_name,
        pages=client_pages,
    ),
    Form(
        "client-edit",
        lambda c: reverse("client-edit", args=[c.acme.pk]),
        "manager",
        lambda c: versioned(client_data(c, c.advisor), c.acme),
        {**CLIENT_FIELDS, "version": "number", "change_reason": "text"},
        record=lambda c: fresh(c.acme),
        stored={name: name for name in CLIENT_TEXT},
        normalise=client_name,
        watch=lambda c: [c.acme],
        pages=client_pages,
    ),
    Form(
        "engagement-create",
        lambda c: reverse("engagement-create"),
        "advisor",
        engagement_data,
        ENGAGEMENT_FIELDS,
        record=latest(Engagement),
        stored={"title": "title", "service_line": "service_line", "description": "description"},
        pages=engagement_pages,
    ),
    Form(
        "engagement-edit",
        lambda c: reverse("engagement-edit", args=[c.engagement.pk]),
        "manager",
        lambda c: versioned(engagement_data(c), c.engagement),
        {**ENGAGEMENT_FIELDS, "version": "number", "change_reason": "text"},
        record=lambda c: fresh(c.engagement),
        stored={"title": "title", "service_line": "service_line", "description": "description"},
        watch=lambda c: [c.engagement],
        pages=engagement_pages,
    ),
    Form(
        "disagreement-create",
        lambda c: reverse("disagreement-create"),
        "advisor",
        disagreement_data,
        DISAGREEMENT_FIELDS,
        record=latest(Disagreement),
        stored={name: name for name in DISAGREEMENT_TEXT},
        pages=disagreement_pages,
    ),
    Form(
        "disagreement-edit",
        lambda c: reverse("disagreement-edit", args=[c.dispute.pk]),
        "advisor",
        lambda c: versioned(disagreement_data(c), c.dispute),
        {**DISAGREEMENT_FIELDS, "version": "number", "change_reason": "text"},
        record=lambda c: fresh(c.dispute),
        stored={name: name for name in DISAGREEMENT_TEXT},
        watch=lambda c: [c.dispute],
        pages=disagreement_pages,
    ),
    Form(
        "disagreement-decision",
        lambda c: reverse("disagreement-decision", args=[c.dispute.pk]),
        "advisor",
        lambda c: {
            "version": fresh(c.dispute).version,
            "decision": "proceeded",
            "decided_on": YESTERDAY,
            "risk_acknowledged": "True",
            "acknowledged_on": YESTERDAY,
            "acknowledgment_method": "email",
            "client_words": "I understand the risk.",
        },
        {
            "version": "number",
            "decision": "choice",
            "decided_on": "date",
            "risk_acknowledged": "choice",
            "acknowledged_on": "date",
            "acknowledgment_method": "choice",
            "client_words": "text",
        },
        record=lambda c: fresh(c.dispute),
        stored={"client_words": "client_words"},
        watch=lambda c: [c.dispute],
        pages=disagreement_pages,
    ),
    Form(
        "disagreement-outcome",
        lambda c: reverse("disagreement-outcome", args=[c.reviewed.pk]),
        "advisor",
        lambda c: {
            "version": fresh(c.reviewed).version,
            "verdict": "mixed",
            "outcome": "It went so-so.",
            "outcome_recorded_on": YESTERDAY,
        },
        {
            "version": "number",
            "verdict": "choice",
            "outcome": "text",
            "outcome_recorded_on": "date",
        },
        record=lambda c: fresh(c.reviewed),
        stored={"outcome": "outcome"},
        watch=lambda c: [c.reviewed],
        pages=disagreement_pages,
    ),
    Form(
        "disagreement-amend",
        lambda c: reverse("disagreement-amend", args=[c.reviewed.pk]),
        "advisor",
        lambda c: {
            "version": fresh(c.reviewed).version,
            "field": "client_request",
            "new_value": "Corrected request",
            "reason": "Typo.",
        },
        {"version": "number", "field": "choice", "new_value": "text", "reason": "text"},
        record=latest(Amendment),
        stored={"reason": "reason", "new_value": "new_value"},
        watch=lambda c: [c.reviewed],
        pages=lambda c, r: disagreement_pages(c, c.reviewed),
    ),
    Form(
        "disagreement-review",
        lambda c: reverse("disagreement-review", args=[c.dispute.pk]),
        "manager",
        lambda c: {"version": fresh(c.dispute).version},
        {"version": "number"},
        watch=lambda c: [c.dispute],
    ),
    Form(
        "comment-create",
        lambda c: reverse("comment-create", args=[c.dispute.pk]),
        "manager",
        lambda c: {"body": "Seen."},
        {"body": "text"},
        record=latest(Comment),
        stored={"body": "body"},
        pages=lambda c, r: disagreement_pages(c, c.dispute),
    ),
    archive("client", "acme"),
    archive("engagement", "engagement"),
    archive("disagreement", "dispute"),
    Form(
        "band-override",
        lambda c: reverse("band-override", args=[c.acme.pk]),
        "manager",
        lambda c: {
            "band": "strained",
            "reason": "Talked to them.",
            "expires_on": (TODAY + datetime.timedelta(days=30)).isoformat(),
        },
        {"band": "choice", "reason": "text", "expires_on": "date"},
        record=latest(BandOverride),
        stored={"reason": "reason"},
        watch=lambda c: [c.acme],
        pages=lambda c, r: [reverse("client-detail", args=[c.acme.pk]), reverse("health-board")],
    ),
    Form(
        "letgo-propose",
        lambda c: reverse("letgo-propose", args=[c.acme.pk]),
        "manager",
        lambda c: {
            "reason": "hostile_conduct",
            "justification": "Enough.",
            "evidence": c.dispute.pk,
        },
        {"reason": "choice", "justification": "text", "evidence": "number"},
        record=latest(LetGoCase),
        stored={"justification": "justification"},
        watch=lambda c: [c.acme],
        pages=case_pages,
    ),
    Form(
        "letgo-decide",
        lambda c: reverse("letgo-decide", args=[c.proposed.pk]),
        "admin",
        lambda c: {
            "version": fresh(c.proposed).version,
            "note": "Agreed.",
            "decline": "",
            "confirm": "1",  # as the confirmation page sends it
        },
        {"version": "number", "note": "text", "approve": "choice"},
        record=lambda c: fresh(c.proposed),
        stored={"note": "decision_note"},
        watch=lambda c: [c.proposed, c.proposed.client],
        pages=case_pages,
    ),
    Form(
        "letgo-offboarding",
        lambda c: reverse("letgo-offboarding", args=[c.approved.pk]),
        "admin",
        lambda c: {
            "version": fresh(c.approved).version,
            "check_conflicts": "on",
            "notice_days": "30",
            "files_note": "We return your files.",
            "fees_note": "We send a final invoice.",
            "referral_note": "Try Hooli.",
            "letter": "Dear client,",
            "deadlines-TOTAL_FORMS": "2",
            "deadlines-INITIAL_FORMS": "0",
            "deadlines-0-description": "File the VAT return",
            "deadlines-0-due_on": (timezone.localdate() + datetime.timedelta(days=30)).isoformat(),
        },
        {
            "version": "number",
            "check_conflicts": "choice",
            "notice_days": "number",
            "files_note": "text",
            "fees_note": "text",
            "referral_note": "text",
            "letter": "text",
            "deadlines-TOTAL_FORMS": "number",
            "deadlines-0-description": "text",
            "deadlines-0-due_on": "date",
            "deadlines-1-due_on": "date",
        },
        record=lambda c: fresh(c.approved),
        stored={
            "files_note": "files_note",
            "fees_note": "fees_note",
            "referral_note": "referral_note",
            "letter": "letter",
        },
        # The letter is kept with "\n" line ends and no blanks at their end
        # (letgo.services.normalise_text: it is compared with the draft).
        normalise=lambda name, value: normalise_text(value) if name == "letter" else value.strip(),
        watch=lambda c: [c.approved],
        pages=case_pages,
    ),
    Form(
        "letgo-complete",
        lambda c: reverse("letgo-complete", args=[c.approved.pk]),
        "admin",
        lambda c: {"version": fresh(c.approved).version, "confirm": "1"},
        {"version": "number"},
        valid_passes=False,  # the checklist isn't done
        watch=lambda c: [c.approved, c.approved.client],
    ),
    Form(
        "client-reinstate",
        lambda c: reverse("client-reinstate", args=[c.let_go.pk]),
        "admin",
        lambda c: {"reason": "They apologised."},
        {"reason": "text"},
        watch=lambda c: [c.let_go],
        pages=lambda c, r: [reverse("client-history", args=[c.let_go.pk])],
    ),
    Form(
        "notification-preferences",
        lambda c: reverse("notification-preferences"),
        "manager",
        lambda c: {
            "band_worsened": "immediate",
            "follow_up_due": "daily",
            "acknowledgment_missing": "daily",
            "letgo_proposed": "in_app",
            "letgo_decided": "immediate",
            "weekly_digest": "in_app",
        },
        {
            "band_worsened": "choice",
            "follow_up_due": "choice",
            "letgo_proposed": "choice",
            "weekly_digest": "choice",
        },
    ),
    Form(
        "notification-read-all",
        lambda c: reverse("notification-read-all"),
        "advisor",
        lambda c: {"next": "/"},
        {"next": "text"},
    ),
    Form(
        "profile",
        lambda c: reverse("profile"),
        "advisor",
        lambda c: {"name": "Reporting script", "lifetime": "90"},
        {"name": "text", "lifetime": "choice"},
        record=latest(ApiToken),
        answers_200=True,
        stored={"name": "name"},
        pages=lambda c, r: [reverse("profile")],
    ),
]


def is_html(response) -> bool:
    return response.get("Content-Type", "").startswith("text/html")


def snapshot(form: Form, cast: Cast) -> tuple:
    watched = [list(type(r).objects.filter(pk=r.pk).values()) for r in form.watch(cast)]
    return row_counts(), watched


def refused(response, form: Form) -> bool:
    """True if the post was refused, False if accepted, judged by the answer."""
    if response.status_code == 200 and form.answers_200:
        return False
    if response.status_code in (301, 302, 303):
        # Only this request's messages (earlier ones may wait in the cookie).
        queued = response.wsgi_request._messages._queued_messages
        return any(m.level >= WARNING for m in queued)
    return True


def check_post(browser: Browser, form: Form, cast: Cast, data: dict, spoiled: dict) -> None:
    before = snapshot(form, cast)
    response = browser.post(form.url(cast), data)
    status = response.status_code
    assert status < 500, f"{form}: {status} for {spoiled!r}"
    if is_html(response):
        assert not unsafe_markup(response.content.decode()), f"{form}: unescaped {spoiled!r}"
    if refused(response, form):
        assert snapshot(form, cast) == before, f"{form}: refused {spoiled!r} but changed data"
        if status in (200, 400, 409):
            html = response.content.decode()
            assert any(marker in html for marker in ERROR_MARKERS), (
                f"{form}: refused {spoiled!r} ({status}) without saying why"
            )
        else:
            assert status in (302, 303, 403, 404, 405, 413), f"{form}: {status} for {spoiled!r}"
        return
    record = form.record(cast) if form.record else None
    for name, attr in form.stored.items():
        if name in spoiled and isinstance(spoiled[name], str):
            assert getattr(record, attr) == form.normalise(name, spoiled[name]), (
                f"{form}: {name} not stored as typed"
            )
    for name, value in spoiled.items():
        stored = getattr(record, name, None) if record is not None else None
        if isinstance(stored, datetime.date) and ISO_DATE.fullmatch(value):
            assert stored.isoformat() == value, f"{form}: {name} stored as {stored}"
    for page in form.pages(cast, record):
        answer = browser.get(page)
        assert answer.status_code < 500, f"{form}: {page} answered {answer.status_code}"
        if is_html(answer):
            assert not unsafe_markup(answer.content.decode()), f"{form}: {page} shows {spoiled!r}"


@pytest.fixture
def browsers(cast) -> dict[str, Browser]:
    clients = {}
    for role in ("advisor", "manager", "admin"):
        clients[role] = Browser()
        clients[role].force_login(getattr(cast, role))
    return clients


@pytest.fixture(autouse=True)
def _media(settings, tmp_path) -> None:
    settings.MEDIA_ROOT = tmp_path


@pytest.mark.parametrize("form", FORMS, ids=str)
def test_hostile_values_in_every_form(form: Form, cast, browsers):
    browser = browsers[form.user]
    # The valid submission itself goes through (so the spoiled field is what is refused).
    with transaction.atomic():
        response = browser.post(form.url(cast), form.valid(cast))
        assert response.status_code < 500
        assert refused(response, form) is not form.valid_passes, f"{form}: the valid post was not"
        transaction.set_rollback(True)

    @given(data=st.data())
    @FUZZ
    def run(data) -> None:
        names = data.draw(st.sets(st.sampled_from(sorted(form.fields)), min_size=1, max_size=3))
        spoiled = {name: data.draw(BY_KIND[form.fields[name]], label=name) for name in names}
        with transaction.atomic():
            check_post(browser, form, cast, {**form.valid(cast), **spoiled}, spoiled)
            transaction.set_rollback(True)

    run()
