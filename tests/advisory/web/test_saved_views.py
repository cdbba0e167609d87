"""Saved views: saving a filtered list under a name, the page listing them,
renaming, deleting, and the dashboard's panel (advisory/web/saved_views.py,
advisory/views/saved_views.py, advisory/templatetags/saved_views.py)."""

from __future__ import annotations

import html

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.template import Context, Template
from django.test import RequestFactory
from django.urls import reverse

from advisory.models import SavedView
from advisory.web import saved_views
from tests.factories import UserFactory
from tests.pages import error_under

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert('pwned')</script>"
LIST = reverse("disagreement-list")


def save(client, name: str = "Critical ones", query: str = "severity=critical", **extra):
    data = {
        "saved-name": name,
        "saved-list_name": "disagreement-list",
        "saved-query": query,
        **extra,
    }
    return client.post(reverse("saved-view-create"), data)


def make(user, name: str = "Critical ones", **kwargs) -> SavedView:
    fields = {"list_name": "disagreement-list", "query": "severity=critical", **kwargs}
    return SavedView.objects.create(user=user, name=name, **fields)


def text(response) -> str:
    return html.unescape(response.content.decode())


# --- Saving ------------------------------------------------------------------


def test_a_filtered_list_offers_to_save_itself(client, advisor, dispute):
    client.force_login(advisor)

    page = client.get(LIST, {"severity": "moderate", "o": "-title", "page": "1"}).content.decode()

    assert "Save this view" in page
    assert f'action="{reverse("saved-view-create")}"' in page
    assert 'name="saved-list_name" value="disagreement-list"' in page
    # What is saved: the filters and the sort, not the page.
    assert 'name="saved-query" value="severity=moderate&amp;o=-title"' in page


def test_saving_a_view_stores_it_for_the_user_and_opens_it(client, advisor, dispute):
    client.force_login(advisor)

    response = save(
        client, name="  Critical ones ", query="page=2&severity=critical&q=&o=-title&format=csv"
    )

    view = SavedView.objects.get()
    assert (view.user, view.name, view.list_name) == (advisor, "Critical ones", "disagreement-list")
    # Normalised: in the filter panel's order, no page, format or empty value.
    assert view.query == "severity=critical&o=-title"
    assert response.status_code == 302
    assert response["Location"] == f"{LIST}?severity=critical&o=-title"
    page = text(client.get(response["Location"]))
    assert "Saved as “Critical ones”" in page


@pytest.mark.parametrize(
    "list_name, query",
    [
        ("client-list", "band=strained"),
        ("engagement-list", "status=active"),
        ("health-board", "band=adversarial&o=-health"),
    ],
)
def test_every_list_can_be_saved(client, manager, acme, list_name, query):
    client.force_login(manager)

    response = client.post(
        reverse("saved-view-create"),
        {"saved-name": "Mine", "saved-list_name": list_name, "saved-query": query},
    )

    assert response.status_code == 302
    assert SavedView.objects.get().get_absolute_url() == f"{reverse(list_name)}?{query}"


@pytest.mark.parametrize(
    "name, message",
    [
        ("", "This field is required."),
        ("   ", "This field is required."),
        ("x" * 81, "Ensure this value has at most 80 characters (it has 81)."),
    ],
)
def test_a_missing_or_too_long_name_is_refused_at_the_field(client, advisor, name, message):
    client.force_login(advisor)

    response = save(client, name=name)

    assert response.status_code == 400
    assert error_under(response.content.decode(), "saved-name") == message
    assert not SavedView.objects.exists()
    # The way back to the list as it was filtered.
    assert f'href="{LIST}?severity=critical"' in response.content.decode()


def test_a_name_already_used_is_refused_whatever_its_case(client, advisor, other_advisor):
    make(advisor, "Critical ones")
    make(other_advisor, "Tense ones")  # someone else's names are free to use
    client.force_login(advisor)

    taken = save(client, name="CRITICAL ONES")
    free = save(client, name="Tense ones", query="tone=tense")

    assert taken.status_code == 400
    assert (
        error_under(taken.content.decode(), "saved-name")
        == "You already have a saved view called “CRITICAL ONES”. Choose another name."
    )
    assert free.status_code == 302
    assert sorted(advisor.saved_views.values_list("name", flat=True)) == [
        "Critical ones",
        "Tense ones",
    ]


