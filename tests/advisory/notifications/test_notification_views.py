"""Notification pages: the bell and its count, the list, mark read, mark all
read, preferences, and the unsubscribe link that works without logging in."""

from __future__ import annotations

import datetime

import pytest
from django.core import signing
from django.test import Client as HttpClient
from django.test import RequestFactory
from django.urls import reverse

from advisory.models import Delivery, Notification, NotificationKind, NotificationPreference
from advisory.notifications import preferences
from advisory.web.context_processors import notifications as bell
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

Kind = NotificationKind


def make(user, n: int = 1, **extra) -> list[Notification]:
    start = Notification.objects.count()
    return [
        Notification.objects.create(
            recipient=user,
            kind=extra.get("kind", Kind.FOLLOW_UP_DUE),
            event_key=f"test:{start + i}",
            title=f"Notification {start + i}",
            body="Something happened.",
            url="/clients/",
            delivery=Delivery.DAILY,
            read_at=extra.get("read_at"),
        )
        for i in range(n)
    ]


def delivery(user, kind: str) -> str:
    return preferences.preferences_for(user)[kind]


# --- The bell ---------------------------------------------------------------------------


def test_the_bell_counts_unread_notifications_in_one_query(
    advisor, other_advisor, django_assert_num_queries
):
    make(advisor, 3)
    make(advisor, 2, read_at=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC))
    make(other_advisor, 4)
    request = RequestFactory().get("/")
    request.user = advisor

    with django_assert_num_queries(1):
        assert bell(request)["unread_notifications"] == 3


def test_the_bell_shows_the_count_in_the_navigation(client, advisor):
    make(advisor, 3)
    client.force_login(advisor)

    page = client.get(reverse("dashboard")).content.decode()

    assert 'href="/notifications/"' in page
    assert '3<span class="visually-hidden"> unread</span>' in page


def test_the_bell_caps_a_large_count(client, advisor):
    make(advisor, 120)
    client.force_login(advisor)

    page = client.get(reverse("dashboard")).content.decode()

    assert '99+<span class="visually-hidden"> unread</span>' in page


def test_no_unread_badge_when_everything_is_read(client, advisor):
    client.force_login(advisor)

    page = client.get(reverse("dashboard")).content.decode()

    assert "Notifications</span>" in page
    assert "unread</span>" not in page


# --- The list -------------------------------------------------------------------------


def test_the_list_needs_a_login(client):
    response = client.get(reverse("notification-list"))

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_the_list_shows_only_ones_own_notifications(client, advisor, other_advisor):
    mine = make(advisor)[0]
    theirs = make(other_advisor)[0]
    client.force_login(advisor)

    page = client.get(reverse("notification-list")).content.decode()

    assert mine.title in page
    assert theirs.title not in page
    assert "1 unread." in page


def test_the_list_is_paginated_without_a_query_per_row(
    client, advisor, django_assert_max_num_queries
):
    client.force_login(advisor)
    make(advisor, 3)
    with django_assert_max_num_queries(50) as few:
        client.get(reverse("notification-list"))
    make(advisor, 60)

    with django_assert_max_num_queries(len(few.captured_queries)):
        page = client.get(reverse("notification-list")).content.decode()

    assert "Page 1 of 3" in page
    assert "Notification 62" in page
    assert "Notification 0<" not in page
    page3 = client.get(reverse("notification-list"), {"page": 3}).content.decode()
    assert "Notification 0<" in page3


def test_mark_read_marks_one_and_returns_to_the_page(client, advisor):
    first, second = make(advisor, 2)
    client.force_login(advisor)

    response = client.post(
        reverse("notification-read", args=[first.pk]), {"next": "/notifications/?page=1"}
    )

    assert response.status_code == 302
    assert response.url == "/notifications/?page=1"
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.read_at is not None
    assert second.read_at is None


def test_mark_read_refuses_an_outside_address(client, advisor):
    [notification] = make(advisor)
    client.force_login(advisor)

    response = client.post(
        reverse("notification-read", args=[notification.pk]), {"next": "https://evil.example/"}
    )

    assert response.url == reverse("notification-list")


