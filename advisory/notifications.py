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
(`send_daily_summaries`). E-mails are claimed before sending and released when
sending fails, so a retry or a second run never sends one twice.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import F, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts.models import Team, User
from accounts.roles import Role
from advisory.models import (
    Band,
    Client,
    Delivery,
    Disagreement,
    DisagreementQuerySet,
    HealthSnapshot,
    LetGoCase,
    Notification,
    NotificationKind,
    NotificationPreference,
)

logger = logging.getLogger(__name__)

Kind = NotificationKind

# Without a preference: what needs acting on today by e-mail at once; routine
# reminders gathered in one e-mail a day.
DEFAULT_DELIVERY = {
    Kind.BAND_WORSENED: Delivery.IMMEDIATE,
    Kind.FOLLOW_UP_DUE: Delivery.DAILY,
    Kind.ACKNOWLEDGMENT_MISSING: Delivery.DAILY,
    Kind.LETGO_PROPOSED: Delivery.IMMEDIATE,
    Kind.LETGO_DECIDED: Delivery.IMMEDIATE,
    Kind.WEEKLY_DIGEST: Delivery.IMMEDIATE,
}

# Higher is worse.
BAND_RANK = {Band.HEALTHY: 0, Band.STRAINED: 1, Band.ADVERSARIAL: 2}

UNSUBSCRIBE_SALT = "candor.notifications.unsubscribe"


# --- Preferences -----------------------------------------------------------------


def kinds_for(user: User) -> list[str]:
    """The kinds a user can receive: let-go proposals go to admins, digests to managers."""
    role = user.role
    kinds = [Kind.BAND_WORSENED, Kind.FOLLOW_UP_DUE, Kind.ACKNOWLEDGMENT_MISSING]
    kinds.append(Kind.LETGO_DECIDED)
    if role == Role.ADMIN:
        kinds.append(Kind.LETGO_PROPOSED)
    if role == Role.MANAGER:
        kinds.append(Kind.WEEKLY_DIGEST)
    return kinds


def preferences_for(user: User) -> dict[str, str]:
    """Every kind's delivery for `user`, defaults filled in."""
    chosen = dict(user.notification_preferences.values_list("kind", "delivery"))
    return {kind: chosen.get(kind, default) for kind, default in DEFAULT_DELIVERY.items()}


def _deliveries(users: Iterable[User], kind: str) -> dict[int, str]:
    """Each user's delivery for one kind, in one query."""
    pks = [u.pk for u in users]
    chosen = dict(
        NotificationPreference.objects.filter(user__in=pks, kind=kind).values_list(
            "user", "delivery"
        )
    )
    return {pk: chosen.get(pk, DEFAULT_DELIVERY[kind]) for pk in pks}


@transaction.atomic
def preference_set(*, user: User, kind: str, delivery: str) -> NotificationPreference:
    """Store one choice. Choosing "in Candor only" also stops the e-mails already
    waiting for that kind (the daily summary would otherwise still send them)."""
    if kind not in Kind.values or delivery not in Delivery.values:
        raise ValueError(f"Unknown notification kind or delivery: {kind!r}, {delivery!r}")
    preference, _ = NotificationPreference.objects.update_or_create(
        user=user, kind=kind, defaults={"delivery": delivery}
    )
    if delivery == Delivery.IN_APP:
        Notification.objects.filter(recipient=user, kind=kind, emailed_at__isnull=True).exclude(
            delivery=Delivery.IN_APP
        ).update(delivery=Delivery.IN_APP)
    return preference


def unsubscribe_token(user: User, kind: str) -> str:
    """A signed, timestamped token naming one user and one kind: it can switch
    that one preference to "in Candor only" and nothing else."""
    return signing.dumps({"u": user.pk, "k": kind}, salt=UNSUBSCRIBE_SALT, compress=False)


class BadUnsubscribeToken(Exception):
    pass


def read_unsubscribe_token(token: str) -> tuple[User, str]:
    """The (user, kind) a token names; BadUnsubscribeToken if it is tampered
    with, expired, or names someone inactive or a kind that does not exist."""
    max_age = datetime.timedelta(days=settings.CANDOR_NOTIFICATIONS["unsubscribe_max_age_days"])
    try:
        payload = signing.loads(token, salt=UNSUBSCRIBE_SALT, max_age=max_age)
        user = User.objects.get(pk=int(payload["u"]), is_active=True)
        kind = str(payload["k"])
    except (signing.BadSignature, KeyError, TypeError, ValueError, User.DoesNotExist) as exc:
        raise BadUnsubscribeToken(str(exc)) from exc
    if kind not in Kind.values:
        raise BadUnsubscribeToken(f"unknown kind {kind!r}")
    return user, kind


