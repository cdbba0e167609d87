"""Demo data for `make run` and manual testing: readable, deterministic, idempotent.

`seed_people()` creates the demo teams and logins. `seed_records()` then adds
about forty clients with two years of engagements and disagreements, written
through the model layer so every change has a history entry saying who made it
and when. Each client follows one of four trajectories (healthy, improving,
deteriorating, adversarial) so the health pages have a story to tell. The random
generators are seeded per client: the same `today` always gives the same records.

The demo starts on a working day: each person with clients finds a day's open
items (`OPEN_ITEMS`: the older ones were settled as a firm that keeps up with
its log would have), some follow-ups overdue and some due this week; and this
morning's events (a client turning adversarial, an override about to end, a
let-go proposed, the daily reminders) went through the services and jobs that
make them on any day, so the bell shows what they told each person.
"""

from __future__ import annotations

import datetime
import functools
import random
import re
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from accounts.models import Team, User
from accounts.roles import Role
from advisory.health import rollups
from advisory.health.services import band_override_set, health_refresh
from advisory.letgo.services import letgo_decide, letgo_propose, letgo_update_offboarding
from advisory.models import (
    Band,
    Client,
    Comment,
    Delivery,
    Disagreement,
    Engagement,
    LetGoCase,
    NotificationKind,
)
from advisory.notifications import triggers
from advisory.notifications.preferences import preference_set
from advisory.records.services import client_save, disagreement_log, engagement_save
from advisory.seeding.content import (
    CALM_NOTE,
    CLIENTS,
    CODE_NAMES,
    DESCRIPTIONS,
    DISPUTES,
    FEES,
    FOLLOW_UPS,
    HOSTILE_NOTE,
    IND,
    NOTES,
    ONGOING_TITLES,
    OPEN_ITEMS,
    OUTCOMES,
    OVERDUE_DAYS,
    OVERRIDE_CLIENT,
    OVERRIDE_DAYS,
    OVERRIDE_REASON,
    PER_CLIENT,
    PROFILES,
    PROJECT_TITLES,
    RECENT,
    REPLIES,
    REVIEW_NOTES,
    SEVERITY_BIAS,
    SKEW,
    TURNING_CLIENT,
    TURNING_POINT,
    VERDICTS,
    VERDICTS_AFTER,
    VERDICTS_AFTER_OVERRIDE,
    WORDS,
    DemoClient,
    Dispute,
    Trajectory,
    V,
)


@dataclass(frozen=True)
class DemoUser:
    username: str
    first_name: str
    last_name: str
    role: Role
    team: str
    manages: bool = False


TEAMS = ["Corporate Advisory", "Private Clients"]
USERS = [
    DemoUser("advisor", "Alex", "Adams", Role.ADVISOR, "Corporate Advisory"),
    DemoUser("advisor2", "Blake", "Brown", Role.ADVISOR, "Private Clients"),
    DemoUser("manager", "Morgan", "Miller", Role.MANAGER, "Corporate Advisory", manages=True),
    DemoUser("admin", "Ari", "Archer", Role.ADMIN, "Corporate Advisory"),
]


@transaction.atomic
def seed_people() -> list[User]:
    """Create the demo teams and users; existing ones are left as they are."""
    teams = {name: Team.objects.get_or_create(name=name)[0] for name in TEAMS}
    users = []
    for spec in USERS:
        user, created = User.objects.get_or_create(
            username=spec.username,
            defaults={
                "first_name": spec.first_name,
                "last_name": spec.last_name,
                "email": f"{spec.username}@candor.example",
                "is_staff": spec.role == Role.ADMIN,
            },
        )
        if created:
            user.set_password(settings.CANDOR_DEMO_PASSWORD)
            user.save(update_fields=["password"])
            # Their addresses are made up: the demo's notifications stay in
            # Candor (the bell), and the demo mails nobody.
            for kind in NotificationKind:
                preference_set(user=user, kind=kind, delivery=Delivery.IN_APP)
        user.groups.add(Group.objects.get(name=spec.role))
        team = teams[spec.team]
        team.members.add(user)
        if spec.manages:
            team.managers.add(user)
        users.append(user)
    return users


# --- Clients, engagements and disagreements ---------------------------------

SEED = "candor-demo-2026"
HISTORY_DAYS = 730  # how far back the disagreements go


def _heat(trajectory: Trajectory, phase: float) -> float:
    """How heated the relationship is at `phase` (0 two years ago, 1 today)."""
    return {
        Trajectory.HEALTHY: 0.12,
        Trajectory.IMPROVING: 0.85 - 0.75 * phase,
        Trajectory.DETERIORATING: 0.1 + 0.85 * phase**2.5,
        Trajectory.ADVERSARIAL: 0.72 + 0.22 * phase,
    }[trajectory]


# --- The mix: how heated a relationship is and what that makes of a dispute --
# Shared with advisory.seeding.scale (the large seeded firm of `seed_scale`). Each
# function draws from `rng` in a fixed order, so a seed gives the same records.


