"""The filters in force as chips: advisory/web/chips.py, and the chips on the
list pages (includes/_filter_chips.html)."""

from __future__ import annotations

import datetime
import html
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django import forms
from django.http import QueryDict
from django.urls import reverse
from django.utils.html import escape
from django.utils.text import capfirst

from accounts.models import Team, User
from advisory.filters import ClientFilter, DisagreementFilter, EngagementFilter, HealthFilter
from advisory.models import Client, Disagreement, Engagement
from advisory.web import chips
from advisory.web.chips import Chip, filter_chips
from tests.factories import ClientFactory

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert('pwned')</script>"
LISTS = [
    (ClientFilter, Client, "client-list"),
    (EngagementFilter, Engagement, "engagement-list"),
    (DisagreementFilter, Disagreement, "disagreement-list"),
    (HealthFilter, Client, "health-board"),
]


def chips_for(filter_class, model, user, query: str) -> list[Chip]:
    params = QueryDict(query)
    filterset = filter_class(params, queryset=model.objects.all(), user=user)
    return filter_chips(filterset, params)


def by_name(found: list[Chip]) -> dict[str, Chip]:
    return {chip.name: chip for chip in found}


# --- The helper --------------------------------------------------------------


def test_a_choice_shows_its_label_and_its_link_keeps_the_rest(advisor):
    found = chips_for(
        DisagreementFilter,
        Disagreement,
        advisor,
        "severity=high&tone=hostile&o=-occurred&page=3&format=csv",
    )

    assert [chip.text for chip in found] == ["Severity: High", "Tone: Hostile"]
    severity = by_name(found)["severity"]
    # The tone and the sort stay; the page and the export format go.
    assert QueryDict(severity.query) == QueryDict("tone=hostile&o=-occurred")


def test_the_links_leave_out_the_empty_fields_a_submitted_filter_form_sends(advisor):
    (chip,) = chips_for(
        DisagreementFilter, Disagreement, advisor, "q=&client=&severity=high&tone=&o=title"
    )

    assert chip.query == "o=title"


def test_no_chip_for_what_was_not_set_nor_for_page_and_sort(advisor):
    assert chips_for(DisagreementFilter, Disagreement, advisor, "") == []
    assert chips_for(DisagreementFilter, Disagreement, advisor, "o=title&page=2") == []
    # An empty value submitted by the filter form is no filter.
    assert chips_for(DisagreementFilter, Disagreement, advisor, "q=&severity=&client=") == []
    # Nor is a parameter no filter reads.
    assert chips_for(ClientFilter, Client, advisor, "colour=red") == []


def test_a_record_shows_its_name_not_its_id(advisor, acme, dispute):
    found = by_name(
        chips_for(
            DisagreementFilter,
            Disagreement,
            advisor,
            f"client={acme.pk}&engagement={dispute.engagement_id}&advisor={advisor.pk}",
        )
    )

    assert found["client"].text == "Client: Acme Holdings"
    assert found["engagement"].text == "Engagement: Acme Holdings · Annual audit 2026"
    assert found["advisor"].text == "Logged by: Alice Tester"


@pytest.mark.parametrize(
    "query, text",
    [
        ("occurred_after=2026-03-01&occurred_before=2026-03-31", "1 Mar 2026 to 31 Mar 2026"),
        ("occurred_after=2026-03-01", "from 1 Mar 2026"),
        ("occurred_before=2026-03-31", "until 31 Mar 2026"),
    ],
)
def test_a_date_range_shows_its_dates_and_goes_as_one(advisor, query, text):
    # The panel's order: severity first, then the range.
    chip = chips_for(DisagreementFilter, Disagreement, advisor, f"{query}&severity=low&o=title")[1]

    assert chip.text == f"Occurred between: {text}"
    assert QueryDict(chip.query) == QueryDict("severity=low&o=title")


def test_search_text_and_the_archived_filter_read_as_chosen(advisor):
    found = by_name(chips_for(ClientFilter, Client, advisor, "q=+hotel+&archived=all"))

    assert found["q"].text == "Search: “hotel”"
    assert found["archived"].text == "Archived: Active and archived"


def test_a_value_the_filter_refused_is_shown_as_typed_so_it_can_be_removed(advisor):
    (chip,) = chips_for(DisagreementFilter, Disagreement, advisor, "severity=apocalyptic")

    assert chip.text == "Severity: apocalyptic"
    assert chip.query == ""


def test_someone_elses_client_is_never_named(advisor, other_advisor):
    theirs = ClientFactory(name="Zenith Family Office", lead_advisor=other_advisor)

    (chip,) = chips_for(ClientFilter, Client, advisor, f"lead_advisor={other_advisor.pk}")
    found = chips_for(DisagreementFilter, Disagreement, advisor, f"client={theirs.pk}")

    assert chip.value == str(other_advisor.pk)  # not in scope: refused, shown as typed
    assert found[0].value == str(theirs.pk)


def test_several_values_of_one_filter_are_listed_together():
    field = forms.MultipleChoiceField(choices=[("a", "Alpha"), ("b", "Beta")])

    assert chips.display(field, ["a", "b"]) == "Alpha, Beta"
    assert chips.display(forms.NullBooleanField(), False) == "No"
    assert chips.display(forms.DateField(), datetime.date(2026, 1, 5)) == "5 Jan 2026"


def test_clear_all_keeps_only_the_sort():
    assert chips.clear_all(QueryDict("severity=high&o=-title&page=2")) == "o=-title"
    assert chips.clear_all(QueryDict("severity=high")) == ""


