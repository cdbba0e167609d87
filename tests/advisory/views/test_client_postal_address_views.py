"""The client's optional postal address: its form, its page, its history, the API."""

from __future__ import annotations

import pytest
from django.urls import reverse

from advisory.models import Client
from tests.pages import field_error, shown_form

pytestmark = pytest.mark.django_db

ADDRESS = "Acme House\r\n12 Dock Road\r\nBristol BS1 4XX"


def edit(client, acme, **changes):
    form = client.get(reverse("client-edit", args=[acme.pk]))
    return client.post(reverse("client-edit", args=[acme.pk]), {**shown_form(form), **changes})


def test_the_form_offers_the_postal_address_as_optional(client, advisor):
    client.force_login(advisor)

    page = client.get(reverse("client-create")).content.decode()

    assert 'name="postal_address"' in page
    assert "Postal address" in page
    assert "Where letters go" in page


def test_a_client_is_created_with_or_without_one(client, advisor):
    client.force_login(advisor)
    base = shown_form(client.get(reverse("client-create")))

    for name, address in [("Globex", ADDRESS), ("Initech", "")]:
        response = client.post(
            reverse("client-create"), {**base, "name": name, "postal_address": address}
        )
        assert response.status_code == 302, response.context["form"].errors

    assert Client.objects.get(name="Globex").postal_address == ADDRESS
    assert Client.objects.get(name="Initech").postal_address == ""


def test_the_client_page_shows_it_line_by_line(client, advisor, acme):
    client.force_login(advisor)
    assert "Postal address" not in client.get(acme.get_absolute_url()).content.decode()

    edit(client, acme, postal_address=ADDRESS, change_reason="Moved offices")

    page = client.get(acme.get_absolute_url()).content.decode()
    assert "Postal address" in page
    assert "Acme House<br>12 Dock Road<br>Bristol BS1 4XX" in page


def test_a_change_is_in_the_history_with_its_reason(client, advisor, acme):
    client.force_login(advisor)

    edit(client, acme, postal_address="1 New Street", change_reason="Moved offices")

    latest = acme.history.first()
    assert latest.postal_address == "1 New Street"
    assert latest.history_change_reason == "Moved offices"
    page = client.get(reverse("client-history", args=[acme.pk])).content.decode()
    assert "Postal address" in page and "1 New Street" in page


def test_an_address_too_long_is_refused_and_nothing_is_saved(client, advisor, acme):
    client.force_login(advisor)

    response = edit(client, acme, postal_address="x" * 501)

    assert response.status_code == 400
    assert field_error(
        response, "postal_address", "Ensure this value has at most 500 characters (it has 501)."
    )
    acme.refresh_from_db()
    assert acme.postal_address == "" and acme.version == 1


def test_the_page_escapes_it(client, advisor, acme):
    acme.postal_address = "<script>alert('x')</script>"
    acme.save()
    client.force_login(advisor)

    page = client.get(acme.get_absolute_url()).content.decode()

    assert "<script>alert" not in page
    assert "&lt;script&gt;" in page


def test_the_api_reads_and_writes_it(client, advisor, acme):
    client.force_login(advisor)
    url = reverse("api:client-detail", args=[acme.pk])

    response = client.patch(
        url, {"version": acme.version, "postal_address": "1 New Street"}, "application/json"
    )

    assert response.status_code == 200, response.content
    assert response.json()["postal_address"] == "1 New Street"
    acme.refresh_from_db()
    assert acme.postal_address == "1 New Street"