def heat_at(rng: random.Random, trajectory: Trajectory, phase: float) -> float:
    """The heat of one conversation: the trajectory's at `phase`, give or take."""
    return min(1.0, max(0.0, _heat(trajectory, phase) + rng.gauss(0, 0.1)))


def pick_tone(rng: random.Random, heat: float) -> str:
    level = heat + rng.gauss(0, 0.06)
    Tone = Disagreement.Tone
    return Tone.COLLABORATIVE if level < 0.35 else Tone.TENSE if level < 0.65 else Tone.HOSTILE


def pick_severity(rng: random.Random, heat: float, topic: str) -> str:
    gravity = 0.6 * heat + 0.4 * rng.random() + SEVERITY_BIAS.get(topic, 0)
    Severity = Disagreement.Severity
    if gravity < 0.28:
        return Severity.LOW
    if gravity < 0.52:
        return Severity.MODERATE
    return Severity.HIGH if gravity < 0.76 else Severity.CRITICAL


def pick_decision(
    rng: random.Random,
    trajectory: Trajectory,
    *,
    heat: float,
    phase: float,
    age: int,
    can_override: bool,
) -> str:
    """The client's decision, or pending: recent ones may still be open;
    adversarial clients keep some waiting for months."""
    Decision = Disagreement.Decision
    waiting = 0.85 if age <= 7 else 0.55 if age <= 21 else 0.2 if age <= 45 else 0.0
    if trajectory == Trajectory.ADVERSARIAL:
        waiting = waiting + 0.15 if age <= 45 else 0.04
    if rng.random() < waiting:
        return Decision.PENDING
    overriding = 0.04 + 0.75 * heat**1.6
    if trajectory == Trajectory.DETERIORATING:
        overriding += 0.4 * phase**2  # the story: more and more against our advice
    if can_override and rng.random() < overriding:
        return Decision.PROCEEDED
    weights = [0.1 + 0.8 * (1 - heat), 0.15 + 0.35 * heat, 0.08]
    options = [Decision.ACCEPTED, Decision.COMPROMISE, Decision.WITHDREW]
    return rng.choices(options, weights)[0]


def settled_decision(
    rng: random.Random, trajectory: Trajectory, *, heat: float, phase: float, can_override: bool
) -> str:
    """The decision a client has made by now on a conversation long past."""
    while True:
        decision = pick_decision(
            rng,
            trajectory,
            heat=heat,
            phase=phase,
            age=HISTORY_DAYS,
            can_override=can_override,
        )
        if decision != Disagreement.Decision.PENDING:
            return decision


def decision_delay(rng: random.Random, tone: str) -> int:
    """Days between the conversation and the client's decision."""
    return rng.randint(*{"collaborative": (0, 4), "tense": (1, 12), "hostile": (3, 25)}[tone])


def outcome_delay(rng: random.Random, decision: str) -> int:
    """Days between the decision and its outcome: overridden advice takes
    longer to prove right or wrong."""
    return rng.randint(*((30, 200) if decision == Disagreement.Decision.PROCEEDED else (14, 120)))


def pick_verdict(
    rng: random.Random, trajectory: Trajectory, decision: str, dispute: Dispute
) -> str:
    if decision == Disagreement.Decision.PROCEEDED:
        weights = VERDICTS_AFTER_OVERRIDE[trajectory]
    else:
        weights = VERDICTS_AFTER[decision]
    verdict = rng.choices(VERDICTS, weights)[0]
    if decision == Disagreement.Decision.PROCEEDED and not dispute.fine:
        # Some routes can't turn out well (an ethics breach stays one).
        verdict = V.ADVICE_VINDICATED if verdict == V.CLIENT_VINDICATED else verdict
    return verdict


@dataclass(frozen=True)
class SeedSummary:
    clients: int = 0
    engagements: int = 0
    disagreements: int = 0
    reviewed: int = 0

    def __str__(self) -> str:
        if not self.clients:
            return "Demo clients exist already; no records added."
        return (
            f"Demo records: {self.clients} clients, {self.engagements} engagements, "
            f"{self.disagreements} disagreements ({self.reviewed} reviewed)."
        )


def seed_records(today: datetime.date | None = None) -> SeedSummary:
    """Add the demo clients with two years of engagements and disagreements up
    to `today` (default: today; never later than the real today, which the
    models' validation enforces), or nothing when the demo clients exist.

    Needs the demo people (`seed_people()`). Clients and engagements go through
    the services; the two years of disagreements through the same validation
    (see `_Story._write`); the demo's day (`_seed_today`, only when `today` is
    the real today) through the services and the daily reminders job. Every
    change keeps a history entry, logged, saying who made it and, back-dated, when.
    """
    today = today or timezone.localdate()
    if Client.objects.filter(name__in=[spec.name for spec in CLIENTS]).exists():
        return SeedSummary()
    with transaction.atomic():
        story = _Story(today)
        for spec in CLIENTS:
            story.plan_client(spec)
        story.settle()
        story.schedule()
        story.write()
        # The story writes disagreements as record_save would, minus the
        # board's rollups: count them from the log once, now.
        rollups.rebuild(today=today)
        _seed_health(today)
        # The services date what they write now: the demo's day happens
        # only when it is today.
        live = today == timezone.localdate()
        _seed_letgo(notify=live)
        if live:
            _seed_today(today)
    return story.summary