def test_the_database_refuses_a_duplicate_name_too(advisor):
    make(advisor, "Critical ones")

    with pytest.raises(IntegrityError), transaction.atomic():
        make(advisor, "critical ONES")


def test_a_view_without_filters_is_not_saved(client, advisor):
    client.force_login(advisor)

    for query in ("", "o=-title", "page=2", "colour=red"):
        response = save(client, query=query)

        assert response.status_code == 400, query
        assert "Set at least one filter first" in text(response)
    assert not SavedView.objects.exists()


def test_filters_candor_does_not_know_are_not_saved(client, advisor, stranger_client):
    client.force_login(advisor)

    unknown = save(client, query="severity=apocalyptic")
    outside = save(client, query=f"client={stranger_client.pk}")

    assert unknown.status_code == outside.status_code == 400
    assert "Some filters have values Candor doesn't know" in text(unknown)
    assert "Some filters have values Candor doesn't know" in text(outside)
    assert not SavedView.objects.exists()


@pytest.mark.parametrize(
    "data",
    [
        {"saved-list_name": "letgo-list"},
        {"saved-list_name": ""},
        {"saved-query": "severity=critical&" + "q=" + "x" * 2000},
    ],
)
def test_a_tampered_form_saves_nothing_and_says_why(client, advisor, data):
    client.force_login(advisor)

    response = save(client, **data)

    assert response.status_code == 400
    assert "The list's filters did not come through" in text(response)
    assert not SavedView.objects.exists()


def test_one_person_keeps_at_most_the_limit(client, advisor, monkeypatch):
    monkeypatch.setattr(saved_views, "LIMIT", 3)
    monkeypatch.setattr(saved_views, "AT_LIMIT", "At most 3 saved views.")
    for number in range(3):
        make(advisor, f"View {number}")
    client.force_login(advisor)

    response = save(client, name="One more")

    assert response.status_code == 400
    assert "At most 3 saved views." in text(response)
    assert advisor.saved_views.count() == 3


def test_saving_needs_a_post_and_a_role(client, advisor):
    nobody = UserFactory(username="nobody", role="")
    client.force_login(advisor)
    assert client.get(reverse("saved-view-create")).status_code == 405

    client.force_login(nobody)
    assert save(client).status_code == 403
    assert not SavedView.objects.exists()


def test_the_name_is_escaped_everywhere_it_is_shown(client, advisor):
    client.force_login(advisor)
    save(client, name=SCRIPT)
    view = SavedView.objects.get()

    pages = [
        client.get(reverse("saved-view-list")),
        client.get(reverse("saved-view-rename", args=[view.pk])),
        client.get(reverse("saved-view-delete", args=[view.pk])),
        save(client, name=SCRIPT),  # the "already used" error
    ]

    for response in pages:
        assert SCRIPT not in response.content.decode()
        assert "&lt;script&gt;" in response.content.decode()


# --- The page listing them, renaming, deleting -------------------------------


def test_the_page_lists_only_ones_own_views(client, advisor, other_advisor):
    mine = make(advisor, "Critical ones")
    make(other_advisor, "Bob's hostile ones", query="tone=hostile")
    client.force_login(advisor)

    response = client.get(reverse("saved-view-list"))

    page = text(response)
    assert response.status_code == 200
    assert "Critical ones" in page
    assert f'href="{LIST}?severity=critical"' in page
    assert "Bob's hostile ones" not in page
    assert reverse("saved-view-delete", args=[mine.pk]) in page


