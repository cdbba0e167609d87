"""How pages say things: one date format, amounts in the firm's currency, a
disagreement's state said once, and the health score's recipe explained."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal

import pytest
from django.template import Context, Template
from django.urls import reverse
from django.utils import timezone

from advisory.models import Disagreement
from advisory.records.versioning import record_save
from tests.factories import DisagreementFactory, EngagementFactory

D = Disagreement


def render(source: str, **context) -> str:
    return Template("{% load candor %}" + source).render(Context(context))


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


# --- Money ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("currency", "amount", "shown"),
    [
        ("GBP", Decimal("12500"), "£12,500.00"),
        ("GBP", Decimal("900.505"), "£900.51"),
        ("USD", Decimal("-900.5"), "-$900.50"),
        ("EUR", 1234567, "€1,234,567.00"),
        ("CHF", Decimal("12500"), "CHF\N{NO-BREAK SPACE}12,500.00"),
        ("GBP", None, "—"),
    ],
)
def test_money_writes_an_amount_in_the_firms_currency(settings, currency, amount, shown):
    settings.CANDOR_CURRENCY = currency
    assert render("{{ amount|money }}", amount=amount) == shown


def test_an_engagements_fee_reads_as_money_on_its_page_and_the_clients(
    client, advisor, acme, settings
):
    settings.CANDOR_CURRENCY = "EUR"
    engagement = EngagementFactory(client=acme, lead_advisor=advisor, fee=Decimal("12500.00"))
    client.force_login(advisor)

    for url in (engagement.get_absolute_url(), acme.get_absolute_url()):
        assert "€12,500.00" in text(client.get(url)), url


# --- Dates ---------------------------------------------------------------------------


def test_a_day_and_a_moment_read_the_same_on_every_page(client, advisor, acme_engagement):
    moment = timezone.make_aware(datetime.datetime(2026, 3, 9, 14, 5))
    dispute = DisagreementFactory(
        engagement=acme_engagement,
        occurred_on=datetime.date(2026, 3, 2),
        follow_up_on=datetime.date(2026, 3, 20),
    )
    D.objects.filter(pk=dispute.pk).update(created_at=moment)
    client.force_login(advisor)

    detail = text(client.get(dispute.get_absolute_url()))
    listed = text(client.get(reverse("disagreement-list")))

    assert "2 Mar 2026" in detail and "20 Mar 2026" in detail
    assert "9 Mar 2026, 14:05" in detail  # logged on, 24-hour clock
    assert "2 Mar 2026" in listed and "20 Mar 2026" in listed
    assert "2026-03-02</" not in detail + listed  # ISO only in datetime="" attributes


def test_the_history_tab_writes_dates_as_the_pages_do(client, advisor, dispute):
    dispute.follow_up_on = datetime.date(2030, 1, 31)
    record_save(dispute, by=advisor, expected_version=dispute.version)
    client.force_login(advisor)

    page = text(client.get(reverse("disagreement-history", args=[dispute.pk])))

    assert "31 Jan 2030" in page
    assert "2030-01-31" not in page.replace('datetime="2030-01-31', "")


# --- Status pills --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("facts", "pills"),
    [
        ({}, ["Awaiting decision"]),
        (
            {"decision": D.Decision.PROCEEDED},
            ["Proceeded against advice", "Awaiting acknowledgment", "Awaiting outcome"],
        ),
        (
            {
                "decision": D.Decision.PROCEEDED,
                "risk_acknowledged": True,
                "verdict": D.Verdict.ADVICE_VINDICATED,
            },
            ["Proceeded against advice", "Advice vindicated"],
        ),
        ({"decision": D.Decision.ACCEPTED}, ["Accepted advice", "Awaiting outcome"]),
        ({"decision": D.Decision.WITHDREW}, ["Withdrew request"]),
    ],
)
def test_a_disagreements_state_is_said_once_and_never_as_pending(acme_engagement, facts, pills):
    dispute = DisagreementFactory(engagement=acme_engagement, **facts)

    shown = re.findall(
        r'<span class="badge [^"]*">([^<]*)</span>', render("{% status_pills d %}", d=dispute)
    )

    assert shown == pills


def test_the_list_and_the_page_show_awaiting_not_pending(client, advisor, acme_engagement):
    dispute = DisagreementFactory(engagement=acme_engagement, title="Undecided")
    client.force_login(advisor)

    for url in (dispute.get_absolute_url(), reverse("disagreement-list")):
        badges = re.findall(r'<span class="badge [^"]*">([^<]*)</span>', text(client.get(url)))
        assert "Pending" not in badges, url
        assert badges.count("Awaiting decision") == 1, url


# --- How the score is computed -------------------------------------------------------


def test_the_score_page_states_the_recipe_in_force(client, advisor, settings):
    settings.CANDOR_HEALTH = {**settings.CANDOR_HEALTH, "half_life_days": 45}
    client.force_login(advisor)

    page = text(client.get(reverse("health-score")))

    assert "How the health score is computed" in page
    assert "half as much every 45 days" in page
    for label, weight in settings.CANDOR_HEALTH["severity"].items():
        assert f"<td>{D.Severity(label).label}</td>" in page
        assert f'<td class="text-end">{weight:g}</td>' in page


def test_why_this_score_explains_friction_and_links_the_recipe(client, advisor, acme, dispute):
    client.force_login(advisor)

    page = text(client.get(acme.get_absolute_url()))

    assert "<strong>Friction</strong> is how much the disagreements weigh" in page
    assert f'<a href="{reverse("health-score")}">How is this computed?</a>' in page


def test_the_dossier_explains_friction_without_a_link_into_candor(client, advisor, acme, dispute):
    client.force_login(advisor)

    page = text(client.get(reverse("client-dossier", args=[acme.pk]) + "?format=html"))

    assert "<strong>Friction</strong> is how much" in page
    assert reverse("health-score") not in page