def _seed_today(today: datetime.date) -> None:
    """This morning, through the services and the jobs of any working day: a
    client turns adversarial over a conversation logged now (its lead advisor and
    the team's manager are told), a manager's band override ends within the
    fortnight, and the daily reminders job runs (advisory.tasks.daily_reminders),
    so the bell has something to show when the demo starts."""
    client = Client.objects.get(name=TURNING_CLIENT)
    engagement = (
        client.engagements.open_for_work()
        .filter(status=Engagement.Status.ACTIVE)
        .order_by("start_date", "pk")
        .first()
    )
    turn = TURNING_POINT
    disagreement_log(
        Disagreement(
            engagement=engagement,
            occurred_on=today,
            title=turn.title,
            topic=turn.topic,
            client_request=turn.request,
            recommendation=turn.recommendation,
            rationale=turn.rationale,
            severity=Disagreement.Severity.CRITICAL,
            tone=Disagreement.Tone.HOSTILE,
            follow_up_on=today + _days(2),
        ),
        by=client.lead_advisor,
    )
    band_override_set(
        Client.objects.get(name=OVERRIDE_CLIENT),
        by=User.objects.get(username=next(spec.username for spec in USERS if spec.manages)),
        band=Band.STRAINED,
        reason=OVERRIDE_REASON,
        expires_on=today + _days(OVERRIDE_DAYS),
    )
    triggers.remind_follow_ups(today=today)
    triggers.remind_missing_acknowledgments(today=today)


# Two adversarial relationships on their way out: one approved and half-way
# through offboarding, one freshly proposed and waiting for the admin.
LETGO_APPROVED = "Castellan Hotels Group"
LETGO_PROPOSED = "Redstone Property Developments Ltd"


def _seed_letgo(*, notify: bool) -> None:
    admin = User.objects.get(username="admin")
    approved = _propose(LETGO_APPROVED, by="advisor", reason=LetGoCase.Reason.HOSTILE_CONDUCT)
    approved = letgo_decide(
        approved,
        by=admin,
        approve=True,
        notify=False,
        note="Approved: the log shows repeated hostility and advice overridden against "
        "written warnings. Offboard with the full notice period.",
    )
    letgo_update_offboarding(
        approved,
        by=admin,
        expected_version=approved.version,
        check_conflicts=True,
        check_notice_sent=True,
        referral_note="Harrow & Quint LLP handle hotel groups of this size.",
        # The deadlines the letter states (from the real today: none may have passed).
        deadlines=[
            {
                "description": "File the VAT return for the quarter to 31 March",
                "due_on": timezone.localdate() + datetime.timedelta(days=40),
            },
            {
                "description": "Pay the corporation tax balance for 2026",
                "due_on": timezone.localdate() + datetime.timedelta(days=75),
            },
        ],
    )
    # Proposed today: the administrators are told, as they would be.
    _propose(LETGO_PROPOSED, by="manager", reason=LetGoCase.Reason.OVERRIDDEN_ADVICE, notify=notify)


def _propose(name: str, *, by: str, reason: str, notify: bool = False) -> LetGoCase:
    client = Client.objects.get(name=name)
    worst = client.disagreements.filter(
        decision=Disagreement.Decision.PROCEEDED
    ) | client.disagreements.filter(tone=Disagreement.Tone.HOSTILE)
    evidence = list(worst.order_by("-occurred_on")[:4])
    return letgo_propose(
        client,
        notify=notify,
        by=User.objects.get(username=by),
        reason=reason,
        justification=(
            f"{client.name} has overridden our advice again and again, often with hostility, "
            "and the overrides keep proving costly for them. We cannot serve them properly "
            "any more and are exposed ourselves. The linked disagreements show the pattern."
        ),
        evidence=evidence,
    )


def _seed_health(today: datetime.date) -> None:
    """A year of weekly health snapshots, as if the nightly job had been running.

    Past weeks are scored from today's records (a decision recorded later
    counts from the day it was recorded in real use); close enough for a demo.
    """
    clients = list(Client.objects.filter(name__in=[spec.name for spec in CLIENTS]))
    for weeks_ago in range(52, -1, -1):
        as_of = today - datetime.timedelta(weeks=weeks_ago)
        for client in clients:
            health_refresh(client, as_of=as_of, notify=False)  # history, not news


@dataclass
class _Engagement:
    record: Engagement
    members: list[User]
    opens: datetime.date  # disagreements from this day...
    closes: datetime.date  # ...to this one
    ongoing: bool


@dataclass
class _Context:
    """What a disagreement's plan was drawn from, for settling it later."""

    spec: DemoClient
    dispute: Dispute
    heat: float
    phase: float
    rng: random.Random  # its own: settling and timing it draw nothing from the client's


