"""The decision note survives the two-factor detour for an admin who has an
authenticator app but whose session has not entered a code (a session opened
before the app was set up elsewhere, or verified by an app since replaced).

SecondFactorMiddleware sends such a session to the code page on every
request; a let-go decision asks for the code itself (verified_required), so
the middleware leaves it to the view, which keeps the note first. Every other
page is refused by the middleware as before."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from advisory.letgo.services import letgo_propose
from advisory.models import Comment, LetGoCase
from advisory.views import letgo as views
from tests.otp import code_for, enroll
from tests.records import fresh

pytestmark = pytest.mark.django_db

NOTE = "Agreed after the partners' meeting.\nThe letter goes this week."
# The key of an app set up on a new phone (hex, as django-otp stores it).
NEW_PHONE = "4142444445464748494041424444454647484940"


@pytest.fixture
def case(acme, advisor, dispute) -> LetGoCase:
    return letgo_propose(
        acme,
        by=advisor,
        reason=LetGoCase.Reason.HOSTILE_CONDUCT,
        justification="Abuse on every call since March.",
        evidence=[dispute],
        notify=False,
    )


def code_page(case: LetGoCase) -> str:
    back = reverse("letgo-detail", args=[case.pk])
    return f"{reverse('login-code')}?{urlencode({'next': back})}"


@pytest.fixture(params=["never verified", "app replaced"])
def unverified(request, client, admin) -> TOTPDevice:
    """The admin has an app, and this session has not entered its code: signed
    in with the password alone, or verified by an app since replaced. Returns
    the app whose code the admin would type now."""
    if request.param == "never verified":
        app = enroll(admin)
        client.force_login(admin, verified=False)
        return app
    enroll(admin)
    client.force_login(admin)  # verified with the app of the day
    TOTPDevice.objects.filter(user=admin).delete()
    return enroll(admin, key=NEW_PHONE)


@pytest.mark.parametrize("button", ["approve", "second_factor"])
def test_the_note_is_kept_while_the_admin_enters_a_code(client, admin, case, unverified, button):
    before = (fresh(case).status, fresh(case).version)

    response = client.post(
        reverse("letgo-decide", args=[case.pk]),
        {"version": case.version, "note": NOTE, button: "1"},
    )

    assert response.status_code == 302
    assert response.url == code_page(case)
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "Enter a code from your authenticator app to decide let-go cases."
    ]
    assert (fresh(case).status, fresh(case).version) == before
    back = client.post(response.url, {"code": code_for(unverified)})
    assert back.status_code == 302 and back.url == reverse("letgo-detail", args=[case.pk])

    returned = client.get(back.url)

    assert returned.context["decision_form"]["note"].value() == NOTE
    assert returned.context["second_factor"] == ""
    assert "Approve: let the client go" in returned.content.decode()
    client.post(
        reverse("letgo-decide", args=[case.pk]),
        {"version": case.version, "note": NOTE, "approve": "1", "confirm": "1"},
    )
    assert fresh(case).status == LetGoCase.Status.APPROVED
    assert fresh(case).decision_note == NOTE
    assert str(case.pk) not in client.session.get(views.NOTES_KEY, {})


def test_nothing_is_decided_before_the_code_even_when_confirmed(client, case, unverified):
    before = (fresh(case).status, fresh(case).version, fresh(case).history.count())

    response = client.post(
        reverse("letgo-decide", args=[case.pk]),
        {"version": case.version, "note": NOTE, "approve": "1", "confirm": "1"},
    )

    assert response.url == code_page(case)
    assert (fresh(case).status, fresh(case).version, fresh(case).history.count()) == before


def test_every_other_page_still_asks_for_the_code_first(client, case, dispute, unverified):
    # The middleware's refusal, as before: only a view that asks itself is left to it.
    page = client.get(reverse("letgo-detail", args=[case.pk]))
    assert page.status_code == 302 and page.url.startswith(reverse("login-code"))
    sent = client.post(reverse("comment-create", args=[dispute.pk]), {"body": "Sent unverified."})
    assert sent.status_code == 302 and sent.url.startswith(reverse("login-code"))
    assert not Comment.objects.exists()


def test_a_role_too_low_is_still_refused_before_anything_is_kept(client, manager, case):
    enroll(manager)
    client.force_login(manager, verified=False)

    response = client.post(
        reverse("letgo-decide", args=[case.pk]),
        {"version": case.version, "note": NOTE, "approve": "1"},
    )

    assert response.status_code == 403
    assert views.NOTES_KEY not in client.session
