"""Notifications, the services and jobs: each trigger tells exactly the right
people once; reminders, summaries and digests are safe to run twice; the
preferences decide the channel; a mail failure is logged, retried and never
undoes the change that caused it."""

from __future__ import annotations

import datetime

import pytest
from django.core.management import call_command
from django.utils import timezone
from huey.contrib.djhuey import HUEY

from accounts.roles import Role
from advisory.health.services import health_refresh
from advisory.letgo.services import letgo_decide, letgo_propose
from advisory.models import (
    Band,
    Client,
    Delivery,
    Disagreement,
    HealthSnapshot,
    Notification,
    NotificationKind,
)
from advisory.notifications import digest, preferences, tasks, triggers
from advisory.notifications.tasks import send_notification_email
from advisory.records.services import disagreement_log
from tests.factories import ClientFactory, DisagreementFactory, EngagementFactory, UserFactory

pytestmark = pytest.mark.django_db

Kind = NotificationKind
TODAY = timezone.localdate


def days_ago(n: int) -> datetime.date:
    return TODAY() - datetime.timedelta(days=n)


def sent(mailoutbox) -> list[tuple[str, str]]:
    """(recipient, subject) of every e-mail sent, sorted."""
    return sorted((m.to[0], m.subject) for m in mailoutbox)


def told(kind: str) -> list[str]:
    """Usernames notified of `kind`, sorted."""
    return sorted(
        Notification.objects.filter(kind=kind).values_list("recipient__username", flat=True)
    )


def log_hostile(engagement, by, title: str = "Threatened to walk out") -> Disagreement:
    """A critical, hostile disagreement: the guardrail makes the band adversarial."""
    d = DisagreementFactory.build(
        engagement=engagement,
        client=engagement.client,
        title=title,
        severity=Disagreement.Severity.CRITICAL,
        tone=Disagreement.Tone.HOSTILE,
        occurred_on=days_ago(1),
    )
    return disagreement_log(d, by=by)


@pytest.fixture
def scored(acme, dispute) -> Client:
    """Acme with its stored band (healthy) computed."""
    health_refresh(acme)
    acme.refresh_from_db()
    assert acme.health_band == Band.HEALTHY
    return acme


@pytest.fixture
def other_manager(other_team):
    user = UserFactory(username="frank", first_name="Frank", role=Role.MANAGER, team=other_team)
    other_team.managers.add(user)
    return user


# --- Band worsened --------------------------------------------------------------------


