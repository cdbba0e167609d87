"""Reminders stop for a client let go, on every path that makes or sends one:
the triggers (follow-ups, missing acknowledgments, a worsened band), notify()
itself, the immediate e-mail, the daily summary, the weekly digest, and the
worker's periodic jobs that run them (advisory/tasks.py).

Each path reads the client's status, not its follow-up dates: completing a
let-go clears those, but a client let go before it did (or a reminder made
while the let-go commits) must stay quiet too. So most tests here let the
client go by its status alone, follow-ups still set; another client of the
same advisor, `bolt`, stays and is reminded as before.
"""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import pytest

from advisory import tasks
from advisory.health import services as health_services
from advisory.models import (
    Band,
    Client,
    Delivery,
    Disagreement,
    HealthSnapshot,
    Notification,
    NotificationKind,
)
from advisory.notifications import digest, email, triggers
from advisory.notifications import tasks as notification_tasks
from tests.factories import ClientFactory, DisagreementFactory, EngagementFactory

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2026, 3, 16)  # a Monday: the digest covers 2 to 8 March
DAY = datetime.timedelta(days=1)
D = Disagreement
Kind = NotificationKind


@pytest.fixture(autouse=True)
def _today(time_machine) -> None:
    time_machine.move_to(
        datetime.datetime(2026, 3, 16, 10, tzinfo=ZoneInfo("Europe/London")), tick=False
    )


def due_items(client: Client) -> list[Disagreement]:
    """A follow-up due today and an acknowledgment missing for eight days."""
    engagement = EngagementFactory(client=client)
    return [
        DisagreementFactory(engagement=engagement, title=f"{client} follow-up", follow_up_on=TODAY),
        DisagreementFactory(
            engagement=engagement,
            title=f"{client} acknowledgment",
            decision=D.Decision.PROCEEDED,
            decided_on=TODAY - 8 * DAY,
        ),
    ]


@pytest.fixture
def gone(acme) -> Client:
    """Acme, let go with its follow-ups and acknowledgments still waiting."""
    due_items(acme)
    Client.objects.filter(pk=acme.pk).update(status=Client.Status.LET_GO)
    acme.refresh_from_db()
    return acme


@pytest.fixture
def bolt(advisor, team) -> Client:
    bolt = ClientFactory(name="Bolt Logistics", lead_advisor=advisor, team=team)
    due_items(bolt)
    return bolt


def titles(**filters) -> list[str]:
    return sorted(Notification.objects.filter(**filters).values_list("title", flat=True))


def about(client: Client) -> list[str]:
    """What anyone was told about `client`, by the notification's client or its title."""
    return [t for t in titles() if client.name in t] + titles(client=client)


def reminder(client: Client, recipient, *, kind=Kind.FOLLOW_UP_DUE, delivery=Delivery.DAILY):
    """A reminder made before the client was let go, its e-mail still to go."""
    return Notification.objects.create(
        recipient=recipient,
        kind=kind,
        event_key=f"test:{client.pk}:{kind}:{recipient.pk}",
        title=f"Follow-up due: {client} follow-up",
        body=f"{client}: the follow-up has come.",
        url=client.get_absolute_url(),
        client=client,
        delivery=delivery,
    )


# --- The triggers ------------------------------------------------------------------


def test_follow_up_reminders_leave_out_a_let_go_client(gone, bolt):
    created = triggers.remind_follow_ups(today=TODAY)

    assert titles(kind=Kind.FOLLOW_UP_DUE) == ["Follow-up due: Bolt Logistics follow-up"]
    assert created == 1


def test_acknowledgment_reminders_leave_out_a_let_go_client(gone, bolt):
    created = triggers.remind_missing_acknowledgments(today=TODAY)

    assert titles(kind=Kind.ACKNOWLEDGMENT_MISSING) == [
        "Acknowledgment still missing: Bolt Logistics acknowledgment"
    ]
    assert created == 1


def test_a_let_go_clients_worsening_band_tells_nobody(gone, bolt, advisor, manager):
    for c in (gone, bolt):
        health_services.health_refresh(c, notify=False)
        DisagreementFactory(
            engagement=c.engagements.first(),
            severity=D.Severity.CRITICAL,
            tone=D.Tone.HOSTILE,
            occurred_on=TODAY - 2 * DAY,
        )  # written without the services: the stored band is stale until tonight

    health_services.recompute_all()

    assert titles(kind=Kind.BAND_WORSENED) == ["Bolt Logistics is now Adversarial"] * 2
    assert about(gone) == []
    # The score itself stays true: the board's "Let go" filter shows it.
    assert Client.objects.get(pk=gone.pk).health_band == Band.ADVERSARIAL


def test_notify_tells_nobody_to_act_on_a_let_go_client_but_still_tells_of_the_let_go(
    gone, advisor, admin
):
    for kind in (Kind.FOLLOW_UP_DUE, Kind.ACKNOWLEDGMENT_MISSING, Kind.BAND_WORSENED):
        made = triggers.notify(
            kind=kind, event_key=f"x:{kind}", recipients=[advisor], title="Act", client=gone
        )
        assert made == [], kind
    # News about the let-go itself is not a reminder to act on the client.
    [decided] = triggers.notify(
        kind=Kind.LETGO_DECIDED,
        event_key="letgo-decided:1",
        recipients=[advisor],
        title="Let-go approved: Acme Holdings",
        client=gone,
    )
    assert decided.recipient == advisor


# --- Sending -----------------------------------------------------------------------


