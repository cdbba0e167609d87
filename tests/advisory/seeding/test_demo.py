from __future__ import annotations

import datetime
from collections import Counter
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import Team, User
from accounts.roles import Role
from advisory.health import selectors as health_selectors
from advisory.models import (
    BandOverride,
    Client,
    Comment,
    Disagreement,
    Engagement,
    LetGoCase,
    Notification,
    NotificationKind,
)
from advisory.records import selectors
from advisory.seeding.content import OVERRIDE_CLIENT, TURNING_CLIENT
from advisory.seeding.demo import (
    CLIENTS,
    LETGO_PROPOSED,
    SeedSummary,
    Trajectory,
    seed_people,
    seed_records,
)

pytestmark = pytest.mark.django_db

# A day in the past: the records seeded "as of" it never change.
DAY = datetime.date(2026, 6, 30)


def seed(settings, *args: str) -> str:
    settings.DEBUG = True
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def people_only(monkeypatch) -> None:
    """Skip the clients and their two years of records (a few seconds' work)."""
    monkeypatch.setattr(
        "advisory.management.commands.seed_demo.seed_records", lambda: SeedSummary()
    )


def test_it_creates_two_teams_and_four_users_with_their_roles(settings, people_only):
    seed(settings)
    assert set(Team.objects.values_list("name", flat=True)) == {
        "Corporate Advisory",
        "Private Clients",
    }
    roles = {user.username: user.role for user in User.objects.all()}
    assert roles == {
        "advisor": Role.ADVISOR,
        "advisor2": Role.ADVISOR,
        "manager": Role.MANAGER,
        "admin": Role.ADMIN,
    }
    assert User.objects.get(username="advisor").check_password("candor-demo-pass")
    assert User.objects.get(username="admin").is_staff


def test_advisor2_is_on_the_other_team_and_the_manager_manages_the_first(settings, people_only):
    seed(settings)
    assert list(User.objects.get(username="advisor2").teams.all()) == [
        Team.objects.get(name="Private Clients")
    ]
    assert list(User.objects.get(username="manager").managed_teams.all()) == [
        Team.objects.get(name="Corporate Advisory")
    ]


def test_it_adds_about_forty_clients_over_both_teams_once(settings):
    output = seed(settings)

    assert "Demo records: 40 clients" in output
    assert 35 <= Client.objects.count() <= 45
    assert 100 <= Engagement.objects.count() <= 140
    assert 500 <= Disagreement.objects.count() <= 700
    leads = Counter(Client.objects.values_list("lead_advisor__username", flat=True))
    assert set(leads) == {"advisor", "advisor2", "manager"}
    assert 12 <= leads["advisor"] <= 18
    blakes = Client.objects.filter(lead_advisor__username="advisor2")
    assert set(blakes.values_list("team__name", flat=True)) == {"Private Clients"}
    assert Client.objects.filter(kind=Client.Kind.INDIVIDUAL).count() >= 10
    for engagement in Engagement.objects.prefetch_related("members", "client__team__members"):
        team = set(engagement.client.team.members.all())
        assert set(engagement.members.all()) <= team, engagement
        assert engagement.lead_advisor in team, engagement

    counts = [Client.history.count(), Engagement.history.count(), Disagreement.history.count()]
    output = seed(settings)
    assert "Demo clients exist already; no records added." in output
    assert [Client.objects.count(), User.objects.count()] == [40, 4]
    assert [
        Client.history.count(),
        Engagement.history.count(),
        Disagreement.history.count(),
    ] == counts


def test_running_it_twice_changes_nothing(settings, people_only):
    seed(settings)
    before = (User.objects.count(), Team.objects.count(), Team.members.through.objects.count())
    seed(settings)
    assert (
        User.objects.count(),
        Team.objects.count(),
        Team.members.through.objects.count(),
    ) == before


def test_if_empty_leaves_an_existing_installation_alone(settings, advisor):
    output = seed(settings, "--if-empty")
    assert not User.objects.filter(username="manager").exists()
    assert not Client.objects.exists()
    assert "no demo data added" in output


def test_it_refuses_to_run_with_debug_off_unless_forced(settings, people_only):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="refuses to run with DEBUG off"):
        call_command("seed_demo")
    assert not User.objects.exists()
    call_command("seed_demo", "--force", stdout=StringIO())
    assert User.objects.filter(username="admin").exists()


class RolledBack(Exception):
    pass


def seeded_records(today: datetime.date) -> list[tuple]:
    """Seed as of `today` and return what was written, leaving nothing behind."""
    with pytest.raises(RolledBack) as caught, transaction.atomic():
        seed_records(today=today)
        disagreements = Disagreement.objects.order_by("pk").values_list(
            "client__name",
            "engagement__title",
            "occurred_on",
            "title",
            "severity",
            "tone",
            "decision",
            "decided_on",
            "verdict",
            "follow_up_on",
        )
        history = Disagreement.history.order_by("history_id").values_list(
            "title", "history_date", "history_user__username", "history_change_reason"
        )
        raise RolledBack([*disagreements, *history])
    return caught.value.args[0]


