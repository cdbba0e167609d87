"""Notifications: who is told what, once, and how.

Every trigger ends in `notify()`, which writes one `Notification` per person
and event. The event's key (e.g. "band:12:2026-11-22:adversarial") and the
unique constraint on (recipient, event_key) make each trigger and each job
safe to run twice: the second run finds the notification there and sends
nothing. Recipients outside the client's scope are dropped, whoever asked.

Delivery follows the recipient's preference for the kind (DEFAULT_DELIVERY
without one): in Candor only; e-mail immediately (a task queued when the
transaction commits, so a rolled-back change tells nobody and a mail failure
never undoes the change); or one e-mail a day summarising what is waiting
(notifications.tasks.send_daily_summaries). E-mails are claimed before sending and released when
sending fails, so a retry or a second run never sends one twice.
"""

import datetime
import logging
from collections.abc import Iterable

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models.functions import Coalesce
from django.template.loader import render_to_string
from django.utils import formats, timezone

from accounts.models import User
from accounts.roles import Role
from advisory.models import (
    CLIENT_REMINDERS,
    Band,
    Client,
    Delivery,
    Disagreement,
    DisagreementQuerySet,
    LetGoCase,
    Notification,
    NotificationKind,
)
from advisory.notifications import preferences
from advisory.notifications.tasks import send_notification_email

logger = logging.getLogger(__name__)

Kind = NotificationKind


def notify(
    *,
    kind: str,
    event_key: str,
    recipients: Iterable[User],
    title: str,
    body: str = "",
    url: str = "",
    client: Client | None = None,
) -> list[Notification]:
    """Tell each recipient about one event, once; returns the notifications
    created now (none for people already told, inactive or out of scope).

    Call it inside the transaction that makes the change: the notifications
    commit or roll back with it, and e-mails are queued only after it commits.
    """
    people = {u.pk: u for u in recipients if u is not None and u.is_active}
    if client is not None:
        clients = Client.objects.filter(pk=client.pk)
        if kind in CLIENT_REMINDERS:
            # Nothing is left to act on for a client let go, whoever asks
            # (a job, a score recomputed): its status as stored, in the
            # same query as the scope.
            clients = clients.exclude(status=Client.Status.LET_GO)
        people = {pk: u for pk, u in people.items() if clients.visible_to(u).exists()}
    if not people:
        return []
    already = set(
        Notification.objects.filter(event_key=event_key, recipient__in=people).values_list(
            "recipient", flat=True
        )
    )
    deliveries = preferences.deliveries(people.values(), kind)
    created = []
    for pk, user in sorted(people.items()):
        if pk in already:
            continue
        try:
            # A savepoint: a concurrent run that got there first costs this
            # row, not the caller's transaction.
            with transaction.atomic():
                notification = Notification.objects.create(
                    recipient=user,
                    kind=kind,
                    event_key=event_key[:200],
                    title=title[:200],
                    body=body,
                    url=url,
                    client=client,
                    delivery=deliveries[pk],
                )
        except IntegrityError:
            continue
        created.append(notification)
        if notification.delivery == Delivery.IMMEDIATE and user.email:
            _email_on_commit(notification.pk)
    return created


def _email_on_commit(notification_id: int) -> None:
    # robust: a queue that is down is logged; it never fails the request that
    # has already committed its change.
    transaction.on_commit(
        lambda: send_notification_email.enqueue(notification_id=notification_id), robust=True
    )


def band_worsened(client: Client, *, before: str, after: str, score: int | None) -> None:
    """Tell the lead advisor and the managers of the client's team that its
    band went from `before` to the worse `after`, once per change and day (an
    edit back and forth on one day does not repeat it).

    health.services calls it when, and only when, a stored band gets worse
    (the band order is advisory.health.score's). Loading a history, like the
    demo, tells nobody: health_refresh(notify=False)."""
    today = timezone.localdate()
    before_label = Band(before).label
    after_label = Band(after).label
    managers = list(client.team.managers.all()) if client.team_id else []
    notify(
        kind=Kind.BAND_WORSENED,
        event_key=f"band:{client.pk}:{today.isoformat()}:{after}",
        recipients=[client.lead_advisor, *managers],
        title=f"{client} is now {after_label}",
        body=(
            f"The relationship with {client} went from {before_label} to {after_label}"
            f"{f' (health score {score})' if score is not None else ''}. "
            "The client page explains which disagreements weigh most."
        ),
        url=client.get_absolute_url(),
        client=client,
    )