def test_an_e_mail_queued_before_the_let_go_is_not_sent_after_it(acme, bolt, advisor, mailoutbox):
    queued = reminder(acme, advisor, delivery=Delivery.IMMEDIATE)
    other = reminder(bolt, advisor, delivery=Delivery.IMMEDIATE)
    Client.objects.filter(pk=acme.pk).update(status=Client.Status.LET_GO)

    assert email.email_notification(queued.pk) is False
    assert email.email_notification(other.pk) is True

    assert [m.subject for m in mailoutbox] == ["Follow-up due: Bolt Logistics follow-up"]
    assert Notification.objects.get(pk=queued.pk).emailed_at is None


def test_the_daily_summary_leaves_out_a_let_go_clients_reminders(
    acme, bolt, advisor, manager, mailoutbox
):
    reminder(acme, advisor)
    reminder(acme, advisor, kind=Kind.ACKNOWLEDGMENT_MISSING)
    reminder(bolt, advisor)
    reminder(acme, manager, kind=Kind.BAND_WORSENED)  # nothing else waits for the manager
    Client.objects.filter(pk=acme.pk).update(status=Client.Status.LET_GO)

    queued = notification_tasks.send_daily_summaries()

    assert queued == 1  # the advisor's; the manager has nothing left to look at
    [mail] = mailoutbox
    assert mail.to == [advisor.email]
    assert mail.subject == "Candor: 1 thing to look at"
    assert "Bolt Logistics" in mail.body and "Acme Holdings" not in mail.body
    html, _mimetype = mail.alternatives[0]
    assert "Acme Holdings" not in html
    assert not Notification.objects.awaiting_summary().exists()
    # Asked for anyway (a summary queued before the let-go): nothing to send.
    assert email.email_daily_summary(manager.pk) == 0


def test_a_summary_still_carries_notifications_about_no_client(acme, advisor, mailoutbox):
    Notification.objects.create(
        recipient=advisor,
        kind=Kind.LETGO_DECIDED,
        event_key="letgo-decided:7",
        title="Let-go approved: Acme Holdings",
        client=acme,
        delivery=Delivery.DAILY,
    )
    Notification.objects.create(
        recipient=advisor,
        kind=Kind.WEEKLY_DIGEST,
        event_key="digest:2026-W10",
        title="Weekly digest",
        delivery=Delivery.DAILY,
    )
    Client.objects.filter(pk=acme.pk).update(status=Client.Status.LET_GO)

    assert notification_tasks.send_daily_summaries() == 1

    [mail] = mailoutbox
    assert "Let-go approved: Acme Holdings" in mail.body and "Weekly digest" in mail.body


def news_last_week(*clients: Client) -> tuple[datetime.date, datetime.date]:
    """For each client, news in the week the digest covers: a band change,
    advice overridden, an outcome recorded."""
    start, end = digest.digest_period(TODAY)
    for c in clients:
        HealthSnapshot.objects.create(client=c, date=start - 3 * DAY, score=80, band="healthy")
        HealthSnapshot.objects.create(client=c, date=end, score=55, band="strained")
        engagement = c.engagements.first() or EngagementFactory(client=c)
        DisagreementFactory(
            engagement=engagement,
            title=f"{c} overrode us",
            occurred_on=start,
            decision=D.Decision.PROCEEDED,
            decided_on=end,
        )
        DisagreementFactory(
            engagement=engagement,
            title=f"{c} outcome",
            occurred_on=start,
            decision=D.Decision.ACCEPTED,
            decided_on=start,
            verdict=D.Verdict.ADVICE_VINDICATED,
            outcome="It went as advised.",
            outcome_recorded_on=end,
        )
    return start, end


def test_the_weekly_digest_leaves_out_a_let_go_client(acme, bolt, manager):
    start, end = news_last_week(acme, bolt)
    Client.objects.filter(pk=acme.pk).update(status=Client.Status.LET_GO)

    news = digest.digest_for(manager, start=start, end=end)

    assert [client.name for client, *_ in news.band_changes] == ["Bolt Logistics"]
    assert [d.title for d in news.overridden] == ["Bolt Logistics overrode us"]
    assert [d.title for d in news.outcomes] == ["Bolt Logistics outcome"]
    digest.send_weekly_digests(today=TODAY)
    [sent] = Notification.objects.filter(kind=Kind.WEEKLY_DIGEST)
    assert "Bolt Logistics" in sent.body and "Acme Holdings" not in sent.body


def test_a_week_whose_only_news_is_a_let_go_client_sends_no_digest(acme, manager):
    news_last_week(acme)
    Client.objects.filter(pk=acme.pk).update(status=Client.Status.LET_GO)

    assert digest.send_weekly_digests(today=TODAY) == 0


# --- The worker's jobs -------------------------------------------------------------


def test_the_periodic_jobs_leave_out_a_let_go_client(
    gone, advisor, manager, mailoutbox, settings, django_capture_on_commit_callbacks
):
    settings.CANDOR_NOTIFICATIONS = {**settings.CANDOR_NOTIFICATIONS, "catch_up_days": 3}
    health_services.health_refresh(gone)
    DisagreementFactory(
        engagement=gone.engagements.first(),
        severity=D.Severity.CRITICAL,
        tone=D.Tone.HOSTILE,
        occurred_on=TODAY - 2 * DAY,
    )
    reminder(gone, advisor)  # made before the let-go, waiting for this morning's summary

    with django_capture_on_commit_callbacks(execute=True):
        tasks.nightly_health_recompute.call_local()
        tasks.daily_reminders.call_local()
        tasks.daily_summaries.call_local()
        tasks.weekly_digest.call_local()

    assert Notification.objects.exclude(event_key__startswith="test:").count() == 0
    assert mailoutbox == []
