"""A session ends after SESSION_COOKIE_AGE without a request (accounts/middleware.py)."""

from __future__ import annotations

import datetime

import pytest
from django.conf import settings
from django.urls import reverse

pytestmark = pytest.mark.django_db

START = datetime.datetime(2026, 11, 22, 9, 0, tzinfo=datetime.UTC)


def at(minutes: float) -> datetime.datetime:
    return START + datetime.timedelta(minutes=minutes)


def test_the_idle_limit_is_two_hours():
    assert settings.SESSION_COOKIE_AGE == 2 * 60 * 60
    assert settings.SESSION_EXPIRE_AT_BROWSER_CLOSE is False


def test_a_session_left_alone_expires(client, advisor, time_machine):
    time_machine.move_to(START)
    client.force_login(advisor)
    time_machine.move_to(at(119))
    assert client.get(reverse("dashboard")).status_code == 200
    time_machine.move_to(at(119 + 121))
    response = client.get(reverse("dashboard"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_activity_keeps_a_session_alive(client, advisor, time_machine):
    time_machine.move_to(START)
    client.force_login(advisor)
    for minutes in (90, 180, 270, 360):  # never two hours apart
        time_machine.move_to(at(minutes))
        assert client.get(reverse("dashboard")).status_code == 200, minutes


def test_the_cookie_lifetime_follows_the_activity(client, advisor, time_machine):
    time_machine.move_to(START)
    client.force_login(advisor)
    time_machine.move_to(at(30))
    response = client.get(reverse("dashboard"))
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["max-age"] == settings.SESSION_COOKIE_AGE
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"


def test_the_expiry_is_written_at_most_once_a_minute(client, advisor, time_machine):
    time_machine.move_to(START)
    client.force_login(advisor)
    time_machine.move_to(at(10))
    assert settings.SESSION_COOKIE_NAME in client.get(reverse("dashboard")).cookies
    time_machine.move_to(at(10.5))
    assert settings.SESSION_COOKIE_NAME not in client.get(reverse("dashboard")).cookies
