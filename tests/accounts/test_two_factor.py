"""Two-factor sign-in: setting it up, logging in with a code or a recovery
code, the lockout, turning it off, and admins needing it (accounts/two_factor.py)."""

from __future__ import annotations

import datetime
import logging
import re
import threading

import pytest
import time_machine
from axes.models import AccessAttempt
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import two_factor
from accounts.models import ApiToken, RecoveryCode, RecoveryCodeDevice
from accounts.roles import Role
from advisory.letgo.services import letgo_propose
from advisory.models import LetGoCase
from tests.concurrency import postgresql_only, wait_until_another_waits
from tests.factories import PASSWORD, UserFactory
from tests.otp import SignedInClient, code_for, enroll

pytestmark = pytest.mark.django_db

START = datetime.datetime(2026, 11, 20, 9, 0, 0, tzinfo=datetime.UTC)
LOGIN, CODE = reverse("login"), reverse("login-code")
SETUP, TURN_OFF = reverse("two-factor-setup"), reverse("two-factor-turn-off")
NEW_CODES = reverse("two-factor-recovery-codes")


@pytest.fixture
def clock():
    """Frozen time; `clock.shift(30)` moves to the app's next code (a code is
    accepted once: the next log-in needs the next one)."""
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def log_in(browser: Client, user, next_url: str = ""):
    data = {"username": user.username, "password": PASSWORD}
    if next_url:
        data["next"] = next_url
    return browser.post(LOGIN, data)


def codes_on(page: bytes) -> list[str]:
    return re.findall(r"<li>([2-9a-z]{4}(?:-[2-9a-z]{4}){3})</li>", page.decode())


def signed_in_as(browser: Client):
    response = browser.get(reverse("profile"))
    return response.wsgi_request.user if response.status_code == 200 else None


@pytest.fixture
def case(acme, advisor, dispute) -> LetGoCase:
    return letgo_propose(
        acme,
        by=advisor,
        reason=LetGoCase.Reason.OVERRIDDEN_ADVICE,
        justification="Advice overridden again and again.",
        evidence=[dispute],
        notify=False,
    )


# --- Setting it up ---------------------------------------------------------------------


def test_setting_up_shows_the_qr_code_and_key_and_starts_only_once_confirmed(
    client, advisor, clock
):
    client.force_login(advisor)
    profile = client.get(reverse("profile")).content.decode()
    assert "Two-factor sign-in" in profile and "Set up two-factor sign-in" in profile

    page = client.get(SETUP)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'src="data:image/svg+xml' in html  # an <img>, no inline script or style
    secret = page.context["secret"]
    assert secret.replace(" ", "") in html.replace(" ", "")
    assert not two_factor.is_enrolled(advisor)  # not before the code confirms it

    wrong = client.post(SETUP, {"code": "000000" if code_for(secret) != "000000" else "111111"})
    assert wrong.status_code == 400
    assert "That code does not match" in wrong.content.decode()
    assert not two_factor.is_enrolled(advisor)

    clock.shift(2)  # the app's throttle after a wrong code
    done = client.post(SETUP, {"code": code_for(secret)})
    assert done.status_code == 200
    codes = codes_on(done.content)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert two_factor.is_enrolled(advisor)
    # Only hashes are kept.
    stored = set(RecoveryCode.objects.values_list("code_hash", flat=True))
    assert stored == {RecoveryCode.hash(code) for code in codes}
    assert not any(code.replace("-", "") in stored for code in codes)
    # The session that set it up is verified; the profile says it is on.
    profile = client.get(reverse("profile"))
    assert profile.wsgi_request.user.is_verified()
    assert "<strong>On.</strong>" in profile.content.decode()
    assert "10 of your recovery codes are unused" in profile.content.decode()


def test_after_setup_the_codes_page_leads_back_to_next(client, advisor, clock):
    client.force_login(advisor)
    secret = client.get(f"{SETUP}?next=/clients/").context["secret"]
    done = client.post(SETUP, {"code": code_for(secret), "next": "/clients/"})
    assert 'href="/clients/"' in done.content.decode()
    # An address elsewhere is not followed.
    other = UserFactory(username="olga", role=Role.ADVISOR)
    client.force_login(other)
    secret = client.get(SETUP).context["secret"]
    done = client.post(SETUP, {"code": code_for(secret), "next": "https://evil.example/"})
    assert "evil.example" not in done.content.decode()