@dataclass
class _Disagreement:
    engagement: _Engagement
    logged_by: User
    facts: dict
    decision: dict
    acknowledgment: dict
    outcome: dict
    review_note: str = ""
    reply: str = ""
    record: Disagreement | None = None
    story: _Context | None = None
    steps: list[tuple[datetime.date, int, Callable]] = field(default_factory=list)
    reviewed: tuple[datetime.date, str] | None = None  # the review: day, state found
    reviewer: User | None = None

    @property
    def day(self) -> datetime.date:
        return self.facts["occurred_on"]

    @property
    def client_name(self) -> str:
        return self.engagement.record.client.name

    @property
    def follow_up_on(self) -> datetime.date | None:
        return self.facts.get("follow_up_on")

    def waiting_for(self) -> str:
        """What the disagreement still waits for once all its steps are written,
        as Disagreement.open_q() sees it ("" when it is closed)."""
        decision = self.decision.get("decision", Disagreement.Decision.PENDING)
        if decision == Disagreement.Decision.PENDING:
            return "decision"
        if decision == Disagreement.Decision.PROCEEDED and not self.acknowledgment:
            return "acknowledgment"
        if decision in Disagreement.DECISIONS_WITH_OUTCOME and not self.outcome:
            return "outcome"
        return ""