def test_someone_elses_notification_is_404(client, advisor, other_advisor):
    [theirs] = make(other_advisor)
    client.force_login(advisor)

    response = client.post(reverse("notification-read", args=[theirs.pk]))

    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None


@pytest.mark.parametrize("name", ["notification-read", "notification-read-all"])
def test_marking_read_is_post_only(client, advisor, name):
    [notification] = make(advisor)
    client.force_login(advisor)
    args = [notification.pk] if name == "notification-read" else []

    assert client.get(reverse(name, args=args)).status_code == 405


def test_marking_read_needs_the_csrf_token(advisor):
    [notification] = make(advisor)
    browser = HttpClient(enforce_csrf_checks=True)
    browser.force_login(advisor)

    response = browser.post(reverse("notification-read", args=[notification.pk]))

    assert response.status_code == 403
    notification.refresh_from_db()
    assert notification.read_at is None


def test_mark_all_read_marks_only_ones_own(client, advisor, other_advisor):
    make(advisor, 3)
    make(other_advisor, 2)
    client.force_login(advisor)

    response = client.post(reverse("notification-read-all"), follow=True)

    assert "Marked 3 notifications read." in response.content.decode()
    assert not Notification.objects.filter(recipient=advisor).unread().exists()
    assert Notification.objects.filter(recipient=other_advisor).unread().count() == 2


# --- Preferences ----------------------------------------------------------------------


def test_the_preferences_page_offers_the_kinds_of_the_users_role(client, advisor, manager, admin):
    client.force_login(advisor)
    page = client.get(reverse("notification-preferences")).content.decode()
    assert "A client&#x27;s health band worsens" in page
    assert "The weekly digest of your teams" not in page
    assert "A let-go is proposed" not in page

    client.force_login(manager)
    assert (
        "The weekly digest of your teams"
        in client.get(reverse("notification-preferences")).content.decode()
    )

    client.force_login(admin)
    assert (
        "A let-go is proposed" in client.get(reverse("notification-preferences")).content.decode()
    )


def test_the_profile_links_to_the_preferences(client, advisor):
    client.force_login(advisor)

    page = client.get(reverse("profile")).content.decode()

    assert reverse("notification-preferences") in page


def test_saving_preferences_stores_the_choices(client, advisor):
    client.force_login(advisor)
    choices = {kind: delivery(advisor, kind) for kind in preferences.kinds_for(advisor)}
    choices[Kind.BAND_WORSENED] = Delivery.DAILY
    choices[Kind.FOLLOW_UP_DUE] = Delivery.IN_APP

    response = client.post(reverse("notification-preferences"), choices)

    assert response.status_code == 302
    assert delivery(advisor, Kind.BAND_WORSENED) == Delivery.DAILY
    assert delivery(advisor, Kind.FOLLOW_UP_DUE) == Delivery.IN_APP
    # Unchanged kinds keep following the defaults.
    assert NotificationPreference.objects.filter(user=advisor).count() == 2


def test_a_bad_choice_shows_the_error_and_saves_nothing(client, advisor):
    client.force_login(advisor)
    choices = {kind: delivery(advisor, kind) for kind in preferences.kinds_for(advisor)}
    choices[Kind.BAND_WORSENED] = "carrier-pigeon"

    response = client.post(reverse("notification-preferences"), choices)

    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert not NotificationPreference.objects.exists()


# --- Unsubscribe ----------------------------------------------------------------------


def unsubscribe_url(user, kind: str) -> str:
    return reverse("notification-unsubscribe", args=[preferences.unsubscribe_token(user, kind)])


def test_the_link_asks_before_changing_anything(client, advisor):
    response = client.get(unsubscribe_url(advisor, Kind.BAND_WORSENED))

    assert response.status_code == 200
    page = response.content.decode()
    assert (
        "Stop e-mailing <strong>alice</strong> about “A client&#x27;s health band worsens”" in page
    )
    assert not NotificationPreference.objects.exists()