def test_new_recovery_codes_invalidate_the_old_ones(client, advisor, clock):
    enroll(advisor)
    old = two_factor.issue_recovery_codes(advisor)
    client.force_login(advisor)
    response = client.post(NEW_CODES)
    new = codes_on(response.content)
    assert len(new) == 10 and not set(new) & set(old)
    assert RecoveryCodeDevice.objects.filter(user=advisor).count() == 1
    assert not two_factor.check_code(advisor, old[0]).ok
    assert two_factor.check_code(advisor, new[0]).ok


# --- Logging in ------------------------------------------------------------------------


def test_users_without_an_app_log_in_with_the_password_alone(client, advisor, manager):
    for user in (advisor, manager):
        browser = Client()
        response = log_in(browser, user)
        assert response.status_code == 302 and response["Location"] == reverse("dashboard")
        assert signed_in_as(browser) == user


def test_with_an_app_the_password_is_not_enough(manager, clock, caplog):
    device = enroll(manager)
    browser = Client()
    response = log_in(browser, manager, next_url="/clients/")
    assert response.status_code == 302 and response["Location"] == CODE
    assert signed_in_as(browser) is None  # not logged in yet
    assert browser.get("/clients/")["Location"].startswith(LOGIN)

    page = browser.get(CODE)
    assert page.status_code == 200 and "Enter your code" in page.content.decode()
    caplog.set_level(logging.INFO, logger="candor.security")
    code = code_for(device)
    response = browser.post(CODE, {"code": code})
    assert response.status_code == 302 and response["Location"] == "/clients/"
    user = signed_in_as(browser)
    assert user == manager and user.is_verified()
    events = [getattr(record, "event", None) for record in caplog.records]
    assert "two-factor code accepted (authenticator app)" in events
    assert "login succeeded" in events
    assert code not in caplog.text


def test_a_code_is_accepted_once(manager, clock):
    device = enroll(manager)
    first, second = Client(), Client()
    log_in(first, manager)
    log_in(second, manager)
    assert first.post(CODE, {"code": code_for(device)}).status_code == 302
    assert second.post(CODE, {"code": code_for(device)}).status_code == 400


def test_a_recovery_code_logs_in_once(advisor, clock):
    enroll(advisor)
    codes = two_factor.issue_recovery_codes(advisor)
    browser = Client()
    log_in(browser, advisor)
    response = browser.post(CODE, {"code": codes[3].upper().replace("-", " ")})
    assert response.status_code == 302
    assert signed_in_as(browser).is_verified()
    assert RecoveryCodeDevice.objects.get(user=advisor).remaining == 9

    again = Client()
    log_in(again, advisor)
    refused = again.post(CODE, {"code": codes[3]})
    assert refused.status_code == 400
    assert "That code is not right" in refused.content.decode()
    assert signed_in_as(again) is None


def test_the_code_page_without_a_password_first_sends_to_log_in(client):
    response = client.get(CODE)
    assert response.status_code == 302 and response["Location"] == LOGIN
    response = client.post(CODE, {"code": "123456"})
    assert response.status_code == 302 and response["Location"] == LOGIN


def test_the_code_step_expires(manager, clock):
    device = enroll(manager)
    browser = Client()
    log_in(browser, manager)
    clock.shift(two_factor.PENDING_SECONDS + 1)
    response = browser.post(CODE, {"code": code_for(device)})
    assert response.status_code == 302 and response["Location"] == LOGIN
    assert signed_in_as(browser) is None


def test_five_wrong_codes_lock_the_account_like_wrong_passwords(manager, clock, caplog):
    device = enroll(manager)
    right = code_for(device)
    wrong = "000000" if right != "000000" else "111111"
    browser = Client()
    log_in(browser, manager)
    caplog.set_level(logging.INFO, logger="candor.security")
    for _attempt in range(4):
        assert browser.post(CODE, {"code": wrong}).status_code == 400
        clock.shift(60)  # beyond the app's own throttle
    locked = browser.post(CODE, {"code": wrong})
    assert locked.status_code == 429
    assert "Account locked" in locked.content.decode()
    # The right password and then the right code are refused now too.
    clock.shift(1)
    fresh = Client()
    assert log_in(fresh, manager).status_code == 429
    assert signed_in_as(fresh) is None
    # Logged, without the code; axes did not store it either.
    assert sum(getattr(r, "event", None) == "two-factor code refused" for r in caplog.records) == 5
    assert any(getattr(r, "event", None) == "locked out" for r in caplog.records)
    assert wrong not in caplog.text
    attempt = AccessAttempt.objects.get(username=manager.username)
    assert attempt.failures_since_start >= 5
    assert wrong not in attempt.post_data