# --- Creating notifications --------------------------------------------------------


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
        people = {pk: u for pk, u in people.items() if _can_see(u, client)}
    if not people:
        return []
    already = set(
        Notification.objects.filter(event_key=event_key, recipient__in=people).values_list(
            "recipient", flat=True
        )
    )
    deliveries = _deliveries(people.values(), kind)
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


def _can_see(user: User, client: Client) -> bool:
    return Client.objects.visible_to(user).filter(pk=client.pk).exists()


def _email_on_commit(notification_id: int) -> None:
    from advisory.tasks import send_notification_email

    # robust: a queue that is down is logged; it never fails the request that
    # has already committed its change.
    transaction.on_commit(
        lambda: send_notification_email.enqueue(notification_id=notification_id), robust=True
    )


# --- Triggers ----------------------------------------------------------------------


def band_worsened(client: Client, *, before: str, after: str, score: int | None) -> None:
    """The lead advisor and the managers of the client's team, once per change
    and day (an edit back and forth on one day does not repeat it).

    A client not scored yet has no disagreements, so it was healthy: its first
    hostile disagreement is a change like any other. (Loading a history, like
    the demo, tells nobody: health_refresh(notify=False).)"""
    before = before or Band.HEALTHY
    if BAND_RANK[after] <= BAND_RANK[before]:
        return
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


def _reminder_candidates() -> DisagreementQuerySet:
    return (
        Disagreement.objects.active()
        .exclude(client__status=Client.Status.LET_GO)
        .filter(client__is_archived=False)
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
                    f"{disagreement.follow_up_on:%-d %B %Y} has come and the disagreement "
                    "is still open."
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
                    f"{disagreement.decided:%-d %B %Y} and has not acknowledged the risk yet. "
                    "Ask for it in the client's own words (e-mail, signed letter or minutes)."
                ),
                url=disagreement.get_absolute_url(),
                client=disagreement.client,
            )
        )
    return created


# --- The weekly digest ---------------------------------------------------------------


@dataclass
class Digest:
    start: datetime.date
    end: datetime.date
    teams: list[Team]
    band_changes: list[tuple[Client, str, str, datetime.date]] = field(default_factory=list)
    overridden: list[Disagreement] = field(default_factory=list)
    outcomes: list[Disagreement] = field(default_factory=list)
    open_cases: list[LetGoCase] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not (self.band_changes or self.overridden or self.outcomes or self.open_cases)


def digest_period(today: datetime.date) -> tuple[datetime.date, datetime.date]:
    """The last full week, Monday to Sunday, before `today`."""
    this_monday = today - datetime.timedelta(days=today.weekday())
    start = this_monday - datetime.timedelta(days=7)
    return start, start + datetime.timedelta(days=6)


def digest_for(manager: User, *, start: datetime.date, end: datetime.date) -> Digest:
    """What happened in the manager's teams (only theirs) between start and end."""
    teams = list(Team.objects.managed_by(manager).filter(managers=manager))
    clients = Client.objects.visible_to(manager).filter(team__in=teams)
    digest = Digest(start=start, end=end, teams=teams)
    before = HealthSnapshot.objects.filter(client=OuterRef("pk"), date__lt=start).order_by("-date")
    previous = dict(
        clients.annotate(band_before=Subquery(before.values("band")[:1])).values_list(
            "pk", "band_before"
        )
    )
    snapshots = (
        HealthSnapshot.objects.filter(client__in=clients, date__range=(start, end))
        .select_related("client")
        .order_by("client__name", "client", "date")
    )
    for snapshot in snapshots:
        was = previous.get(snapshot.client_id)
        if was and was != snapshot.band:
            digest.band_changes.append(
                (snapshot.client, Band(was).label, Band(snapshot.band).label, snapshot.date)
            )
        previous[snapshot.client_id] = snapshot.band
    disagreements = (
        Disagreement.objects.active().filter(client__in=clients).select_related("client")
    )
    digest.overridden = list(
        disagreements.filter(
            decision=Disagreement.Decision.PROCEEDED, decided_on__range=(start, end)
        ).order_by("decided_on", "pk")
    )
    digest.outcomes = list(
        disagreements.exclude(verdict=Disagreement.Verdict.PENDING)
        .filter(outcome_recorded_on__range=(start, end))
        .order_by("outcome_recorded_on", "pk")
    )
    digest.open_cases = list(
        LetGoCase.objects.open()
        .filter(client__in=clients)
        .select_related("client", "proposed_by")
        .order_by("proposed_at", "pk")
    )
    return digest


