from __future__ import annotations

import re

import pytest
from django.urls import reverse

from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

LOGIN = reverse("login")


def attempt(client, username: str, password: str):
    return client.post(LOGIN, {"username": username, "password": password})


def test_the_login_form_has_the_contracted_labels_and_button(client):
    page = client.get(LOGIN).content.decode()
    assert re.search(r'<label\s[^>]*for="id_username"[^>]*>\s*Username', page)
    assert re.search(r'<label\s[^>]*for="id_password"[^>]*>\s*Password', page)
    assert ">Log in</button>" in page


def test_a_right_password_logs_in_and_lands_on_the_dashboard(client, advisor):
    response = attempt(client, "alice", PASSWORD)
    assert response.status_code == 302
    assert response.url == reverse("dashboard")
    assert client.get(reverse("dashboard")).context["user"] == advisor


def test_a_wrong_password_shows_the_form_error(client, advisor):
    response = attempt(client, "alice", "wrong")
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_five_failures_lock_the_account_for_this_address(client, advisor):
    for _ in range(4):
        assert attempt(client, "alice", "wrong").status_code == 200
    assert attempt(client, "alice", "wrong").status_code == 429

    sixth = attempt(client, "alice", "wrong")
    assert sixth.status_code == 429
    assert "Account locked" in sixth.content.decode()
    assert "15 minutes" in sixth.content.decode()
    # Even the right password is refused until the lock expires.
    assert attempt(client, "alice", PASSWORD).status_code == 429
    assert "_auth_user_id" not in client.session


def test_the_lock_is_per_account(client, advisor, other_advisor):
    for _ in range(5):
        attempt(client, "alice", "wrong")
    assert attempt(client, "bob", PASSWORD).status_code == 302


def test_the_lock_lifts_after_fifteen_minutes(client, advisor, time_machine):
    time_machine.move_to("2026-11-22 10:00Z")
    for _ in range(5):
        attempt(client, "alice", "wrong")
    time_machine.move_to("2026-11-22 10:16Z")
    assert attempt(client, "alice", PASSWORD).status_code == 302


def test_logout_is_a_post_and_ends_the_session(client, advisor):
    client.force_login(advisor)
    assert client.post(reverse("logout")).status_code == 302
    assert "_auth_user_id" not in client.session


def test_password_change_rejects_a_weak_password(client, advisor):
    client.force_login(advisor)
    response = client.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": "password", "new_password2": "password"},
    )
    assert response.status_code == 200
    assert "This password is too common." in response.content.decode()
    advisor.refresh_from_db()
    assert advisor.check_password(PASSWORD)


def test_password_change_accepts_a_strong_password(client, advisor):
    client.force_login(advisor)
    new = "a-much-longer-passphrase-2026"
    response = client.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
    )
    assert response.status_code == 302
    advisor.refresh_from_db()
    assert advisor.check_password(new)


def test_password_reset_mails_a_link_only_to_a_known_address(client, advisor, mailoutbox):
    response = client.post(reverse("password_reset"), {"email": "alice@example.com"})
    assert response.status_code == 302
    assert len(mailoutbox) == 1
    assert "/accounts/reset/" in mailoutbox[0].body
    client.post(reverse("password_reset"), {"email": "nobody@example.com"})
    assert len(mailoutbox) == 1


def test_the_reset_link_comes_from_base_url_not_the_host_header(
    client, advisor, mailoutbox, settings
):
    settings.CANDOR_BASE_URL = "https://candor.example.com"
    settings.ALLOWED_HOSTS = ["127.0.0.1", "candor.example.com"]

    client.post(
        reverse("password_reset"), {"email": "alice@example.com"}, HTTP_HOST="127.0.0.1:6666"
    )

    [mail] = mailoutbox
    assert "https://candor.example.com/accounts/reset/" in mail.body
    assert "6666" not in mail.body
    assert "127.0.0.1" not in mail.body