def test_renaming_a_view(client, advisor):
    view = make(advisor, "Critical ones")
    make(advisor, "Tense ones")
    client.force_login(advisor)

    form = client.get(reverse("saved-view-rename", args=[view.pk]))
    taken = client.post(reverse("saved-view-rename", args=[view.pk]), {"name": "tense ONES"})
    empty = client.post(reverse("saved-view-rename", args=[view.pk]), {"name": ""})
    same = client.post(reverse("saved-view-rename", args=[view.pk]), {"name": "critical ones"})
    renamed = client.post(reverse("saved-view-rename", args=[view.pk]), {"name": "Worst first"})

    assert form.status_code == 200 and 'value="Critical ones"' in form.content.decode()
    assert taken.status_code == empty.status_code == 400
    assert "You already have a saved view called “tense ONES”" in text(taken)
    assert error_under(empty.content.decode(), "name") == "This field is required."
    assert same.status_code == 302  # its own name, in another case, is not taken
    assert renamed.status_code == 302 and renamed["Location"] == reverse("saved-view-list")
    view.refresh_from_db()
    assert view.name == "Worst first"
    assert view.query == "severity=critical"


def test_deleting_asks_first_then_deletes(client, advisor):
    view = make(advisor)
    client.force_login(advisor)

    confirm = client.get(reverse("saved-view-delete", args=[view.pk]))
    assert confirm.status_code == 200
    assert "Delete “Critical ones”?" in text(confirm)
    assert SavedView.objects.filter(pk=view.pk).exists()

    response = client.post(reverse("saved-view-delete", args=[view.pk]))

    assert response.status_code == 302
    assert not SavedView.objects.filter(pk=view.pk).exists()
    assert "Deleted the saved view “Critical ones”." in text(client.get(response["Location"]))


def test_someone_elses_view_is_not_found(client, advisor, other_advisor, manager, admin):
    view = make(advisor)
    for outsider in (other_advisor, manager, admin):
        client.force_login(outsider)
        for name in ("saved-view-rename", "saved-view-delete"):
            url = reverse(name, args=[view.pk])
            assert client.get(url).status_code == 404, (outsider, name)
            assert client.post(url, {"name": "Taken over"}).status_code == 404, (outsider, name)
    view.refresh_from_db()
    assert view.name == "Critical ones"


def test_the_pages_need_a_role(client, advisor):
    view = make(advisor)
    nobody = UserFactory(username="nobody", role="")
    client.force_login(nobody)

    assert client.get(reverse("saved-view-list")).status_code == 403
    assert client.get(reverse("saved-view-rename", args=[view.pk])).status_code == 403


def test_a_users_views_go_with_the_user(advisor):
    make(advisor)

    advisor.delete()

    assert not SavedView.objects.exists()


# --- The services ------------------------------------------------------------


def test_the_service_checks_what_the_form_cannot(advisor):
    with pytest.raises(ValidationError) as no_list:
        saved_views.saved_view_create(user=advisor, name="Odd", list_name="letgo-list", query="a=b")
    with pytest.raises(ValidationError, match="Set at least one filter"):
        saved_views.saved_view_create(user=advisor, name="Odd", list_name="client-list", query="")

    assert "list_name" in no_list.value.message_dict
    assert not SavedView.objects.exists()


# --- The dashboard's panel ---------------------------------------------------


def render_panel(user) -> str:
    request = RequestFactory().get("/")
    request.user = user
    template = Template("{% load saved_views %}{% saved_views_panel %}")
    return html.unescape(template.render(Context({"request": request})))


def test_the_panel_lists_ones_own_views_by_name(advisor, other_advisor, django_assert_num_queries):
    make(advisor, "tense ones", query="tone=tense")
    make(advisor, "Critical ones")
    make(other_advisor, "Bob's hostile ones", query="tone=hostile")

    with django_assert_num_queries(1):
        panel = render_panel(advisor)

    assert panel.index("Critical ones") < panel.index("tense ones")
    assert f'href="{LIST}?tone=tense"' in panel
    assert "Bob's hostile ones" not in panel
    assert reverse("saved-view-list") in panel


def test_the_panel_says_how_to_save_one_when_there_is_none(advisor):
    assert "None yet. Filter a list, then choose “Save this view”" in render_panel(advisor)


@pytest.fixture
def stranger_client(other_advisor):
    from tests.factories import ClientFactory

    return ClientFactory(name="Zenith Family Office", lead_advisor=other_advisor)