@transaction.atomic
def send_weekly_digests(*, today: datetime.date | None = None) -> int:
    """One digest per manager and week, only when something happened or a
    let-go case is open. Returns how many digests were created."""
    today = today or timezone.localdate()
    start, end = digest_period(today)
    year, week, _ = start.isocalendar()
    managers = (
        User.objects.with_role(Role.MANAGER)
        .filter(is_active=True, managed_teams__isnull=False)
        .distinct()
        .order_by("pk")
    )
    created = 0
    for manager in managers:
        digest = digest_for(manager, start=start, end=end)
        if digest.is_empty:
            continue
        created += len(
            notify(
                kind=Kind.WEEKLY_DIGEST,
                event_key=f"digest:{year}-W{week:02d}",
                recipients=[manager],
                title=f"Weekly digest: {start:%-d %B} to {end:%-d %B %Y}",
                body=render_to_string("advisory/email/digest_body.txt", {"d": digest}).strip(),
                url=reverse("health-board"),
            )
        )
    return created


# --- E-mail ------------------------------------------------------------------------


def _absolute(path: str) -> str:
    return f"{settings.CANDOR_BASE_URL}{path}" if path.startswith("/") else path


def _send(*, user: User, subject: str, template: str, context: dict, kinds: list[str]) -> None:
    """Render the text and HTML versions and send them to one person, with a
    one-click unsubscribe link per kind the e-mail is about."""
    unsubscribe = [
        (
            Kind(kind).label,
            _absolute(reverse("notification-unsubscribe", args=[unsubscribe_token(user, kind)])),
        )
        for kind in kinds
    ]
    context = {
        **context,
        "user": user,
        "unsubscribe": unsubscribe,
        "preferences_url": _absolute(reverse("notification-preferences")),
        "notifications_url": _absolute(reverse("notification-list")),
    }
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string(f"{template}.txt", context),
        to=[user.email],
        headers={
            "List-Unsubscribe": ", ".join(f"<{url}>" for _, url in unsubscribe),
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Auto-Submitted": "auto-generated",
        },
    )
    message.attach_alternative(render_to_string(f"{template}.html", context), "text/html")
    message.send()


def email_notification(notification_id: int) -> bool:
    """Send one notification's e-mail; False when there is nothing (left) to send.

    The notification is claimed (emailed_at set) before sending and released
    if sending fails, so two runs never both send it.
    """
    notification = (
        Notification.objects.select_related("recipient").filter(pk=notification_id).first()
    )
    if notification is None:
        return False
    user = notification.recipient
    if not (user.is_active and user.email):
        return False
    now = timezone.now()
    claimed = Notification.objects.filter(
        pk=notification_id, emailed_at__isnull=True, delivery=Delivery.IMMEDIATE
    ).update(emailed_at=now, email_attempts=F("email_attempts") + 1)
    if not claimed:
        return False
    try:
        _send(
            user=user,
            subject=notification.title,
            template="advisory/email/notification",
            context={"notification": notification, "link": _absolute(notification.url)},
            kinds=[notification.kind],
        )
    except Exception:
        Notification.objects.filter(pk=notification_id, emailed_at=now).update(emailed_at=None)
        raise
    return True


def email_daily_summary(user_id: int) -> int:
    """One e-mail with everything waiting for the user's daily summary; returns
    how many notifications it carried (0: nothing waiting, nothing sent)."""
    user = User.objects.filter(pk=user_id, is_active=True).exclude(email="").first()
    if user is None:
        return 0
    with transaction.atomic():
        waiting = list(
            Notification.objects.select_for_update()
            .filter(recipient=user)
            .awaiting_summary()
            .order_by("created_at", "pk")
        )
        if not waiting:
            return 0
        now = timezone.now()
        Notification.objects.filter(pk__in=[n.pk for n in waiting]).update(
            emailed_at=now, email_attempts=F("email_attempts") + 1
        )
    for notification in waiting:
        notification.link = _absolute(notification.url)
    try:
        _send(
            user=user,
            subject=f"Candor: {len(waiting)} thing{'s' if len(waiting) != 1 else ''} to look at",
            template="advisory/email/daily_summary",
            context={"notifications": waiting},
            kinds=sorted({n.kind for n in waiting}, key=Kind.values.index),
        )
    except Exception:
        Notification.objects.filter(pk__in=[n.pk for n in waiting], emailed_at=now).update(
            emailed_at=None
        )
        raise
    return len(waiting)


def send_daily_summaries() -> int:
    """Queue one summary e-mail per person with something waiting; returns how many."""
    from advisory.tasks import send_summary_email

    people = (
        User.objects.filter(is_active=True)
        .exclude(email="")
        .filter(
            Q(notifications__delivery=Delivery.DAILY) & Q(notifications__emailed_at__isnull=True)
        )
        .distinct()
        .values_list("pk", flat=True)
    )
    count = 0
    for pk in people:
        send_summary_email.enqueue(user_id=pk)
        count += 1
    return count