class _Story:
    """Plans every record and every change to it first, then writes them all in
    time order, so that ids and history follow the calendar."""

    def __init__(self, today: datetime.date) -> None:
        self.today = today
        self.latest = timezone.now() - datetime.timedelta(minutes=1)
        usernames = [spec.username for spec in USERS]
        self.users = {u.username: u for u in User.objects.filter(username__in=usernames)}
        missing = [name for name in usernames if name not in self.users]
        if missing:
            raise ValueError(f"Run seed_people() first: no user {', '.join(missing)}.")
        self.teams = {team.name: team for team in Team.objects.filter(name__in=TEAMS)}
        self.team_of = {spec.username: spec.team for spec in USERS}
        # The people who do client work on each team (the admin doesn't).
        self.colleagues = {
            team: [self.users[s.username] for s in USERS if s.team == team and s.role != Role.ADMIN]
            for team in TEAMS
        }
        # Who reviews each team's disagreements: its manager, else the admin.
        self.reviewers = {spec.team: self.users[spec.username] for spec in USERS if spec.manages}
        self.admin = next(self.users[spec.username] for spec in USERS if spec.role == Role.ADMIN)
        self.events: list[tuple[datetime.datetime, int, Callable[[], None]]] = []
        self.plans: list[_Disagreement] = []
        # Who works on each client personally (Client.PEOPLE): its lead advisor,
        # and the lead and members of any of its engagements.
        self.people: dict[str, set[User]] = {}
        self.counts = {"engagements": 0, "disagreements": 0, "reviewed": 0}

    @property
    def summary(self) -> SeedSummary:
        return SeedSummary(clients=len(CLIENTS), **self.counts)

    def at(
        self, day: datetime.date, rng: random.Random, hour: int, minutes: int, *, minute: int = 0
    ) -> datetime.datetime:
        """A moment on `day` from `hour:minute` within `minutes`, never in the future."""
        moment = datetime.datetime.combine(day, datetime.time(hour, minute))
        moment += datetime.timedelta(minutes=rng.randint(0, minutes))
        return min(timezone.make_aware(moment), self.latest)

    def add(self, when: datetime.datetime, action: Callable, *args) -> None:
        self.events.append((when, len(self.events), functools.partial(action, when, *args)))

    def write(self) -> None:
        for _when, _order, action in sorted(self.events, key=lambda event: event[:2]):
            action()

    # Planning ----------------------------------------------------------------

    def plan_client(self, spec: DemoClient) -> None:
        rng = random.Random(f"{SEED}:{spec.name}")
        today = self.today
        if rng.random() < 0.2:
            since = today - _days(rng.randint(420, 700))
        else:
            since = today - _days(rng.randint(800, 4000))
        client = Client(
            name=spec.name,
            kind=spec.kind,
            sector=spec.sector,
            contact_name=spec.contact,
            contact_email=_email(spec),
            contact_phone=_phone(spec, rng),
            lead_advisor=self.users[spec.lead],
            team=self.teams[self.team_of[spec.lead]],
            client_since=since,
            notes=NOTES.get(spec.name, ""),
        )
        # Candor came in a month before the two years of disagreements.
        entered = max(since, today - _days(HISTORY_DAYS + 30))
        self.add(self.at(entered, rng, 8, 25), self.save_client, client)
        first_day = max(today - _days(HISTORY_DAYS), since + _days(21))
        engagements = self.plan_engagements(rng, spec, client, since, entered, first_day)
        self.people[spec.name] = {client.lead_advisor}.union(
            *({e.record.lead_advisor, *e.members} for e in engagements)
        )
        self.plan_disagreements(rng, spec, engagements, first_day)

    def plan_engagements(
        self,
        rng: random.Random,
        spec: DemoClient,
        client: Client,
        since: datetime.date,
        entered: datetime.date,
        first_day: datetime.date,
    ) -> list[_Engagement]:
        today = self.today
        profile = spec.profile or ("private" if spec.kind == IND else "company")
        ongoing_lines, project_lines = PROFILES[profile]
        line = rng.choice(ongoing_lines)
        engagements = [
            self.plan_engagement(rng, client, line, ONGOING_TITLES[line], since, None, entered)
        ]
        used = set()
        span = (today - first_day).days
        count = rng.choice([2, 3, 3, 4])
        for number in range(1, count):
            options = [(ln, t) for ln in project_lines for t in PROJECT_TITLES[ln] if t not in used]
            line, title = rng.choice(options)
            used.add(title)
            if number == count - 1 and rng.random() < 0.2:
                start, opens = None, today - _days(rng.randint(5, 40))
            else:
                start = first_day + _days(rng.randint(0, span - 60))
                opens = start
            title = title.format(year=(start or today).year, code=rng.choice(CODE_NAMES))
            engagement = self.plan_engagement(rng, client, line, title, start, opens, opens)
            engagements.append(engagement)
            if start is None:
                continue
            end = start + _days(rng.randint(90, 330))
            record, lead = engagement.record, engagement.record.lead_advisor
            if end <= today - _days(7):
                engagement.closes = end
                status = Engagement.Status.COMPLETED
                if (
                    spec.trajectory in (Trajectory.DETERIORATING, Trajectory.ADVERSARIAL)
                    and rng.random() < 0.3
                ):
                    status = Engagement.Status.TERMINATED
                when = self.at(end, rng, 18, 30)
                self.add(when, self.change_engagement, record, lead, status, end)
            elif rng.random() < 0.12:
                paused = max(start + _days(30), today - _days(rng.randint(10, 60)))
                when = self.at(paused, rng, 18, 30)
                self.add(when, self.change_engagement, record, lead, Engagement.Status.ON_HOLD)
        self.counts["engagements"] += len(engagements)
        return engagements

    def plan_engagement(
        self,
        rng: random.Random,
        client: Client,
        line: str,
        title: str,
        start: datetime.date | None,
        opens: datetime.date | None,
        entered: datetime.date,
    ) -> _Engagement:
        colleagues = self.colleagues[client.team.name]
        lead = client.lead_advisor
        others = [person for person in colleagues if person != lead]
        if others and rng.random() < 0.2:
            lead = rng.choice(others)
        members = list(dict.fromkeys([lead, client.lead_advisor]))
        extra = [person for person in colleagues if person not in members]
        if extra and rng.random() < 0.3:
            members.append(rng.choice(extra))
        low, high = FEES[line]
        fee = None if rng.random() < 0.1 else Decimal(rng.randrange(low, high + 1, 250))
        record = Engagement(
            client=client,
            title=title,
            service_line=line,
            lead_advisor=lead,
            status=Engagement.Status.ACTIVE if start else Engagement.Status.PROPOSED,
            start_date=start,
            fee=fee,
            description=DESCRIPTIONS[line],
        )
        when = self.at(entered, rng, 8, 25, minute=30)
        self.add(when, self.open_engagement, record, members)
        return _Engagement(record, members, opens or start, self.today, ongoing=opens is None)

    def plan_disagreements(
        self,
        rng: random.Random,
        spec: DemoClient,
        engagements: list[_Engagement],
        first_day: datetime.date,
    ) -> None:
        today = self.today
        span = (today - first_day).days
        recent, within = RECENT[spec.trajectory]
        days = []
        for number in range(rng.randint(*PER_CLIENT[spec.trajectory])):
            if number < recent:
                day = today - _days(rng.randint(0, within))
            else:
                day = first_day + _days(round(rng.random() ** SKEW[spec.trajectory] * span))
            days.append(working_day(day))
        used: set[str] = set()
        for day in sorted(days):
            phase = max(0.0, (day - first_day).days / span)
            self.plan_disagreement(rng, spec, engagements, day, phase, used)
        self.counts["disagreements"] += len(days)

    def plan_disagreement(
        self,
        rng: random.Random,
        spec: DemoClient,
        engagements: list[_Engagement],
        day: datetime.date,
        phase: float,
        used: set[str],
    ) -> None:
        today, age = self.today, (self.today - day).days
        covering = [e for e in engagements if e.opens <= day <= e.closes]
        engagement = rng.choices(covering, [1 if e.ongoing else 2 for e in covering])[0]
        dispute = self.pick_dispute(rng, spec, engagement.record.service_line, used)

        heat = heat_at(rng, spec.trajectory, phase)
        tone = pick_tone(rng, heat)
        severity = pick_severity(rng, heat, dispute.topic)
        person = engagement.record.lead_advisor
        if len(engagement.members) > 1 and rng.random() < 0.3:
            person = rng.choice(engagement.members)
        facts = {
            "occurred_on": day,
            "title": dispute.title,
            "topic": dispute.topic,
            "client_request": dispute.request,
            "recommendation": dispute.recommendation,
            "rationale": dispute.rationale,
            "severity": severity,
            "tone": tone,
        }
        plan = _Disagreement(engagement, person, facts, {}, {}, {})
        plan.story = _Context(
            spec, dispute, heat, phase, random.Random(f"{SEED}:{spec.name}:{len(self.plans)}")
        )
        self.plans.append(plan)
        steps = plan.steps
        steps.append((day, 0, self.log_disagreement))

        # The client's decision: recent ones may still be open; adversarial
        # clients keep some waiting for months.
        Decision = Disagreement.Decision
        decision = pick_decision(
            rng,
            spec.trajectory,
            heat=heat,
            phase=phase,
            age=age,
            can_override=bool(dispute.against),
        )
        if decision != Decision.PENDING:
            decided = min(day + _days(decision_delay(rng, tone)), today)
            plan.decision = {"decision": decision, "decided_on": decided}
            steps.append((decided, 1, self.record_decision))

        acknowledged = None
        if decision == Decision.PROCEEDED:
            likely = 0.9 if spec.trajectory == Trajectory.DETERIORATING else 0.75
            acknowledged = decided + _days(rng.randint(0, 8))
            if rng.random() < likely and acknowledged <= today:
                self.plan_acknowledgment(rng, plan, acknowledged)
            else:
                acknowledged = None

        if decision in Disagreement.DECISIONS_WITH_OUTCOME:
            # Overridden advice takes longer to prove right or wrong.
            recorded = decided + _days(outcome_delay(rng, decision))
            verdict = pick_verdict(rng, spec.trajectory, decision, dispute)
            if recorded <= today:
                plan.outcome = {
                    "verdict": verdict,
                    "outcome": outcome_text(dispute, decision, verdict),
                    "outcome_recorded_on": recorded,
                }
                steps.append((recorded, 5, self.record_outcome))

        # Every disagreement is reviewed within a fortnight or so, by the team's
        # manager (by the admin where the team has none, and for the manager's
        # own), so the last days' wait for review; a few grave ones get a note.
        grave = tone == Disagreement.Tone.HOSTILE or severity in ("high", "critical")
        reviewed = working_day(day + _days(rng.randint(2, 12)))
        if reviewed <= day:
            reviewed = day + _days(3)  # Friday's, on Monday
        if reviewed < today:
            reviewer = self.reviewers.get(engagement.record.client.team.name, self.admin)
            plan.reviewer = self.admin if reviewer == person else reviewer
            if decision == Decision.PENDING or decided > reviewed:
                state = "pending"
            elif decision != Decision.PROCEEDED:
                state = "settled"
            elif acknowledged and acknowledged <= reviewed:
                state = "acknowledged"
            else:
                state = "unacknowledged"
            plan.reviewed = (reviewed, state)
            steps.append((reviewed, 3, self.review))
            self.counts["reviewed"] += 1
            if grave and age >= 10 and rng.random() < 0.12:
                plan.review_note = REVIEW_NOTES[state].format(
                    client=engagement.record.client.name, advisor=person.first_name
                )
                if tone == Disagreement.Tone.HOSTILE:
                    plan.review_note += HOSTILE_NOTE
                elif state in ("acknowledged", "settled"):
                    plan.review_note += CALM_NOTE
                if rng.random() < 0.35:
                    reply = REPLIES[0] if state == "unacknowledged" else rng.choice(REPLIES[1:])
                    plan.reply = reply.format(manager=plan.reviewer.first_name)
                    replied = min(reviewed + _days(rng.randint(1, 3)), today)
                    steps.append((replied, 4, self.reply))

    def plan_acknowledgment(
        self, rng: random.Random, plan: _Disagreement, acknowledged: datetime.date
    ) -> None:
        spec, dispute, day = plan.story.spec, plan.story.dispute, plan.day
        hostile = plan.facts["tone"] == Disagreement.Tone.HOSTILE
        words = rng.choice(WORDS[(spec.kind, hostile)])
        method = rng.choices(list(Disagreement.AcknowledgmentMethod), [4, 3, 2, 1])[0]
        advised = f"{day.day} {day:%B %Y}"
        plan.acknowledgment = {
            "risk_acknowledged": True,
            "acknowledged_on": acknowledged,
            "acknowledgment_method": method,
            "client_words": words.format(
                advised=advised, against=dispute.against, risk=dispute.risk
            ),
        }
        plan.steps.append((acknowledged, 2, self.acknowledge))

    # Settling: the demo's day ---------------------------------------------------

    def settle(self) -> None:
        """Leave each person with clients a working day's open items (OPEN_ITEMS),
        the most recent ones, and settle the older ones as a firm that keeps up
        with its log would have: the decision recorded, the acknowledgment
        received, the outcome known. Then set their follow-ups (FOLLOW_UPS).

        People share clients (a colleague on an engagement sees its client's
        items too): each person counts what an earlier one left open for them
        and settles only the items nobody has counted yet.
        """
        counted: set[int] = set()
        for spec in USERS:
            person = self.users[spec.username]
            mine = [p for p in self.plans if person in self.people[p.client_name]]
            if not mine:
                continue
            earlier = [p for p in mine if id(p) in counted]
            own = [p for p in mine if id(p) not in counted]
            left_open = Counter(p.waiting_for() for p in earlier if p.waiting_for())
            for plan in sorted(own, key=lambda p: p.day, reverse=True):
                waiting = plan.waiting_for()
                if not waiting:
                    continue
                if left_open[waiting] < OPEN_ITEMS[waiting]:
                    left_open[waiting] += 1
                else:
                    self.settle_plan(plan)
            self.plan_follow_ups(earlier, own)
            counted.update(id(p) for p in own)

    def settle_plan(self, plan: _Disagreement) -> None:
        """Record what an open disagreement still waits for, on plausible days up
        to today: decided after the manager's review that found it pending,
        acknowledged after one that found it unacknowledged."""
        today, story, rng = self.today, plan.story, plan.story.rng
        reviewed, state = plan.reviewed or (None, "")
        Decision = Disagreement.Decision
        if not plan.decision:
            decision = settled_decision(
                rng,
                story.spec.trajectory,
                heat=story.heat,
                phase=story.phase,
                can_override=bool(story.dispute.against),
            )
            decided = plan.day + _days(decision_delay(rng, plan.facts["tone"]))
            if state == "pending":
                decided = max(decided, reviewed + _days(1))
            plan.decision = {"decision": decision, "decided_on": min(decided, today)}
            plan.steps.append((plan.decision["decided_on"], 1, self.record_decision))
        decision, decided = plan.decision["decision"], plan.decision["decided_on"]
        settled = decided
        if decision == Decision.PROCEEDED and not plan.acknowledgment:
            acknowledged = decided + _days(rng.randint(0, 8))
            if state == "unacknowledged":
                acknowledged = max(acknowledged, reviewed + _days(1))
            settled = min(acknowledged, today)
            self.plan_acknowledgment(rng, plan, settled)
        if decision in Disagreement.DECISIONS_WITH_OUTCOME and not plan.outcome:
            verdict = pick_verdict(rng, story.spec.trajectory, decision, story.dispute)
            recorded = decided + _days(outcome_delay(rng, decision))
            if recorded > today:
                # Known sooner than it would usually be: a few days ago at the latest.
                recorded = today - _days(rng.randint(0, 10))
            plan.outcome = {
                "verdict": verdict,
                "outcome": outcome_text(story.dispute, decision, verdict),
                "outcome_recorded_on": max(recorded, settled),
            }
            plan.steps.append((plan.outcome["outcome_recorded_on"], 5, self.record_outcome))

    def plan_follow_ups(self, earlier: list[_Disagreement], own: list[_Disagreement]) -> None:
        """Follow-ups on a person's open items, set when each was logged: the
        oldest are overdue, the next due this week, some later; what an earlier
        person's items already have counts."""
        today = self.today
        due = Counter(
            "overdue" if p.follow_up_on < today else "due"
            for p in earlier
            if p.waiting_for() and p.follow_up_on and p.follow_up_on <= today + _days(7)
        )
        for plan in sorted((p for p in own if p.waiting_for()), key=lambda p: p.day):
            rng = plan.story.rng
            if due["overdue"] < FOLLOW_UPS["overdue"] and plan.day < today - _days(1):
                follow_up = max(today - _days(rng.randint(1, OVERDUE_DAYS)), plan.day + _days(1))
                due["overdue"] += 1
            elif due["due"] < FOLLOW_UPS["due"]:
                follow_up = today + _days(rng.randint(0, 7))
                due["due"] += 1
            elif rng.random() < 0.4:
                follow_up = today + _days(rng.randint(10, 30))
            else:
                continue
            plan.facts["follow_up_on"] = follow_up

    def schedule(self) -> None:
        """Each planned step becomes an event at a moment of its day, in order."""
        for plan in self.plans:
            rng, when = plan.story.rng, None
            for step_day, _order, action in sorted(plan.steps, key=lambda step: step[:2]):
                moment = self.at(step_day, rng, 9, 480)
                if when is not None:
                    moment = min(max(moment, when + datetime.timedelta(minutes=10)), self.latest)
                when = moment
                self.add(when, action, plan)

    def pick_dispute(
        self, rng: random.Random, spec: DemoClient, line: str, used: set[str]
    ) -> Dispute:
        """One that fits the service line and that this client hasn't had yet, until
        all of them have come up once."""
        fitting = [
            d for d in DISPUTES if line in d.lines or (not d.lines and d.kind in ("", spec.kind))
        ]
        fresh = [d for d in fitting if d.title not in used]
        if not fresh:
            used.difference_update(d.title for d in fitting)
            fresh = fitting
        dispute = rng.choices(fresh, [3 if d.lines else 1 for d in fresh])[0]
        used.add(dispute.title)
        return dispute

    # Writing -----------------------------------------------------------------

    def save_client(self, when: datetime.datetime, client: Client) -> None:
        client._history_date = when
        client_save(client, by=client.lead_advisor)

    def open_engagement(self, when: datetime.datetime, record: Engagement, members) -> None:
        record.client = record.client  # saved since it was planned: take its id
        record._history_date = when
        engagement_save(record, by=record.lead_advisor, members=members)

    def change_engagement(
        self,
        when: datetime.datetime,
        record: Engagement,
        by: User,
        status: str,
        end: datetime.date | None = None,
    ) -> None:
        record.status = status
        record.end_date = end
        record._history_date = when
        label = Engagement.Status(status).label
        engagement_save(record, by=by, reason=label, expected_version=record.version)

    # The disagreements skip the services' database round trips (re-reading the
    # row, checking that rows just written exist, re-testing the check
    # constraints the database enforces anyway): through the services the seed
    # took four times as long. What they validate in Python, the reasons they
    # give and the history they keep stay the same, and history.log logs each
    # entry as it is written (verify_log checks them). The services would also
    # score the client after each change, telling its people today of every band
    # it passed through in two years: the story scores once it is written
    # (_seed_health, telling nobody), and only this morning's news is told.

    def log_disagreement(self, when: datetime.datetime, plan: _Disagreement) -> None:
        record = Disagreement(
            engagement=plan.engagement.record,
            client=plan.engagement.record.client,
            logged_by=plan.logged_by,
            **plan.facts,
        )
        plan.record = self._write(when, record, plan.logged_by, "Logged")

    def record_decision(self, when: datetime.datetime, plan: _Disagreement) -> None:
        label = Disagreement.Decision(plan.decision["decision"]).label
        self._write(when, plan.record, plan.logged_by, f"Decision: {label}", plan.decision)

    def acknowledge(self, when: datetime.datetime, plan: _Disagreement) -> None:
        # The decision form records the acknowledgment too.
        label = Disagreement.Decision.PROCEEDED.label
        self._write(when, plan.record, plan.logged_by, f"Decision: {label}", plan.acknowledgment)

    def record_outcome(self, when: datetime.datetime, plan: _Disagreement) -> None:
        label = Disagreement.Verdict(plan.outcome["verdict"]).label
        self._write(when, plan.record, plan.logged_by, f"Outcome: {label}", plan.outcome)

    def review(self, when: datetime.datetime, plan: _Disagreement) -> None:
        values = {"reviewed_at": when, "reviewed_by": plan.reviewer}
        self._write(when, plan.record, plan.reviewer, "Reviewed: facts locked", values)
        if plan.review_note:
            self._comment(when, plan.record, plan.reviewer, plan.review_note)

    def reply(self, when: datetime.datetime, plan: _Disagreement) -> None:
        self._comment(when, plan.record, plan.logged_by, plan.reply)

    @staticmethod
    def _write(
        when: datetime.datetime,
        record: Disagreement,
        by: User,
        reason: str,
        values: dict | None = None,
    ) -> Disagreement:
        """What record_save does for a new or changed disagreement."""
        for name, value in (values or {}).items():
            setattr(record, name, value)
        record.full_clean(
            exclude=["engagement", "client", "logged_by", "reviewed_by"],
            validate_unique=False,
            validate_constraints=False,
        )
        if record.pk:
            record.version += 1
        record._history_user = by
        record._history_date = when
        record._change_reason = reason
        record.save()
        return record

    @staticmethod
    def _comment(when: datetime.datetime, record: Disagreement, author: User, body: str) -> None:
        # Like comment_add, but written when it happened.
        comment = Comment(disagreement=record, author=author, body=body, created_at=when)
        comment.full_clean()
        comment._history_user = author
        comment._history_date = when
        comment.save()