def test_a_worsened_band_tells_the_lead_advisor_and_the_teams_managers_once(
    scored,
    acme_engagement,
    advisor,
    manager,
    admin,
    other_advisor,
    other_manager,
    mailoutbox,
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        log_hostile(acme_engagement, advisor)

    assert told(Kind.BAND_WORSENED) == ["alice", "charlie"]
    assert sent(mailoutbox) == [
        ("alice@example.com", "Acme Holdings is now Adversarial"),
        ("charlie@example.com", "Acme Holdings is now Adversarial"),
    ]
    notification = Notification.objects.get(recipient=advisor)
    assert notification.client == acme_engagement.client
    assert notification.url == acme_engagement.client.get_absolute_url()
    assert "from Healthy to Adversarial" in notification.body
    assert notification.emailed_at is not None


def test_more_edits_the_same_day_add_no_notification(
    scored, acme_engagement, advisor, manager, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        log_hostile(acme_engagement, advisor)
    with django_capture_on_commit_callbacks(execute=True):
        log_hostile(acme_engagement, advisor, title="And again")
        # Back to healthy and adversarial again on the same day: the same change.
        Client.objects.filter(pk=scored.pk).update(health_band=Band.HEALTHY)
        log_hostile(acme_engagement, manager, title="Third time")

    assert Notification.objects.count() == 2
    assert len(mailoutbox) == 2


def test_strained_then_adversarial_are_two_changes(
    scored, acme_engagement, advisor, manager, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        triggers.band_worsened(scored, before=Band.HEALTHY, after=Band.STRAINED, score=60)
        triggers.band_worsened(scored, before=Band.STRAINED, after=Band.ADVERSARIAL, score=30)

    titles = sorted(Notification.objects.filter(recipient=advisor).values_list("title", flat=True))
    assert titles == ["Acme Holdings is now Adversarial", "Acme Holdings is now Strained"]


@pytest.mark.parametrize(
    "stored",
    [
        Band.ADVERSARIAL,  # better now
        Band.STRAINED,  # better now
        Band.HEALTHY,  # the same
        "",  # a first score, healthy as before
    ],
)
def test_a_band_that_does_not_worsen_tells_nobody(scored, manager, stored):
    # Acme's one moderate disagreement scores healthy, whatever was stored.
    Client.objects.filter(pk=scored.pk).update(health_band=stored, health_score=None)

    health_refresh(scored)

    scored.refresh_from_db()
    assert scored.health_band == Band.HEALTHY
    assert not Notification.objects.exists()


def test_nobody_outside_the_clients_scope_is_told(
    scored, acme_engagement, advisor, manager, team, django_capture_on_commit_callbacks
):
    # An advisor listed as a team manager by mistake does not see the team's
    # clients, so is not told about them; nor is a manager who has left.
    misplaced = UserFactory(username="gus", role=Role.ADVISOR)
    gone = UserFactory(username="hal", role=Role.MANAGER, is_active=False)
    team.managers.add(misplaced, gone)

    with django_capture_on_commit_callbacks(execute=True):
        log_hostile(acme_engagement, advisor)

    assert told(Kind.BAND_WORSENED) == ["alice", "charlie"]


def test_the_nightly_recompute_tells_of_a_band_that_worsened_once(
    scored, acme_engagement, advisor, manager, mailoutbox, django_capture_on_commit_callbacks
):
    DisagreementFactory(
        engagement=acme_engagement,
        severity=Disagreement.Severity.CRITICAL,
        tone=Disagreement.Tone.HOSTILE,
        occurred_on=days_ago(2),
    )  # written without the services, e.g. by a bulk load

    with django_capture_on_commit_callbacks(execute=True):
        call_command("recompute_health", stdout=None)
        call_command("recompute_health", stdout=None)

    assert told(Kind.BAND_WORSENED) == ["alice", "charlie"]
    assert len(mailoutbox) == 2


# --- Let-go ---------------------------------------------------------------------------


def test_a_proposal_tells_the_active_admins_and_a_decision_the_proposer_and_lead(
    acme, advisor, manager, admin, dispute, mailoutbox, django_capture_on_commit_callbacks
):
    other_admin = UserFactory(username="erin", role=Role.ADMIN)
    UserFactory(username="gone", role=Role.ADMIN, is_active=False)
    UserFactory(username="mute", role=Role.ADMIN, email="")

    with django_capture_on_commit_callbacks(execute=True):
        case = letgo_propose(
            acme, by=manager, reason="hostile_conduct", justification="Abuse.", evidence=[dispute]
        )
    assert told(Kind.LETGO_PROPOSED) == ["dana", "erin", "mute"]  # mute: in Candor only
    assert sent(mailoutbox) == [
        ("dana@example.com", "Let-go proposed: Acme Holdings"),
        (other_admin.email, "Let-go proposed: Acme Holdings"),
    ]

    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        letgo_decide(case, by=admin, approve=False, note="Not yet.")
    assert told(Kind.LETGO_DECIDED) == ["alice", "charlie"]
    assert sent(mailoutbox) == [
        ("alice@example.com", "Let-go declined: Acme Holdings"),
        ("charlie@example.com", "Let-go declined: Acme Holdings"),
    ]


def test_a_refused_let_go_transition_tells_nobody(acme, advisor, admin, dispute):
    letgo_propose(acme, by=advisor, reason="other", justification="x", evidence=[dispute])
    before = Notification.objects.count()

    with pytest.raises(Exception, match="already"):
        letgo_propose(acme, by=advisor, reason="other", justification="x", evidence=[dispute])

    assert Notification.objects.count() == before


# --- Reminders ------------------------------------------------------------------------


def test_a_follow_up_that_falls_due_reminds_the_advisor_once(
    dispute, advisor, manager, mailoutbox, django_capture_on_commit_callbacks
):
    Disagreement.objects.filter(pk=dispute.pk).update(follow_up_on=TODAY())
    DisagreementFactory(engagement=dispute.engagement, follow_up_on=TODAY() + datetime.timedelta(1))
    closed = DisagreementFactory(
        engagement=dispute.engagement,
        follow_up_on=days_ago(3),
        decision=Disagreement.Decision.WITHDREW,
        decided_on=days_ago(5),
    )

    with django_capture_on_commit_callbacks(execute=True):
        call_command("notify", "reminders", stdout=None)
        call_command("notify", "reminders", stdout=None)

    [reminder] = Notification.objects.all()
    assert (reminder.recipient, reminder.kind) == (advisor, Kind.FOLLOW_UP_DUE)
    assert reminder.title == f"Follow-up due: {dispute.title}"
    assert reminder.delivery == Delivery.DAILY
    assert mailoutbox == []  # the default for reminders is the daily summary
    assert not Notification.objects.filter(url=closed.get_absolute_url()).exists()


def test_a_new_follow_up_date_is_a_new_reminder(dispute, advisor):
    Disagreement.objects.filter(pk=dispute.pk).update(follow_up_on=days_ago(7))
    triggers.remind_follow_ups()
    Disagreement.objects.filter(pk=dispute.pk).update(follow_up_on=TODAY())
    triggers.remind_follow_ups()

    assert Notification.objects.filter(kind=Kind.FOLLOW_UP_DUE).count() == 2


def test_an_old_backlog_is_not_reminded_all_at_once(acme_engagement, settings):
    catch_up = settings.CANDOR_NOTIFICATIONS["catch_up_days"]
    grace = settings.CANDOR_NOTIFICATIONS["acknowledgment_grace_days"]
    DisagreementFactory(
        engagement=acme_engagement, occurred_on=days_ago(400), follow_up_on=days_ago(catch_up + 1)
    )
    proceeded(acme_engagement, decided=days_ago(grace + catch_up + 1))

    assert triggers.remind_follow_ups() == 0
    assert triggers.remind_missing_acknowledgments() == 0


def test_a_let_go_clients_follow_ups_remind_nobody(dispute):
    Disagreement.objects.filter(pk=dispute.pk).update(follow_up_on=TODAY())
    Client.objects.filter(pk=dispute.client_id).update(status=Client.Status.LET_GO)

    assert triggers.remind_follow_ups() == 0


def test_a_reminder_goes_to_the_engagement_lead_once_the_logger_has_left(acme_engagement, advisor):
    leaver = UserFactory(username="ivy", team=acme_engagement.client.team)
    acme_engagement.members.add(leaver)
    d = DisagreementFactory(engagement=acme_engagement, logged_by=leaver, follow_up_on=TODAY())
    leaver.is_active = False
    leaver.save()

    triggers.remind_follow_ups()

    assert told(Kind.FOLLOW_UP_DUE) == ["alice"]
    assert Notification.objects.get().url == d.get_absolute_url()


def proceeded(engagement, *, decided: datetime.date, **extra) -> Disagreement:
    return DisagreementFactory(
        engagement=engagement,
        occurred_on=days_ago(20),
        decision=Disagreement.Decision.PROCEEDED,
        decided_on=decided,
        **extra,
    )


def test_an_acknowledgment_missing_after_a_week_reminds_the_advisor_once(
    acme_engagement, advisor, manager
):
    late = proceeded(acme_engagement, decided=days_ago(7), title="Late")
    proceeded(acme_engagement, decided=days_ago(6), title="Within the week")
    proceeded(
        acme_engagement,
        decided=days_ago(10),
        title="Acknowledged",
        risk_acknowledged=True,
        acknowledged_on=days_ago(9),
        acknowledgment_method="email",
        client_words="We understand the risk.",
    )

    assert triggers.remind_missing_acknowledgments() == 1
    assert triggers.remind_missing_acknowledgments() == 0

    [reminder] = Notification.objects.all()
    assert (reminder.recipient, reminder.kind) == (advisor, Kind.ACKNOWLEDGMENT_MISSING)
    assert reminder.title == "Acknowledgment still missing: Late"
    assert reminder.url == late.get_absolute_url()


# --- Daily summary --------------------------------------------------------------------


def test_the_daily_summary_sends_what_waits_once(
    dispute, acme_engagement, advisor, mailoutbox, django_capture_on_commit_callbacks
):
    Disagreement.objects.filter(pk=dispute.pk).update(follow_up_on=TODAY())
    proceeded(acme_engagement, decided=days_ago(8), title="Late")
    triggers.remind_follow_ups()
    triggers.remind_missing_acknowledgments()

    call_command("notify", "summaries", stdout=None)
    call_command("notify", "summaries", stdout=None)

    [mail] = mailoutbox
    assert mail.to == ["alice@example.com"]
    assert mail.subject == "Candor: 2 things to look at"
    assert f"Follow-up due: {dispute.title}" in mail.body
    assert "Acknowledgment still missing: Late" in mail.body
    assert "http://testserver" not in mail.body
    html, mimetype = mail.alternatives[0]
    assert mimetype == "text/html"
    assert "Acknowledgment still missing: Late" in html
    assert not Notification.objects.awaiting_summary().exists()


def test_a_failed_summary_is_kept_for_the_retry(dispute, advisor, mailoutbox, monkeypatch, caplog):
    Disagreement.objects.filter(pk=dispute.pk).update(follow_up_on=TODAY())
    triggers.remind_follow_ups()
    monkeypatch.setattr("django.core.mail.backends.locmem.EmailBackend.send_messages", broken)

    tasks.send_daily_summaries()

    assert Notification.objects.awaiting_summary().count() == 1
    assert f"Could not send the daily summary for user {advisor.pk}" in caplog.text
    assert len(HUEY.scheduled()) == 1


# --- Weekly digest --------------------------------------------------------------------


def test_the_weekly_digest_tells_each_manager_about_their_teams_only_once(
    acme,
    acme_engagement,
    dispute,
    advisor,
    manager,
    other_advisor,
    other_manager,
    mailoutbox,
    django_capture_on_commit_callbacks,
):
    today = TODAY()
    start, end = digest.digest_period(today)
    HealthSnapshot.objects.create(
        client=acme, date=start - datetime.timedelta(3), score=80, band="healthy"
    )
    HealthSnapshot.objects.create(client=acme, date=end, score=55, band="strained")
    overridden = proceeded(acme_engagement, decided=end, title="Skipped the stock count")
    Disagreement.objects.filter(pk=overridden.pk).update(occurred_on=start)
    outcome = DisagreementFactory(
        engagement=acme_engagement,
        occurred_on=start,
        decision=Disagreement.Decision.ACCEPTED,
        decided_on=start,
        verdict=Disagreement.Verdict.ADVICE_VINDICATED,
        outcome="It went as advised.",
        outcome_recorded_on=end,
        title="Priced the fee in advance",
    )
    letgo_propose(
        acme, by=advisor, reason="other", justification="x", evidence=[dispute], notify=False
    )
    # Elsewhere: another team's client, and last month's news.
    elsewhere = ClientFactory(name="Beacon Trust", lead_advisor=other_advisor)
    EngagementFactory(client=elsewhere)
    old = proceeded(acme_engagement, decided=start - datetime.timedelta(days=1), title="Old news")

    with django_capture_on_commit_callbacks(execute=True):
        call_command("notify", "digest", stdout=None)
        call_command("notify", "digest", stdout=None)

    [sent] = Notification.objects.filter(kind=Kind.WEEKLY_DIGEST)
    assert sent.recipient == manager
    assert sent.body.startswith(f"What happened from {start:%-d %b} to {end:%-d %b %Y} in ")
    assert "in Corporate Advisory." in sent.body
    assert "Acme Holdings: Healthy → Strained" in sent.body
    assert f"Acme Holdings: {overridden.title}" in sent.body
    assert f"Acme Holdings: {outcome.title} — Advice vindicated" in sent.body
    assert "Open let-go cases (1)" in sent.body
    assert old.title not in sent.body
    assert "Beacon Trust" not in sent.body
    [mail] = mailoutbox
    assert mail.to == ["charlie@example.com"]
    assert mail.subject.startswith("Weekly digest: ")
    assert "Acme Holdings: Healthy → Strained" in mail.body


def test_a_quiet_week_sends_no_digest(manager, acme):
    assert digest.send_weekly_digests() == 0


def test_the_digest_covers_the_last_full_week():
    monday = datetime.date(2026, 11, 23)
    assert digest.digest_period(monday) == (
        datetime.date(2026, 11, 16),
        datetime.date(2026, 11, 22),
    )
    assert digest.digest_period(monday + datetime.timedelta(days=6)) == (
        datetime.date(2026, 11, 16),
        datetime.date(2026, 11, 22),
    )


# --- Preferences ----------------------------------------------------------------------


def test_in_candor_only_sends_no_email(
    scored, acme_engagement, advisor, manager, mailoutbox, django_capture_on_commit_callbacks
):
    preferences.preference_set(user=advisor, kind=Kind.BAND_WORSENED, delivery=Delivery.IN_APP)

    with django_capture_on_commit_callbacks(execute=True):
        log_hostile(acme_engagement, advisor)

    assert told(Kind.BAND_WORSENED) == ["alice", "charlie"]
    assert [m.to for m in mailoutbox] == [["charlie@example.com"]]


def test_the_daily_summary_choice_holds_the_email_until_the_summary(
    scored, acme_engagement, advisor, manager, mailoutbox, django_capture_on_commit_callbacks
):
    preferences.preference_set(user=advisor, kind=Kind.BAND_WORSENED, delivery=Delivery.DAILY)

    with django_capture_on_commit_callbacks(execute=True):
        log_hostile(acme_engagement, advisor)
    assert [m.to for m in mailoutbox] == [["charlie@example.com"]]

    tasks.send_daily_summaries()

    assert [m.to for m in mailoutbox][1:] == [["alice@example.com"]]
    assert "Acme Holdings is now Adversarial" in mailoutbox[1].body


def test_the_follow_up_reminder_can_be_an_immediate_email(
    dispute, advisor, mailoutbox, django_capture_on_commit_callbacks
):
    preferences.preference_set(user=advisor, kind=Kind.FOLLOW_UP_DUE, delivery=Delivery.IMMEDIATE)
    Disagreement.objects.filter(pk=dispute.pk).update(follow_up_on=TODAY())

    with django_capture_on_commit_callbacks(execute=True):
        triggers.remind_follow_ups()

    assert sent(mailoutbox) == [("alice@example.com", f"Follow-up due: {dispute.title}")]


def test_switching_to_in_candor_only_stops_the_emails_already_waiting(dispute, advisor, mailoutbox):
    Disagreement.objects.filter(pk=dispute.pk).update(follow_up_on=TODAY())
    triggers.remind_follow_ups()

    preferences.preference_set(user=advisor, kind=Kind.FOLLOW_UP_DUE, delivery=Delivery.IN_APP)
    tasks.send_daily_summaries()

    assert mailoutbox == []


def test_defaults_apply_without_a_choice(advisor):
    assert preferences.preferences_for(advisor) == preferences.DEFAULT_DELIVERY


# --- E-mail ---------------------------------------------------------------------------


def broken(*args, **kwargs):
    raise ConnectionRefusedError("SMTP is down")


def test_a_failing_mail_backend_leaves_the_disagreement_saved_and_retries(
    scored,
    acme_engagement,
    advisor,
    manager,
    monkeypatch,
    caplog,
    mailoutbox,
    django_capture_on_commit_callbacks,
):
    monkeypatch.setattr("django.core.mail.backends.locmem.EmailBackend.send_messages", broken)

    with django_capture_on_commit_callbacks(execute=True):
        saved = log_hostile(acme_engagement, advisor)

    assert Disagreement.objects.filter(pk=saved.pk, title="Threatened to walk out").exists()
    told_ = Notification.objects.filter(kind=Kind.BAND_WORSENED).order_by("recipient__username")
    assert [(n.emailed_at, n.email_attempts) for n in told_] == [(None, 1), (None, 1)]
    for n in told_:
        assert f"Could not send the e-mail for notification {n.pk} (attempt 1)" in caplog.text
    assert "alice@example.com" not in caplog.text  # no addresses (or bodies) in the log
    # The retries wait in the queue, a minute later.
    retries = HUEY.scheduled()
    assert len(retries) == 2
    assert all(
        task.eta > datetime.datetime.now(datetime.UTC).replace(tzinfo=None) for task in retries
    )

    # The mail server is back: the retry sends it, once.
    monkeypatch.undo()
    notification = told_[0]
    assert send_notification_email.call(notification_id=notification.pk, attempt=2) == "sent"
    assert send_notification_email.call(notification_id=notification.pk, attempt=3) == (
        "nothing to send"
    )
    assert [m.to for m in mailoutbox] == [["alice@example.com"]]


def test_the_task_gives_up_after_the_last_attempt(scored, advisor, monkeypatch, caplog, settings):
    [notification] = triggers.notify(
        kind=Kind.BAND_WORSENED,
        event_key="test",
        recipients=[advisor],
        title="Test",
        client=scored,
    )
    monkeypatch.setattr("django.core.mail.backends.locmem.EmailBackend.send_messages", broken)
    last = len(settings.CANDOR_NOTIFICATIONS["email_retry_delays"]) + 1

    result = send_notification_email.call(notification_id=notification.pk, attempt=last)

    assert result == "failed"
    assert HUEY.scheduled() == []
    assert f"Giving up on the e-mail for notification {notification.pk}" in caplog.text


def test_the_email_has_text_html_absolute_links_and_one_click_unsubscribe(
    scored, acme_engagement, advisor, mailoutbox, django_capture_on_commit_callbacks, settings
):
    settings.CANDOR_BASE_URL = "https://candor.example.com"
    with django_capture_on_commit_callbacks(execute=True):
        log_hostile(acme_engagement, advisor)

    [mail] = [m for m in mailoutbox if m.to == ["alice@example.com"]]
    link = f"https://candor.example.com/clients/{scored.pk}/"
    assert f"Open it in Candor: {link}" in mail.body
    html, mimetype = mail.alternatives[0]
    assert mimetype == "text/html"
    assert f'href="{link}"' in html
    unsubscribe = mail.extra_headers["List-Unsubscribe"]
    assert unsubscribe.startswith("<https://candor.example.com/notifications/unsubscribe/")
    assert unsubscribe.strip("<>") in mail.body
    assert mail.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_nothing_is_queued_when_the_change_rolls_back(
    scored, acme_engagement, advisor, manager, mailoutbox, django_capture_on_commit_callbacks
):
    from django.db import transaction

    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        log_hostile(acme_engagement, advisor)
        transaction.set_rollback(True)

    assert not Notification.objects.exists()
    assert mailoutbox == []


def test_the_tasks_run_on_hueys_backend(settings):
    assert settings.TASKS["default"]["BACKEND"] == "huey.contrib.djhuey.tasks_backend.HueyBackend"
    assert HUEY.immediate


def test_someone_without_an_address_by_sending_time_is_not_marked_emailed(scored, advisor):
    [notification] = triggers.notify(
        kind=Kind.BAND_WORSENED, event_key="test", recipients=[advisor], title="Test", client=scored
    )
    advisor.email = ""
    advisor.save()

    assert send_notification_email.call(notification_id=notification.pk) == "nothing to send"
    notification.refresh_from_db()
    assert (notification.emailed_at, notification.email_attempts) == (None, 0)


def test_a_new_clients_first_hostile_disagreement_is_a_change(
    acme, acme_engagement, advisor, manager, django_capture_on_commit_callbacks
):
    assert acme.health_band == ""  # never scored: no disagreements yet

    with django_capture_on_commit_callbacks(execute=True):
        log_hostile(acme_engagement, advisor)

    assert told(Kind.BAND_WORSENED) == ["alice", "charlie"]