def test_confirming_stops_that_one_kind_for_that_one_person_without_a_login(advisor, other_advisor):
    browser = HttpClient(enforce_csrf_checks=True)  # as a mail client's one-click POST

    response = browser.post(unsubscribe_url(advisor, Kind.BAND_WORSENED))

    assert response.status_code == 200
    assert "E-mails stopped" in response.content.decode()
    assert delivery(advisor, Kind.BAND_WORSENED) == Delivery.IN_APP
    assert list(NotificationPreference.objects.values_list("user", "kind")) == [
        (advisor.pk, Kind.BAND_WORSENED)
    ]
    assert delivery(other_advisor, Kind.BAND_WORSENED) == Delivery.IMMEDIATE


def test_the_token_cannot_be_turned_into_another_persons_or_kind(advisor, other_advisor, client):
    token = preferences.unsubscribe_token(advisor, Kind.BAND_WORSENED)
    signature_part = token.split(":", 1)[1]
    for payload in (
        {"u": other_advisor.pk, "k": Kind.BAND_WORSENED},
        {"u": advisor.pk, "k": Kind.LETGO_DECIDED},
    ):
        forged_payload = signing.dumps(payload, salt="x", compress=False).split(":", 1)[0]
        forged = f"{forged_payload}:{signature_part}"

        response = client.post(reverse("notification-unsubscribe", args=[forged]))

        assert response.status_code == 400
    assert not NotificationPreference.objects.exists()


def test_a_token_signed_for_something_else_is_refused(advisor, client):
    # Validly signed with the site's key, but not as an unsubscribe token.
    other = signing.dumps({"u": advisor.pk, "k": Kind.BAND_WORSENED}, compress=False)

    response = client.post(reverse("notification-unsubscribe", args=[other]))

    assert response.status_code == 400
    assert not NotificationPreference.objects.exists()


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_tampered_link_shows_a_clear_page_and_changes_nothing(advisor, client, method):
    token = preferences.unsubscribe_token(advisor, Kind.BAND_WORSENED)

    response = getattr(client, method)(
        reverse("notification-unsubscribe", args=[token[:-2] + "xx"])
    )

    assert response.status_code == 400
    assert "This link is not valid" in response.content.decode()
    assert "nothing was changed" in response.content.decode()
    assert not NotificationPreference.objects.exists()


def test_an_expired_link_shows_a_clear_page_and_changes_nothing(
    advisor, client, time_machine, settings
):
    time_machine.move_to(datetime.datetime(2026, 11, 1, 9, 0, tzinfo=datetime.UTC))
    url = unsubscribe_url(advisor, Kind.BAND_WORSENED)
    days = settings.CANDOR_NOTIFICATIONS["unsubscribe_max_age_days"]
    time_machine.shift(datetime.timedelta(days=days + 1))

    response = client.post(url)

    assert response.status_code == 400
    assert "has expired" in response.content.decode()
    assert not NotificationPreference.objects.exists()


def test_a_link_for_someone_who_has_left_is_refused(advisor, client):
    url = unsubscribe_url(advisor, Kind.BAND_WORSENED)
    advisor.is_active = False
    advisor.save()

    assert client.post(url).status_code == 400
    assert not NotificationPreference.objects.exists()


def test_the_unsubscribe_page_accepts_only_get_and_post(advisor, client):
    assert client.put(unsubscribe_url(advisor, Kind.BAND_WORSENED)).status_code == 405


def test_the_admin_lists_what_was_sent_read_only(client, advisor):
    superuser = UserFactory(username="root", is_superuser=True, is_staff=True)
    [notification] = make(advisor)
    client.force_login(superuser)

    listing = client.get(reverse("admin:advisory_notification_changelist"))
    add = client.get(reverse("admin:advisory_notification_add"))

    assert listing.status_code == 200
    assert notification.title in listing.content.decode()
    assert add.status_code == 403