def test_the_same_day_gives_the_same_records():
    seed_people()
    first = seeded_records(DAY)
    assert not Client.objects.exists()
    assert seeded_records(DAY) == first
    assert len(first) > 1000


def share(disagreements, **match) -> float:
    return disagreements.filter(**match).count() / disagreements.count()


def of(trajectory: Trajectory):
    names = [spec.name for spec in CLIENTS if spec.trajectory == trajectory]
    return Disagreement.objects.filter(client__name__in=names)


def test_the_records_keep_the_date_rules_and_tell_four_stories():
    seed_people()
    seed_records(today=DAY)
    days = datetime.timedelta
    disagreements = Disagreement.objects.all()

    # Dates: the past two years, nothing in the future, nothing out of order.
    assert not disagreements.filter(
        Q(occurred_on__gt=DAY)
        | Q(occurred_on__lt=DAY - days(735))
        | Q(decided_on__gt=DAY)
        | Q(acknowledged_on__gt=DAY)
        | Q(outcome_recorded_on__gt=DAY)
        | Q(decided_on__lt=F("occurred_on"))
        | Q(acknowledged_on__lt=F("decided_on"))
        | Q(outcome_recorded_on__lt=F("decided_on"))
    ).exists()
    assert not Engagement.objects.filter(
        Q(start_date__gt=DAY) | Q(end_date__gt=DAY) | Q(end_date__lt=F("start_date"))
    ).exists()
    assert not Client.objects.filter(client_since__gt=DAY).exists()
    for disagreement in disagreements:
        disagreement.clean()  # the model's own rules (acknowledgments, outcomes)

    assert not disagreements.filter(follow_up_on__lt=F("occurred_on")).exists()

    # Open work for the dashboards: each person with clients has a working
    # day's worth of it, not two years' backlog; the older items are settled.
    for username in ("advisor", "advisor2", "manager"):
        person = User.objects.get(username=username)
        mine = disagreements.filter(client__in=Client.objects.personal_to(person)).open()
        assert 8 <= mine.count() <= 20, username
        assert 3 <= mine.filter(follow_up_on__lt=DAY).count() <= 6, username
        assert 2 <= mine.filter(follow_up_on__range=(DAY, DAY + days(7))).count() <= 5, username
        assert 3 <= mine.awaiting_decision().count() <= 8, username
        assert 1 <= mine.awaiting_acknowledgment().count() <= 2, username
    assert disagreements.open().count() < 60
    assert not disagreements.closed().filter(follow_up_on__gt=DAY).exists()

    # Reviewed within a fortnight or so by the team's manager (by the admin on
    # the team without one, and for the manager's own): only the last days'
    # wait for review. A few grave ones have the reviewer's note.
    reviewed = disagreements.filter(reviewed_at__isnull=False)
    waiting = disagreements.filter(reviewed_at__isnull=True)
    assert 10 <= waiting.count() <= 60
    assert not waiting.filter(occurred_on__lt=DAY - days(20)).exists()
    for disagreement in reviewed.select_related("reviewed_by", "logged_by", "client__team"):
        by_manager = disagreement.client.team.name == "Corporate Advisory"
        by_manager = by_manager and disagreement.logged_by.username != "manager"
        assert disagreement.reviewed_by.username == ("manager" if by_manager else "admin")
        assert disagreement.occurred_on < disagreement.reviewed_at.date() < DAY
    noted = reviewed.filter(comments__author=F("reviewed_by")).distinct()
    assert 5 <= noted.count() <= 80
    assert Comment.objects.exclude(disagreement__in=reviewed).count() == 0

    # Healthy: few, mild, collaborative, advice taken.
    healthy = of(Trajectory.HEALTHY)
    assert healthy.count() / 16 < 10
    assert share(healthy, tone="hostile") == 0
    assert share(healthy, severity__in=["high", "critical"]) < 0.15
    decided = healthy.exclude(decision="pending")
    assert share(decided, decision="accepted") > 0.5
    assert share(decided, decision="proceeded") < 0.1

    # Improving: hostile early on, collaborative lately.
    improving = of(Trajectory.IMPROVING)
    early = improving.filter(occurred_on__lt=DAY - days(365))
    lately = improving.filter(occurred_on__gte=DAY - days(180))
    assert share(early, tone="hostile") > 0.4
    assert share(lately, tone="hostile") < 0.1
    assert share(lately, tone="collaborative") > 0.5

    # Deteriorating: collaborative early, then hostile and overriding our
    # advice, acknowledged in the client's words, and later proved us right.
    deteriorating = of(Trajectory.DETERIORATING)
    early = deteriorating.filter(occurred_on__lt=DAY - days(365))
    lately = deteriorating.filter(occurred_on__gte=DAY - days(180))
    assert share(early, tone="hostile") < 0.1
    assert share(lately, tone="hostile") > 0.6
    overridden_early = share(early.exclude(decision="pending"), decision="proceeded")
    overridden_lately = share(lately.exclude(decision="pending"), decision="proceeded")
    assert overridden_lately > 2 * overridden_early
    overridden = deteriorating.filter(decision="proceeded")
    assert share(overridden, risk_acknowledged=True) > 0.75
    assert not overridden.filter(risk_acknowledged=True, client_words="").exists()
    verdicts = overridden.exclude(verdict="pending")
    assert share(verdicts, verdict="advice_vindicated") > 0.6

    # Adversarial: frequent, severe, hostile, and still going on.
    adversarial = of(Trajectory.ADVERSARIAL)
    assert adversarial.count() / 8 > 2 * healthy.count() / 16
    assert share(adversarial, severity__in=["high", "critical"]) > 0.6
    assert share(adversarial, tone="hostile") > 0.7
    recent = adversarial.filter(occurred_on__gte=DAY - days(30))
    assert recent.values("client").distinct().count() == 8

    # The history says who did it: every record was written by a user, and
    # each disagreement was first logged by the advisor who logged it.
    for model in (Client, Engagement, Disagreement, Comment):
        assert model.history.exists()
        assert not model.history.filter(history_user__isnull=True).exists()
    first_entries = Disagreement.history.filter(history_type="+")
    assert first_entries.count() == disagreements.count()
    assert not first_entries.exclude(history_change_reason="Logged").exists()
    assert not first_entries.exclude(history_user=F("logged_by")).exists()
    assert not first_entries.exclude(history_date__date__lte=DAY).exists()
    # Health is computed elsewhere; the seed leaves it alone.
    assert not Client.objects.filter(health_score__isnull=False).exists()