def _params_for(form: forms.Form, name: str, records: dict) -> dict[str, str]:
    """A value each kind of filter accepts, as the query parameters it reads."""
    field = form.fields[name]
    if isinstance(field, forms.MultiValueField):
        return dict.fromkeys(chips.filter_keys(form, name), "2026-03-01")
    if isinstance(field, forms.ModelChoiceField):
        return {name: str(records[field.queryset.model].pk)}
    if isinstance(field, forms.ChoiceField):
        return {name: next(str(key) for key, _label in field.choices if key)}
    return {name: "acme"}


@pytest.mark.parametrize(("filter_class", "model", "url_name"), LISTS)
def test_every_filter_of_every_list_has_a_chip_on_its_page(
    client, advisor, team, acme, dispute, filter_class, model, url_name
):
    """Generic: a filter added to a list later gets its chip with no code in chips.py."""
    records = {Client: acme, Engagement: dispute.engagement, User: advisor, Team: team}
    # The engagement filter offers the chosen client's engagements.
    form = filter_class(
        QueryDict(f"client={acme.pk}"), queryset=model.objects.all(), user=advisor
    ).form
    client.force_login(advisor)
    names = [name for name in form.fields if name != "o"]
    assert names
    for name in names:
        params = _params_for(form, name, records)
        query = QueryDict(mutable=True)
        query.update(params)
        if name == "engagement":
            query["client"] = str(acme.pk)

        found = by_name(chips_for(filter_class, model, advisor, query.urlencode()))

        assert name in found, f"{url_name}: no chip for {name} ({params})"
        chip = found[name]
        # The label the filter panel shows (the bound field's: the field's own,
        # or the name's when the API schema's generation left it None).
        assert chip.label == capfirst(str(form[name].label))
        if isinstance(form.fields[name], forms.ModelChoiceField):
            assert chip.value != params[name], f"{name} shows an id, not a name"
        assert not set(chips.filter_keys(form, name)) & set(QueryDict(chip.query))
        page = client.get(reverse(url_name), query).content.decode()
        assert f"{escape(chip.label)}: {escape(chip.value)}" in page, (url_name, name)


def test_making_the_chips_reads_nothing_more_from_the_database(
    advisor, acme, dispute, django_assert_num_queries
):
    params = QueryDict(
        f"client={acme.pk}&engagement={dispute.engagement_id}&advisor={advisor.pk}"
        "&severity=high&occurred_after=2026-01-01&q=stock"
    )
    filterset = DisagreementFilter(params, queryset=Disagreement.objects.all(), user=advisor)
    assert filterset.is_valid()  # as the list page does before rendering

    with django_assert_num_queries(0):
        found = filter_chips(filterset, params)

    assert len(found) == 6


# --- On the pages ------------------------------------------------------------


def chip_links(page: str) -> dict[str, str]:
    """Each chip's text (without "Remove filter") → its link, as the page shows them."""
    found = {}
    for href, inner in re.findall(r'<a class="filter-chip" href="([^"]*)">(.*?)</a>', page, re.S):
        text = re.sub(r"<[^>]+>", "", inner.replace("Remove filter ", ""))
        text = text.replace("\N{MULTIPLICATION SIGN}", "")
        found[html.unescape(text).strip()] = html.unescape(href)
    return found


def test_the_list_shows_a_chip_per_filter_each_removing_itself(client, advisor, dispute):
    client.force_login(advisor)

    response = client.get(
        reverse("disagreement-list"), {"severity": "moderate", "tone": "tense", "o": "-title"}
    )

    links = chip_links(response.content.decode())
    assert set(links) == {"Severity: Moderate", "Tone: Tense"}
    assert parse_qs(urlsplit(links["Severity: Moderate"]).query) == {
        "tone": ["tense"],
        "o": ["-title"],
    }
    # Following it: the same list, that filter gone, the sort kept.
    after = client.get(reverse("disagreement-list") + links["Severity: Moderate"])
    assert set(chip_links(after.content.decode())) == {"Tone: Tense"}
    assert "Clear all" in after.content.decode()


def test_the_last_chip_and_clear_all_go_back_to_the_bare_list(client, advisor, dispute):
    client.force_login(advisor)

    page = client.get(reverse("client-list"), {"status": "active"}).content.decode()

    assert chip_links(page) == {"Status: Active": reverse("client-list")}
    assert f'<a class="small" href="{reverse("client-list")}">Clear all' in page


def test_an_unfiltered_list_shows_no_chips_and_no_save_form(client, advisor, dispute):
    client.force_login(advisor)

    page = client.get(reverse("disagreement-list"), {"o": "title", "page": "1"}).content.decode()

    assert "filter-chip" not in page
    assert "Clear all" not in page
    assert "Save this view" not in page
    assert "Stock count skipped" in page


def test_search_text_in_a_chip_is_escaped(client, advisor, dispute):
    client.force_login(advisor)

    page = client.get(reverse("disagreement-list"), {"q": SCRIPT}).content.decode()

    assert SCRIPT not in page
    assert "Search: “&lt;script&gt;alert(&#x27;pwned&#x27;)&lt;/script&gt;”" in page


def test_the_health_board_shows_chips_too(client, manager, acme):
    client.force_login(manager)

    page = client.get(reverse("health-board"), {"band": "strained", "o": "client"})

    assert chip_links(page.content.decode()) == {"Band: Strained": "?o=client"}