def _days(count: int) -> datetime.timedelta:
    return datetime.timedelta(days=count)


def working_day(day: datetime.date) -> datetime.date:
    """The day itself, or the Friday before a weekend."""
    return day - _days(max(0, day.weekday() - 4))


def outcome_text(dispute: Dispute, decision: str, verdict: str) -> str:
    if decision != Disagreement.Decision.PROCEEDED:
        return OUTCOMES[(decision, verdict)]
    if verdict == V.ADVICE_VINDICATED:
        return dispute.happened
    if verdict == V.CLIENT_VINDICATED:
        return dispute.fine
    return OUTCOMES[(decision, verdict)].format(risk=dispute.risk)


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


def _email(spec: DemoClient) -> str:
    names = _ascii(spec.contact).split()
    if spec.kind == IND:
        return f"{names[0]}.{names[-1]}@post.example"
    words = re.findall(r"[a-z]+", _ascii(spec.name).replace("'", ""))
    domain = "".join(w for w in words if w not in {"ltd", "plc", "llp", "the", "holdings", "co"})
    return f"{names[0][0]}.{names[-1]}@{domain}.example"


def _phone(spec: DemoClient, rng: random.Random) -> str:
    # Ofcom's ranges reserved for drama: never anyone's real number.
    number = rng.randint(0, 999)
    return f"07700 900{number:03}" if spec.kind == IND else f"020 7946 0{number:03}"
