"""Who wants which notifications how: preferences, defaults and one-click unsubscribe tokens."""

import datetime
import logging
from collections.abc import Iterable

from django.conf import settings
from django.core import signing
from django.db import transaction

from accounts.models import User
from accounts.roles import Role
from advisory.models import (
    Delivery,
    Notification,
    NotificationKind,
    NotificationPreference,
)

logger = logging.getLogger(__name__)

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


UNSUBSCRIBE_SALT = "candor.notifications.unsubscribe"


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


def deliveries(users: Iterable[User], kind: str) -> dict[int, str]:
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