# --- Admins need it --------------------------------------------------------------------


def test_an_admin_without_an_app_is_sent_to_set_it_up_and_brought_back(client, admin, case):
    client.force_login(admin, verified=False)
    decide = reverse("letgo-decide", args=[case.pk])
    response = client.post(decide, {"version": case.version, "note": "Clear.", "approve": "1"})
    back = reverse("letgo-detail", args=[case.pk])
    assert response.status_code == 302
    assert response["Location"] == f"{SETUP}?next={back.replace('/', '%2F')}"
    case.refresh_from_db()
    assert case.status == LetGoCase.Status.PROPOSED  # nothing decided
    page = client.get(response["Location"])
    assert "Admins must use two-factor sign-in to decide let-go cases" in page.content.decode()

    done = client.post(SETUP, {"code": code_for(page.context["secret"]), "next": back})
    assert f'href="{back}"' in done.content.decode()
    # Confirmed (letgo_confirm.html's form): the decision is made now.
    confirmed = {"version": case.version, "note": "Clear.", "approve": "1", "confirm": "1"}
    response = client.post(decide, confirmed)
    assert response.status_code == 302 and response["Location"] == back
    case.refresh_from_db()
    assert case.status == LetGoCase.Status.APPROVED


@pytest.mark.parametrize(
    "name", ["letgo-decide", "letgo-offboarding", "letgo-complete", "client-reinstate"]
)
def test_every_letgo_decision_needs_a_verified_session(client, admin, case, name):
    client.force_login(admin, verified=False)
    pk = case.client_id if name == "client-reinstate" else case.pk
    response = client.post(reverse(name, args=[pk]), {"version": case.version})
    assert response.status_code == 302 and response["Location"].startswith(SETUP)


def test_the_django_admin_needs_a_verified_session(client, admin, advisor):
    client.force_login(admin, verified=False)
    for url in (
        reverse("admin:index"),
        reverse("admin:accounts_user_change", args=[advisor.pk]),
        reverse("admin:accounts_user_changelist"),
    ):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(SETUP), url
    # Through the admin's own log-in page too: it never logs in with a password alone.
    response = client.get(reverse("admin:login"))
    assert response["Location"].startswith(SETUP)


def test_an_admin_with_an_app_but_an_unverified_session_enters_a_code(client, admin, clock):
    device = enroll(admin)
    client.force_login(admin, verified=False)
    url = reverse("admin:accounts_user_changelist")
    response = client.get(url)
    assert response["Location"] == f"{CODE}?next={url.replace('/', '%2F')}"
    response = client.post(CODE, {"code": code_for(device), "next": url})
    assert response.status_code == 302 and response["Location"] == url
    assert client.get(url).status_code == 200


def test_the_admin_login_page_sends_to_the_sites_log_in(client):
    response = client.get(reverse("admin:login"))
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)
    response = client.post(reverse("admin:login"), {"username": "x", "password": "y"})
    assert response["Location"].startswith(LOGIN)


def test_a_verified_admin_decides(client, admin, case):
    client.force_login(admin)  # tests/otp.py: enrolled and verified
    response = client.post(
        reverse("letgo-decide", args=[case.pk]),
        {"version": case.version, "note": "Clear.", "approve": "1", "confirm": "1"},
    )
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.status == LetGoCase.Status.APPROVED


def test_the_api_cannot_decide_letgo_cases(client, admin, case):
    # Decisions are made on the pages only, behind two-factor sign-in: the API's
    # let-go endpoints are read-only, whoever calls them.
    client.force_login(admin)
    detail = reverse("api:letgo-case-detail", args=[case.pk])
    for method in ("post", "put", "patch", "delete"):
        url = reverse("api:letgo-case-list") if method == "post" else detail
        response = getattr(client, method)(url, {}, content_type="application/json")
        assert response.status_code == 405, method
    case.refresh_from_db()
    assert case.status == LetGoCase.Status.PROPOSED