def letgo_proposed(case: LetGoCase) -> None:
    admins = User.objects.with_role(Role.ADMIN).filter(is_active=True)
    notify(
        kind=Kind.LETGO_PROPOSED,
        event_key=f"letgo-proposed:{case.pk}",
        recipients=admins,
        title=f"Let-go proposed: {case.client}",
        body=render_to_string("advisory/email/letgo_proposed.txt", {"case": case}).strip(),
        url=case.get_absolute_url(),
        client=case.client,
    )


def letgo_decided(case: LetGoCase) -> None:
    verdict = "declined" if case.status == LetGoCase.Status.DECLINED else "approved"
    notify(
        kind=Kind.LETGO_DECIDED,
        event_key=f"letgo-decided:{case.pk}",
        recipients=[case.proposed_by, case.client.lead_advisor],
        title=f"Let-go {verdict}: {case.client}",
        body=render_to_string("advisory/email/letgo_decided.txt", {"case": case}).strip(),
        url=case.get_absolute_url(),
        client=case.client,
    )


def reminders_stop(client: Client) -> int:
    """The client is being let go: its reminders waiting to be e-mailed (at
    once or in a daily summary) stay in Candor only, even if the client is
    reinstated later. Returns how many. Inside the let-go's transaction
    (records.services.disagreements_close_at_letgo)."""
    return (
        Notification.objects.filter(client=client, kind__in=CLIENT_REMINDERS)
        .filter(emailed_at__isnull=True)
        .exclude(delivery=Delivery.IN_APP)
        .update(delivery=Delivery.IN_APP)
    )


def _reminder_candidates() -> DisagreementQuerySet:
    return (
        Disagreement.objects.open_for_work()
        .select_related("client", "engagement__lead_advisor", "logged_by")
        .order_by("pk")
    )


def _advisor_of(disagreement: Disagreement) -> User:
    """Who a reminder goes to: the advisor who logged it, or the engagement's
    lead advisor once that person has left."""
    if disagreement.logged_by.is_active:
        return disagreement.logged_by
    return disagreement.engagement.lead_advisor


@transaction.atomic
def remind_follow_ups(*, today: datetime.date | None = None) -> int:
    """One reminder per disagreement and follow-up date that has come (in the
    last `catch_up_days`); a new date is a new reminder. Returns how many
    notifications were created."""
    today = today or timezone.localdate()
    since = today - datetime.timedelta(days=settings.CANDOR_NOTIFICATIONS["catch_up_days"])
    created = 0
    due = _reminder_candidates().open().filter(follow_up_on__range=(since, today))
    for disagreement in due:
        created += len(
            notify(
                kind=Kind.FOLLOW_UP_DUE,
                event_key=f"follow-up:{disagreement.pk}:{disagreement.follow_up_on.isoformat()}",
                recipients=[_advisor_of(disagreement)],
                title=f"Follow-up due: {disagreement.title}",
                body=(
                    f"{disagreement.client}: the follow-up set for "
                    f"{formats.date_format(disagreement.follow_up_on)} has come and the "
                    "disagreement is still open."
                ),
                url=disagreement.get_absolute_url(),
                client=disagreement.client,
            )
        )
    return created


@transaction.atomic
def remind_missing_acknowledgments(*, today: datetime.date | None = None) -> int:
    """Clients who proceeded against advice a week ago (up to `catch_up_days`
    more) and have not acknowledged the risk: one reminder per decision."""
    today = today or timezone.localdate()
    grace = settings.CANDOR_NOTIFICATIONS["acknowledgment_grace_days"]
    cutoff = today - datetime.timedelta(days=grace)
    since = cutoff - datetime.timedelta(days=settings.CANDOR_NOTIFICATIONS["catch_up_days"])
    missing = (
        _reminder_candidates()
        .awaiting_acknowledgment()
        .annotate(decided=Coalesce("decided_on", "occurred_on"))
        .filter(decided__range=(since, cutoff))
    )
    created = 0
    for disagreement in missing:
        created += len(
            notify(
                kind=Kind.ACKNOWLEDGMENT_MISSING,
                event_key=f"acknowledgment:{disagreement.pk}:{disagreement.decided.isoformat()}",
                recipients=[_advisor_of(disagreement)],
                title=f"Acknowledgment still missing: {disagreement.title}",
                body=(
                    f"{disagreement.client} proceeded against our advice on "
                    f"{formats.date_format(disagreement.decided)} and has not acknowledged "
                    "the risk yet. "
                    "Ask for it in the client's own words (e-mail, signed letter or minutes)."
                ),
                url=disagreement.get_absolute_url(),
                client=disagreement.client,
            )
        )
    return created