# The demo's day as a newcomer finds it. The services date what they write
# now, so the day is pinned: the same records, notifications and log each run.
MORNING = datetime.datetime(2026, 6, 30, 8, 0, tzinfo=datetime.UTC)


def test_each_role_starts_the_demo_with_a_working_day(settings, time_machine):
    time_machine.move_to(MORNING)
    seed(settings)
    today = timezone.localdate()
    days = datetime.timedelta
    people = {user.username: user for user in User.objects.all()}

    # Each advisor's dashboard: a day's open items, a handful overdue, a few due
    # this week, some awaiting the client's decision or acknowledgment.
    for username in ("advisor", "advisor2"):
        person = people[username]
        assert 8 <= selectors.dashboard(person)["open_count"] <= 20, username
        # The dashboard's own items: open, on the clients the person works on.
        mine = Client.objects.visible_to(person).personal_to(person).active()
        open_items = Disagreement.objects.filter(client__in=mine).active().open()
        assert 3 <= open_items.filter(follow_up_on__lt=today).count() <= 6, username
        due = open_items.filter(follow_up_on__range=(today, today + days(7)))
        assert 2 <= due.count() <= 5, username
        assert open_items.awaiting_decision().exists(), username
        assert 1 <= open_items.awaiting_acknowledgment().count() <= 2, username

    # The bell has something for everyone, made by the real triggers: the daily
    # reminders, a band that worsened this morning, a let-go proposed.
    for username in ("advisor", "advisor2", "manager", "admin"):
        assert Notification.objects.filter(recipient=people[username]).unread().exists()
    for username in ("advisor", "advisor2"):
        kinds = set(people[username].notifications.values_list("kind", flat=True))
        assert NotificationKind.FOLLOW_UP_DUE in kinds, username
    manager_told = people["manager"].notifications.values_list("kind", "title")
    assert (NotificationKind.BAND_WORSENED, f"{TURNING_CLIENT} is now Adversarial") in manager_told
    assert people["admin"].notifications.filter(kind=NotificationKind.LETGO_PROPOSED).exists()

    # The manager's and the admin's view: a client newly adversarial, an override
    # ending within the fortnight, grave disagreements not reviewed yet, and a
    # let-go waiting for the admin's decision.
    for username in ("manager", "admin"):
        scope = Client.objects.visible_to(people[username]).active()
        newly = health_selectors.newly_adversarial(scope, since=today - days(30))
        assert TURNING_CLIENT in newly.values_list("name", flat=True), username
    ending = BandOverride.objects.in_force().filter(expires_on__lte=today + days(14))
    assert list(ending.values_list("client__name", "set_by__username")) == [
        (OVERRIDE_CLIENT, "manager")
    ]
    team = people["manager"].managed_teams.get()
    waiting = Disagreement.objects.filter(
        client__team=team, reviewed_at__isnull=True, occurred_on__gte=today - days(30)
    ).filter(Q(tone="hostile") | Q(severity__in=["high", "critical"]))
    assert waiting.count() >= 3
    proposed = LetGoCase.objects.filter(status=LetGoCase.Status.PROPOSED)
    assert list(proposed.values_list("client__name", flat=True)) == [LETGO_PROPOSED]

    # Every write went into the log, and the log checks out.
    out = StringIO()
    call_command("verify_log", stdout=out)
    assert "Log intact" in out.getvalue()