def test_deleting_a_lost_app_in_the_admin_resets_two_factor(client, admin, manager):
    device = enroll(manager)
    two_factor.issue_recovery_codes(manager)
    client.force_login(admin)
    response = client.post(
        reverse("admin:otp_totp_totpdevice_delete", args=[device.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    assert not two_factor.is_enrolled(manager)
    assert not RecoveryCodeDevice.objects.filter(user=manager).exists()
    # The admin cannot add or change apps (that would let them pick someone's key).
    assert client.get(reverse("admin:otp_totp_totpdevice_add")).status_code == 403


# --- Turning it off --------------------------------------------------------------------


def test_turning_it_off_takes_the_password_or_a_code(client, manager, clock):
    enroll(manager)
    client.force_login(manager)
    assert client.get(TURN_OFF).status_code == 200
    refused = client.post(TURN_OFF, {"code": "not-my-password"})
    assert refused.status_code == 400
    assert two_factor.is_enrolled(manager)
    response = client.post(TURN_OFF, {"code": PASSWORD})
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=manager).exists()
    assert not RecoveryCodeDevice.objects.filter(user=manager).exists()
    # The password alone logs in again.
    browser = Client()
    assert log_in(browser, manager)["Location"] == reverse("dashboard")


def test_turning_it_off_with_a_current_code(client, advisor, clock):
    device = enroll(advisor)
    client.force_login(advisor)
    clock.shift(30)
    assert client.post(TURN_OFF, {"code": code_for(device)}).status_code == 302
    assert not two_factor.is_enrolled(advisor)


def test_wrong_passwords_on_the_turn_off_page_count_towards_the_lockout(client, advisor):
    enroll(advisor)
    client.force_login(advisor)
    for _attempt in range(4):
        assert client.post(TURN_OFF, {"code": "guess"}).status_code == 400
    assert client.post(TURN_OFF, {"code": "guess"}).status_code == 429
    assert client.post(TURN_OFF, {"code": PASSWORD}).status_code == 429
    assert two_factor.is_enrolled(advisor)


def test_an_admin_cannot_turn_it_off(client, admin):
    client.force_login(admin)
    response = client.post(TURN_OFF, {"code": PASSWORD})
    assert response.status_code == 302
    assert two_factor.is_enrolled(admin)
    page = client.get(response["Location"]).content.decode()
    assert "Admins must keep two-factor sign-in" in page
    assert TURN_OFF not in page  # no button offering it


def test_an_unverified_session_cannot_change_it(client, advisor):
    enroll(advisor)
    client.force_login(advisor, verified=False)
    for url in (TURN_OFF, SETUP):
        assert client.get(url)["Location"].startswith(CODE), url
    assert client.post(NEW_CODES)["Location"].startswith(CODE)
    assert client.post(TURN_OFF, {"code": PASSWORD})["Location"].startswith(CODE)
    assert two_factor.is_enrolled(advisor)


# --- CSRF ------------------------------------------------------------------------------


def test_posts_without_a_csrf_token_are_refused(advisor, manager, clock):
    device = enroll(manager)
    codes = two_factor.issue_recovery_codes(manager)
    browser = SignedInClient(enforce_csrf_checks=True)
    browser.force_login(manager)
    for url, data in (
        (NEW_CODES, {}),
        (TURN_OFF, {"code": PASSWORD}),
        (SETUP, {"code": code_for(device)}),
    ):
        assert browser.post(url, data).status_code == 403, url
    assert two_factor.is_enrolled(manager)
    # The recovery codes were neither replaced nor removed.
    assert set(RecoveryCode.objects.values_list("code_hash", flat=True)) == {
        RecoveryCode.hash(code) for code in codes
    }

    anonymous = Client(enforce_csrf_checks=True)
    session = anonymous.session
    two_factor_state = {"user_id": manager.pk, "backend": "x", "next": "/", "started": 0}
    session[two_factor.PENDING_KEY] = two_factor_state
    session.save()
    assert anonymous.post(CODE, {"code": code_for(device)}).status_code == 403


# --- Every page, once it is set up -------------------------------------------------------


def test_an_unverified_session_with_an_app_needs_the_code_for_every_page(client, advisor, clock):
    device = enroll(advisor)
    client.force_login(advisor, verified=False)
    for url in ("/clients/", reverse("dashboard"), reverse("profile")):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"] == f"{CODE}?next={url.replace('/', '%2F')}", url
    # A form sent without the code changes nothing and leads back to its page.
    response = client.post(NEW_CODES, HTTP_REFERER="http://testserver/accounts/profile/")
    assert response["Location"] == f"{CODE}?next=%2Faccounts%2Fprofile%2F"
    assert not RecoveryCodeDevice.objects.filter(user=advisor).exists()
    # The code page, logging out and the health check stay open.
    assert client.get(CODE).status_code == 200
    assert client.get(reverse("healthz")).status_code == 200
    response = client.post(CODE, {"code": code_for(device), "next": "/clients/"})
    assert response["Location"] == "/clients/"
    assert client.get("/clients/").status_code == 200
    client.post(reverse("logout"))
    assert signed_in_as(client) is None


def test_a_session_opened_before_the_app_was_set_up_needs_the_code(advisor, clock):
    stolen = Client()
    log_in(stolen, advisor)  # the password alone, before the app
    assert stolen.get("/clients/").status_code == 200
    enroll(advisor)  # set up in another browser
    clock.shift(61)  # noticed within a minute
    assert stolen.get("/clients/")["Location"].startswith(CODE)


def test_a_session_verified_by_a_replaced_app_needs_the_new_code(client, advisor, clock):
    old = enroll(advisor)
    client.force_login(advisor)
    assert client.get("/clients/").status_code == 200
    old.delete()
    new = enroll(advisor, key="00" * 20)
    assert client.get("/clients/")["Location"].startswith(CODE)
    client.post(CODE, {"code": code_for(new)})
    assert client.get("/clients/").status_code == 200


def test_the_api_refuses_an_unverified_session_but_takes_tokens(client, advisor):
    enroll(advisor)
    client.force_login(advisor, verified=False)
    url = reverse("api:client-list")
    response = client.get(url)
    assert response.status_code == 403
    assert "two-factor" in response.json()["detail"]
    _token, secret = ApiToken.objects.issue(user=advisor, name="Script")
    assert client.get(url, HTTP_AUTHORIZATION=f"Bearer {secret}").status_code == 200


def test_pages_cost_no_query_for_people_without_an_app(client, advisor):
    client.force_login(advisor)
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/clients/").status_code == 200
    assert not [q for q in queries if "otp_totp" in q["sql"]]


# --- Recovery codes ----------------------------------------------------------------------


def test_new_codes_keep_a_session_verified_by_a_recovery_code(advisor, clock):
    enroll(advisor)
    codes = two_factor.issue_recovery_codes(advisor)
    browser = Client()
    log_in(browser, advisor)
    browser.post(CODE, {"code": codes[0]})
    new = codes_on(browser.post(NEW_CODES).content)
    assert len(new) == 10
    user = signed_in_as(browser)
    assert user == advisor and user.is_verified()


def test_one_set_of_recovery_codes_per_person(advisor):
    two_factor.issue_recovery_codes(advisor)
    with pytest.raises(IntegrityError), transaction.atomic():
        RecoveryCodeDevice.objects.create(user=advisor, name="Recovery codes")


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_two_new_sets_at_once_take_turns_and_the_later_one_works():
    person = UserFactory(role="")  # no role groups: a flush may have removed them
    failed, issued = [], []

    def issue_meanwhile() -> None:
        try:
            issued.append(two_factor.issue_recovery_codes(person))
        except Exception as exc:  # reported below
            failed.append(exc)
        finally:
            connection.close()

    with transaction.atomic():
        first = two_factor.issue_recovery_codes(person)
        other = threading.Thread(target=issue_meanwhile)
        other.start()
        wait_until_another_waits("the second set")

    other.join()
    assert failed == []
    [device] = RecoveryCodeDevice.objects.filter(user=person)
    [later] = issued
    assert device.verify_token(later[0])
    assert not device.verify_token(first[0])


# --- The security log and the lockout ------------------------------------------------------


def test_a_wrong_code_is_logged_once(manager, clock, caplog):
    device = enroll(manager)
    browser = Client()
    log_in(browser, manager)
    caplog.set_level(logging.INFO, logger="candor.security")
    wrong = "000000" if code_for(device) != "000000" else "111111"
    assert browser.post(CODE, {"code": wrong}).status_code == 400
    events = [getattr(record, "event", None) for record in caplog.records]
    assert events.count("two-factor code refused") == 1
    assert "login failed" not in events
    # A wrong password still is.
    Client().post(LOGIN, {"username": manager.username, "password": "wrong"})
    assert "login failed" in [getattr(record, "event", None) for record in caplog.records]


def test_codes_the_app_did_not_check_are_no_strike(manager, clock):
    device = enroll(manager)
    browser = Client()
    log_in(browser, manager)
    wrong = "000000" if code_for(device) != "000000" else "111111"
    assert browser.post(CODE, {"code": wrong}).status_code == 400
    for _attempt in range(5):  # too soon after a wrong code: the app refuses to check
        response = browser.post(CODE, {"code": wrong})
        assert "Too many wrong codes: wait" in response.content.decode()
    assert AccessAttempt.objects.get(username=manager.username).failures_since_start == 1
