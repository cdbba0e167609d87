"""A large firm for performance work (`manage.py seed_scale`, `make bench`).

Ten thousand clients, forty thousand engagements and a million disagreements
over five years, with the demo's mix: the same trajectories, disputes, and the
same rules for tone, severity, decisions and outcomes (`advisory.seeding.demo`), so the
pages show what a real firm's would. Everything is planned in memory first and
then written in bulk: COPY on PostgreSQL, `executemany` elsewhere.

Bulk writes skip the per-row history (django-simple-history) and therefore the
hash chain: acceptable only because this is generated seed data that nobody
logged. `verify_log` still reports the chain intact: the rows have no history
entries, so there are no links to check.

Seed rows are recognisable: usernames start with `scale-`, team names with
`Scale `, and every client is led by a seed user.
"""

from __future__ import annotations

import bisect
import datetime
import io
import json
import math
import random
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.core.management.color import no_style
from django.db import connection, models, transaction
from django.utils import timezone

from accounts.models import Team, User
from accounts.roles import Role
from advisory.health import rollups
from advisory.health import score as scoring
from advisory.health.score import Facts
from advisory.models import (
    Client,
    ClientMonth,
    ClientStats,
    Disagreement,
    Engagement,
    HealthSnapshot,
)
from advisory.seeding.content import (
    CLIENTS,
    CODE_NAMES,
    DESCRIPTIONS,
    DISPUTES,
    FEES,
    IND,
    ONGOING_TITLES,
    PER_CLIENT,
    PROFILES,
    PROJECT_TITLES,
    RECENT,
    SKEW,
    WORDS,
    Dispute,
    Trajectory,
)
from advisory.seeding.demo import (
    decision_delay,
    heat_at,
    outcome_delay,
    outcome_text,
    pick_decision,
    pick_severity,
    pick_tone,
    pick_verdict,
    working_day,
)

PREFIX = "scale-"
TEAM_PREFIX = "Scale "
DEFAULT_PASSWORD = "candor-scale"
# The logins `make bench` uses: the manager of the biggest team, and the
# advisor on that team who leads the most clients.
MANAGER = f"{PREFIX}manager"
ADVISOR = f"{PREFIX}advisor"
ADMIN = f"{PREFIX}admin"

YEARS = 5
CLIENTS_PER_TEAM = 500
CLIENTS_PER_ADVISOR = 40
ENGAGEMENTS_PER_CLIENT = [3, 4, 4, 5]  # 4 on average
COPY_CHUNK = 20_000

D = Disagreement
PRACTICES = [
    "Corporate Advisory",
    "Private Clients",
    "Audit & Assurance",
    "Tax",
    "Transactions",
    "Restructuring",
    "Risk & Compliance",
    "Family Office",
]
FIRST_NAMES = sorted(
    {spec.contact.split()[0] for spec in CLIENTS}
    | {"Amira", "Ben", "Chloe", "Dev", "Elif", "Femi", "Grace", "Hamza", "Iris", "Jonah"}
)
LAST_NAMES = sorted(
    {spec.contact.split()[-1] for spec in CLIENTS}
    | {"Adeyemi", "Baker", "Carter", "Dunn", "Evans", "Fischer", "Gallagher", "Hughes"}
)
NAME_PLACES = [
    "Harbour", "Greenfield", "Northwind", "Castle", "Brightwater", "Meridian", "Quarry",
    "Oakridge", "Tessera", "Kestrel", "Marlow", "Pemberton", "Saltmarsh", "Ravenscourt",
    "Vortex", "Alder", "Lumen", "Fairweather", "Copperline", "Atlas", "Bellweather",
    "Redstone", "Halcyon", "Ashford", "Blackthorn", "Cedar", "Dunmore", "Elmstead",
    "Foxglove", "Granite", "Hawthorn", "Ironbridge", "Juniper", "Kingsmere", "Larkspur",
    "Millbrook", "Northgate", "Orchard", "Pinewood", "Queensway", "Riverside", "Stonebridge",
    "Thornbury", "Upland", "Valley", "Westbrook", "Yarrow", "Zenith", "Anchor", "Beacon",
    "Compass", "Driftwood", "Evergreen", "Falcon", "Glenmore", "Highfield", "Islington",
    "Jubilee", "Keystone", "Lighthouse", "Moorland", "Newhaven", "Oldcastle", "Portland",
]  # fmt: skip
NAME_TRADES = [
    "Logistics", "Dairy", "Software", "Hotels", "Utilities", "Dental", "Builders", "Biotech",
    "Aviation", "Retail", "Seafoods", "Engineering", "Media", "Surveyors", "Renewables",
    "Foods", "Telecom", "Freight", "Capital", "Developments", "Gaming", "Motors", "Estates",
    "Pharma", "Textiles", "Robotics", "Brewery", "Printing", "Marine", "Security",
    "Recruitment", "Packaging", "Analytics", "Architects", "Ceramics", "Furniture",
]  # fmt: skip
# The demo tells a story with one client in five adversarial; across a large
# firm most relationships are healthy.
TRAJECTORY_MIX = {
    Trajectory.HEALTHY: 65,
    Trajectory.IMPROVING: 12,
    Trajectory.DETERIORATING: 13,
    Trajectory.ADVERSARIAL: 10,
}
ORG_SUFFIXES = ["Ltd", "plc", "LLP", "Group", "Holdings", "& Co"]
INITIALS = "ABCDEFGHJKLMNPRSTW"


@dataclass(frozen=True)
class ScaleSummary:
    teams: int
    users: int
    clients: int
    engagements: int
    disagreements: int
    snapshots: int
    seconds: float

    def __str__(self) -> str:
        return (
            f"Seeded {self.teams} teams, {self.users} users, {self.clients:,} clients, "
            f"{self.engagements:,} engagements, {self.disagreements:,} disagreements and "
            f"{self.snapshots:,} health snapshots in {self.seconds:.0f} s."
        )


def seed_rows_present() -> int:
    """How many seed users there are (0: the firm has not been seeded)."""
    return User.objects.filter(username__startswith=PREFIX).count()


def foreign_data() -> list[str]:
    """What the database holds besides seed data (and the rows migrations create)."""
    found = []
    checks = [
        ("users", User.objects.exclude(username__startswith=PREFIX)),
        ("teams", Team.objects.exclude(name__startswith=TEAM_PREFIX)),
        ("clients", Client.objects.exclude(lead_advisor__username__startswith=PREFIX)),
    ]
    for noun, queryset in checks:
        count = queryset.count()
        if count:
            found.append(f"{count} {noun}")
    return found


# --- Planning --------------------------------------------------------------------


@dataclass
class _Person:
    pk: int
    username: str
    role: Role
    team: int  # index into the teams


@dataclass
class _Engagement:
    pk: int
    line: str
    lead: int  # user pk
    members: list[int]
    opens: datetime.date
    closes: datetime.date
    ongoing: bool


@dataclass
class _Plan:
    """Everything to write, as rows in the order of each table's columns."""

    clients: list[tuple] = field(default_factory=list)
    engagements: list[tuple] = field(default_factory=list)
    members: list[tuple] = field(default_factory=list)
    disagreements: list[tuple] = field(default_factory=list)
    snapshots: list[tuple] = field(default_factory=list)


CLIENT_FIELDS = [
    "id", "name", "kind", "sector", "contact_name", "contact_email", "contact_phone",
    "postal_address", "lead_advisor_id", "team_id", "client_since", "notes", "status",
    "health_score", "health_band", "health_trend", "health_updated_at", "is_archived",
    "version", "created_at", "updated_at",
]  # fmt: skip
ENGAGEMENT_FIELDS = [
    "id", "client_id", "title", "service_line", "lead_advisor_id", "status", "start_date",
    "end_date", "fee", "description", "is_archived", "version", "created_at", "updated_at",
]  # fmt: skip
DISAGREEMENT_FIELDS = [
    "engagement_id", "client_id", "logged_by_id", "occurred_on", "title", "topic",
    "client_request", "recommendation", "rationale", "severity", "tone", "decision",
    "decided_on", "risk_acknowledged", "acknowledged_on", "acknowledgment_method",
    "client_words", "outcome", "verdict", "outcome_recorded_on", "follow_up_on",
    "reviewed_at", "reviewed_by_id", "is_archived", "version", "created_at", "updated_at",
]  # fmt: skip
SNAPSHOT_FIELDS = ["client_id", "date", "score", "band", "components"]


class _Firm:
    """Plans the firm. One random generator per client (seeded from `seed` and
    the client's number), so a seed always gives the same firm."""

    def __init__(
        self,
        *,
        clients: int,
        disagreements: int,
        seed: str,
        today: datetime.date,
        snapshot_months: int,
    ) -> None:
        self.client_count = clients
        self.disagreement_count = disagreements
        self.seed = seed
        self.today = today
        self.first_day = today - datetime.timedelta(days=round(365.25 * YEARS))
        self.snapshot_months = snapshot_months
        self.now = timezone.now()
        self.weights = settings.CANDOR_HEALTH
        self.plan = _Plan()
        self.names: set[str] = {n.lower() for n in Client.objects.values_list("name", flat=True)}
        # Fitting disputes per (service line, kind), with the demo's weights.
        self.disputes: dict[tuple[str, str], tuple[list[Dispute], list[float]]] = {}
        self.mornings: dict[datetime.date, datetime.datetime] = {}

    # People --------------------------------------------------------------------

    def people(self, password: str) -> tuple[list[Team], list[_Person]]:
        rng = random.Random(f"{self.seed}:people")
        team_count = max(1, round(self.client_count / CLIENTS_PER_TEAM))
        advisor_count = max(2 * team_count, self.client_count // CLIENTS_PER_ADVISOR)
        teams = Team.objects.bulk_create(
            Team(name=f"{TEAM_PREFIX}{PRACTICES[i % len(PRACTICES)]} {i // len(PRACTICES) + 1}")
            for i in range(team_count)
        )
        # The first team is the biggest: twice the share of clients and advisors.
        self.team_weights = [2.0] + [1.0] * (team_count - 1)
        specs: list[tuple[str, Role, int]] = [(ADMIN, Role.ADMIN, 0)]
        for t in range(team_count):
            name = MANAGER if t == 0 else f"{PREFIX}manager-{t + 1:02}"
            specs.append((name, Role.MANAGER, t))
        # Advisors in proportion to each team's clients (the bench advisor is the first team's).
        per_team = _share(advisor_count - 1, self.team_weights, rng)
        team_of_advisor = [t for t, n in enumerate(per_team) for _ in range(n)]
        specs.append((ADVISOR, Role.ADVISOR, 0))
        specs += [
            (f"{PREFIX}advisor-{n + 2:04}", Role.ADVISOR, t) for n, t in enumerate(team_of_advisor)
        ]
        hashed = make_password(password)  # one hash for all: hashing is slow on purpose
        joined = timezone.make_aware(datetime.datetime.combine(self.first_day, datetime.time(9)))
        users = User.objects.bulk_create(
            User(
                username=name,
                first_name=rng.choice(FIRST_NAMES),
                last_name=rng.choice(LAST_NAMES),
                email=f"{name}@scale.candor.example",
                password=hashed,
                is_staff=role == Role.ADMIN,
                date_joined=joined,
            )
            for name, role, _team in specs
        )
        groups = {g.name: g for g in Group.objects.filter(name__in=[r.value for r in Role])}
        User.groups.through.objects.bulk_create(
            User.groups.through(user_id=u.pk, group_id=groups[spec[1]].pk)
            for u, spec in zip(users, specs, strict=True)
        )
        Team.members.through.objects.bulk_create(
            Team.members.through(team_id=teams[spec[2]].pk, user_id=u.pk)
            for u, spec in zip(users, specs, strict=True)
            if spec[1] != Role.ADMIN
        )
        Team.managers.through.objects.bulk_create(
            Team.managers.through(team_id=teams[spec[2]].pk, user_id=u.pk)
            for u, spec in zip(users, specs, strict=True)
            if spec[1] == Role.MANAGER
        )
        people = [
            _Person(u.pk, u.username, spec[1], spec[2])
            for u, spec in zip(users, specs, strict=True)
        ]
        return teams, people

    # Clients -------------------------------------------------------------------

    def clients(self, teams: list[Team], people: list[_Person], progress: Callable) -> None:
        rng = random.Random(f"{self.seed}:clients")
        workers = {
            t: [p for p in people if p.team == t and p.role != Role.ADMIN]
            for t in range(len(teams))
        }
        # How much each person leads: the bench advisor five times the usual.
        lead_weight = {
            p.pk: 5.0 if p.username == ADVISOR else 0.4 if p.role == Role.MANAGER else
            rng.lognormvariate(0, 0.35)
            for p in people
        }  # fmt: skip
        trajectories = TRAJECTORY_MIX
        kinds = Counter(spec.kind for spec in CLIENTS)
        sectors = {kind: sorted({s.sector for s in CLIENTS if s.kind == kind}) for kind in kinds}
        next_client = (Client.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
        self.next_engagement = (
            Engagement.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        ) + 1

        specs = []
        for number in range(self.client_count):
            crng = random.Random(f"{self.seed}:client:{number}")
            team = crng.choices(range(len(teams)), self.team_weights)[0]
            team_people = workers[team]
            lead = crng.choices(team_people, [lead_weight[p.pk] for p in team_people])[0]
            trajectory = crng.choices(list(trajectories), list(trajectories.values()))[0]
            kind = crng.choices(list(kinds), list(kinds.values()))[0]
            since = self.today - datetime.timedelta(days=crng.randint(120, 7000))
            first = max(self.first_day, since + datetime.timedelta(days=21))
            span = max(1, (self.today - first).days)
            low, high = PER_CLIENT[trajectory]
            weight = (low + high) / 2 * span / (self.today - self.first_day).days
            weight *= crng.lognormvariate(0, 0.6)
            specs.append((crng, team, lead, trajectory, kind, since, first, weight))
        counts = _share(self.disagreement_count, [s[-1] for s in specs], rng)
        # The busiest client is on the biggest team, so the bench's manager sees it.
        busiest = max(range(len(counts)), key=counts.__getitem__)
        crng, team, lead, *rest = specs[busiest]
        if team != 0:
            lead = max(workers[0], key=lambda p: lead_weight[p.pk])
            specs[busiest] = (crng, 0, lead, *rest)

        for number, (spec, count) in enumerate(zip(specs, counts, strict=True)):
            crng, team, lead, trajectory, kind, since, first, _weight = spec
            self.client(
                crng,
                pk=next_client + number,
                team=teams[team].pk,
                lead=lead,
                colleagues=workers[team],
                manager=next(p.pk for p in workers[team] if p.role == Role.MANAGER),
                trajectory=trajectory,
                kind=kind,
                sector=crng.choice(sectors[kind]),
                since=since,
                first=first,
                count=count,
            )
            progress(1)

    def client(
        self,
        rng: random.Random,
        *,
        pk: int,
        team: int,
        lead: _Person,
        colleagues: list[_Person],
        manager: int,
        trajectory: Trajectory,
        kind: str,
        sector: str,
        since: datetime.date,
        first: datetime.date,
        count: int,
    ) -> None:
        first_name, last_name = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        name = self.client_name(rng, kind, first_name, last_name)
        created = self.moment(rng, max(since, self.first_day - datetime.timedelta(days=30)))
        if kind == IND:
            email = f"{first_name}.{last_name}@post.example".lower()
            phone = f"07700 900{rng.randint(0, 999):03}"
            profile = "private" if rng.random() < 0.8 else rng.choice(["investor", "family"])
        else:
            domain = "".join(ch for ch in name.split()[0].lower() if ch.isalpha())
            email = f"{first_name[0]}.{last_name}@{domain}.example".lower()
            phone = f"020 7946 0{rng.randint(0, 999):03}"
            profile = "company"
        engagements = self.engagements(rng, pk, profile, lead, colleagues, since, first)
        facts, rows = self.disagreements(
            rng, pk, kind, trajectory, engagements, first, count, manager
        )
        score = self.health(pk, facts)
        self.plan.clients.append(
            (
                pk, name, kind, sector, f"{first_name} {last_name}", email, phone, "", lead.pk,
                team, since, "", Client.Status.ACTIVE, score.score, score.band, score.trend,
                self.now, False, 1, created, created,
            )
        )  # fmt: skip
        self.plan.disagreements.extend(rows)

    def client_name(self, rng: random.Random, kind: str, first: str, last: str) -> str:
        for attempt in range(50):
            if kind == IND:
                name = f"{first} {rng.choice(INITIALS)}. {last}"
                if attempt > 5:
                    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            else:
                trade = rng.choice(NAME_TRADES)
                name = f"{rng.choice(NAME_PLACES)} {trade} {rng.choice(ORG_SUFFIXES)}"
            if attempt >= 20:
                name = f"{name} ({attempt - 18})"
            if name.lower() not in self.names:
                self.names.add(name.lower())
                return name
        raise RuntimeError("Ran out of client names; seed fewer clients.")

    def moment(self, rng: random.Random, day: datetime.date) -> datetime.datetime:
        """A working-hours moment on `day` (UTC), never in the future."""
        morning = self.mornings.get(day)
        if morning is None:
            morning = datetime.datetime(day.year, day.month, day.day, 9, tzinfo=datetime.UTC)
            self.mornings[day] = morning
        at = morning + datetime.timedelta(minutes=rng.randint(0, 480))
        return at if at < self.now else self.now

    # Engagements ---------------------------------------------------------------

    def engagements(
        self,
        rng: random.Random,
        client: int,
        profile: str,
        lead: _Person,
        colleagues: list[_Person],
        since: datetime.date,
        first: datetime.date,
    ) -> list[_Engagement]:
        ongoing_lines, project_lines = PROFILES[profile]
        result = []
        for number in range(rng.choice(ENGAGEMENTS_PER_CLIENT)):
            if number == 0:
                line = rng.choice(ongoing_lines)
                title, start, end = ONGOING_TITLES[line], since, None
                status = Engagement.Status.ACTIVE
                opens, closes = first, self.today
            else:
                line = rng.choice(project_lines)
                year = None
                start = first + datetime.timedelta(days=rng.randint(-60, (self.today - first).days))
                year = start.year
                title = rng.choice(PROJECT_TITLES[line]).format(
                    year=year, code=rng.choice(CODE_NAMES)
                )
                end = start + datetime.timedelta(days=rng.randint(60, 420))
                if end < self.today:
                    status = rng.choices(
                        [Engagement.Status.COMPLETED, Engagement.Status.TERMINATED], [12, 1]
                    )[0]
                else:
                    status = rng.choices(
                        [Engagement.Status.ACTIVE, Engagement.Status.ON_HOLD], [8, 1]
                    )[0]
                    end = None
                opens, closes = max(start, first), min(end or self.today, self.today)
                if opens > closes:
                    opens = closes
            person = lead if rng.random() < 0.7 else rng.choice(colleagues)
            members = {person.pk} | {
                rng.choice(colleagues).pk for _ in range(rng.choice([0, 1, 1, 2]))
            }
            low, high = FEES[line]
            fee = Decimal(round(rng.randint(low, high), -2))
            created = self.moment(rng, max(start, self.first_day - datetime.timedelta(days=30)))
            pk = self.next_engagement
            self.next_engagement += 1
            self.plan.engagements.append(
                (
                    pk, client, title, line, person.pk, status, start, end, fee,
                    DESCRIPTIONS[line], False, 1, created, created,
                )
            )  # fmt: skip
            self.plan.members.extend((pk, member) for member in sorted(members))
            result.append(
                _Engagement(pk, line, person.pk, sorted(members), opens, closes, number == 0)
            )
        return result

    # Disagreements -------------------------------------------------------------

    def fitting(self, line: str, kind: str) -> tuple[list[Dispute], list[float]]:
        key = (line, kind)
        if key not in self.disputes:
            fitting = [
                d for d in DISPUTES if line in d.lines or (not d.lines and d.kind in ("", kind))
            ]
            weights = [3 if d.lines else 1 for d in fitting]
            self.disputes[key] = (fitting, list(_cumulative(weights)))
        return self.disputes[key]

    def disagreements(
        self,
        rng: random.Random,
        client: int,
        kind: str,
        trajectory: Trajectory,
        engagements: list[_Engagement],
        first: datetime.date,
        count: int,
        manager: int,
    ) -> tuple[list[Facts], list[tuple]]:
        today = self.today
        span = max(1, (today - first).days)
        recent, within = RECENT[trajectory]
        skew = SKEW[trajectory]
        horizon = today - datetime.timedelta(
            days=self.weights["ignore_after_days"] + 31 * self.snapshot_months
            + self.weights["trend_days"]
        )  # fmt: skip
        facts, rows = [], []
        Decision = D.Decision
        for number in range(count):
            if number < recent:
                day = today - datetime.timedelta(days=rng.randint(0, within))
            else:
                day = first + datetime.timedelta(days=round(rng.random() ** skew * span))
            day = max(working_day(day), first)
            age = (today - day).days
            phase = (day - first).days / span
            covering = [e for e in engagements if e.opens <= day <= e.closes] or engagements[:1]
            engagement = rng.choices(covering, [1 if e.ongoing else 2 for e in covering])[0]
            disputes, cumulative = self.fitting(engagement.line, kind)
            dispute = rng.choices(disputes, cum_weights=cumulative)[0]
            heat = heat_at(rng, trajectory, phase)
            tone = pick_tone(rng, heat)
            severity = pick_severity(rng, heat, dispute.topic)
            person = engagement.lead
            if len(engagement.members) > 1 and rng.random() < 0.3:
                person = rng.choice(engagement.members)
            decision = pick_decision(
                rng, trajectory, heat=heat, phase=phase, age=age, can_override=bool(dispute.against)
            )
            decided = acknowledged = method = recorded = None
            acknowledged_ok, words, outcome, verdict = None, "", "", D.Verdict.PENDING
            changed = day
            if decision != Decision.PENDING:
                decided = min(day + datetime.timedelta(days=decision_delay(rng, tone)), today)
                changed = decided
            if decision == Decision.PROCEEDED:
                likely = 0.9 if trajectory == Trajectory.DETERIORATING else 0.75
                acknowledged = decided + datetime.timedelta(days=rng.randint(0, 8))
                if rng.random() < likely and acknowledged <= today:
                    voice = rng.choice(WORDS[(kind, tone == D.Tone.HOSTILE)])
                    words = voice.format(
                        advised=f"{day.day} {day:%B %Y}", against=dispute.against, risk=dispute.risk
                    )
                    acknowledged_ok = True
                    method = rng.choices(list(D.AcknowledgmentMethod), [4, 3, 2, 1])[0]
                    changed = acknowledged
                else:
                    acknowledged = None
            if decision in D.DECISIONS_WITH_OUTCOME:
                when = decided + datetime.timedelta(days=outcome_delay(rng, decision))
                chosen = pick_verdict(rng, trajectory, decision, dispute)
                if when <= today:
                    recorded, verdict = when, chosen
                    outcome = outcome_text(dispute, decision, verdict)
                    changed = max(changed, when)
            still_open = (
                decision == Decision.PENDING
                or (decision == Decision.PROCEEDED and acknowledged is None)
                or (decision in D.DECISIONS_WITH_OUTCOME and recorded is None)
            )
            follow_up = None
            if still_open and age <= 150 and rng.random() < 0.6:
                follow_up = max(
                    today + datetime.timedelta(days=rng.randint(-21, 7)),
                    day + datetime.timedelta(days=3),
                )
            reviewed_at = reviewer = None
            grave = tone == D.Tone.HOSTILE or severity in (D.Severity.HIGH, D.Severity.CRITICAL)
            if grave and age >= 10 and person != manager and rng.random() < 0.12:
                review_day = min(
                    day + datetime.timedelta(days=rng.randint(3, 12)),
                    today - datetime.timedelta(days=1),
                )
                reviewed_at, reviewer = self.moment(rng, review_day), manager
            created = self.moment(rng, day)
            updated = max(created, self.moment(rng, changed), reviewed_at or created)
            rows.append(
                (
                    engagement.pk, client, person, day, dispute.title, dispute.topic,
                    dispute.request, dispute.recommendation, dispute.rationale, severity, tone,
                    decision, decided, acknowledged_ok, acknowledged, method or "", words, outcome,
                    verdict, recorded, follow_up, reviewed_at, reviewer, False, 1, created,
                    updated,
                )
            )  # fmt: skip
            if day >= horizon:
                facts.append(Facts(0, dispute.title, day, severity, tone, decision, verdict))
        return facts, rows

    # Health --------------------------------------------------------------------

    def health(self, client: int, facts: list[Facts]) -> _Score:
        """Today's health for the denormalised fields, and a snapshot at the end
        of each of the last `snapshot_months` months where it changed (as the
        nightly job would have kept them; scored from today's records)."""
        weights = self.weights
        # Only what can count on a day goes to the score (a year back from it):
        # the same result, a fraction of the work.
        facts.sort(key=lambda f: f.occurred_on)
        dates = [f.occurred_on for f in facts]
        reach = datetime.timedelta(days=weights["ignore_after_days"])

        def score(day: datetime.date) -> scoring.Health:
            window = facts[bisect.bisect_left(dates, day - reach) : bisect.bisect_right(dates, day)]
            return scoring.score(window, as_of=day, weights=weights)

        now = score(self.today)
        then = score(scoring.trend_start(self.today, weights))
        days = [_month_end(self.today, back) for back in range(self.snapshot_months, 0, -1)] + [
            self.today
        ]
        if self.snapshot_months:
            previous = None
            for day in days:
                state = now if day == self.today else score(day)
                if previous is None or (state.score, state.band) != previous:
                    components = {
                        "total_friction": round(state.total_friction, 4),
                        "contributors": len(state.contributions),
                        "computed_band": state.computed_band,
                        "cap_reason": state.cap_reason,
                    }
                    self.plan.snapshots.append((client, day, state.score, state.band, components))
                    previous = (state.score, state.band)
        return _Score(now.score, now.band, scoring.trend(now, then))


@dataclass(frozen=True)
class _Score:
    score: int
    band: str
    trend: int


def _month_end(today: datetime.date, back: int) -> datetime.date:
    """The last day of the month `back` months before today's."""
    first = today.replace(day=1)
    for _ in range(back - 1):
        first = (first - datetime.timedelta(days=1)).replace(day=1)
    return first - datetime.timedelta(days=1)


def _cumulative(weights: Sequence[float]) -> Iterator[float]:
    total = 0.0
    for weight in weights:
        total += weight
        yield total


def _share(total: int, weights: Sequence[float], rng: random.Random) -> list[int]:
    """`total` split in proportion to `weights`, summing exactly to `total`."""
    whole = sum(weights) or 1.0
    counts = [math.floor(total * w / whole) for w in weights]
    missing = total - sum(counts)
    for index in rng.choices(range(len(weights)), weights, k=missing):
        counts[index] += 1
    return counts


# --- Writing ---------------------------------------------------------------------


class _Writer:
    """Inserts rows given in the order of `fields` (attnames); the model's other
    concrete fields get their defaults (fields added later keep working)."""

    def __init__(self) -> None:
        self.postgres = connection.vendor == "postgresql"
        self.escaped: dict[str, str] = {}

    def columns(self, model: type[models.Model], fields: list[str]) -> tuple[list[str], tuple]:
        by_attname = {f.attname: f for f in model._meta.concrete_fields}
        unknown = set(fields) - set(by_attname)
        if unknown:
            raise ValueError(f"{model.__name__} has no field {', '.join(sorted(unknown))}.")
        rest = [f for name, f in by_attname.items() if name not in fields]
        for f in rest:
            if not f.has_default() and not f.null and not f.primary_key:
                raise ValueError(
                    f"{model.__name__}.{f.name} needs a value: "
                    "teach advisory/seeding/scale.py about it."
                )
        rest = [f for f in rest if not f.primary_key]
        columns = [by_attname[name].column for name in fields] + [f.column for f in rest]
        return columns, tuple(f.get_default() for f in rest)

    def write(
        self,
        model: type[models.Model],
        fields: list[str],
        rows: Iterable[tuple],
        progress: Callable[[int], None] | None = None,
    ) -> int:
        columns, tail = self.columns(model, fields)
        table = model._meta.db_table
        written = 0
        for chunk in _chunks(rows, COPY_CHUNK):
            if tail:
                chunk = [row + tail for row in chunk]
            if self.postgres:
                self.copy(table, columns, chunk)
            else:
                self.insert(table, columns, chunk)
            written += len(chunk)
            if progress:
                progress(len(chunk))
        return written

    def copy(self, table: str, columns: list[str], rows: list[tuple]) -> None:
        quote = connection.ops.quote_name
        sql = f"COPY {quote(table)} ({', '.join(quote(c) for c in columns)}) FROM STDIN"
        text = "".join("\t".join(map(self.pg_value, row)) + "\n" for row in rows)
        with connection.cursor() as cursor:
            raw = cursor.cursor
            if hasattr(raw, "copy_expert"):  # psycopg2
                raw.copy_expert(sql, io.StringIO(text))
            else:  # psycopg 3
                with raw.copy(sql) as copy:
                    copy.write(text)

    def pg_value(self, value) -> str:
        if value is None:
            return r"\N"
        if value is True:
            return "t"
        if value is False:
            return "f"
        if isinstance(value, str):
            escaped = self.escaped.get(value)
            if escaped is None:
                escaped = (
                    value.replace("\\", "\\\\")
                    .replace("\t", "\\t")
                    .replace("\n", "\\n")
                    .replace("\r", "\\r")
                )
                if len(self.escaped) < 200_000:
                    self.escaped[value] = escaped
            return escaped
        if isinstance(value, datetime.date):  # datetimes too
            return value.isoformat()
        if isinstance(value, dict):
            return self.pg_value(json.dumps(value))
        return str(value)

    def insert(self, table: str, columns: list[str], rows: list[tuple]) -> None:
        quote = connection.ops.quote_name
        marks = ", ".join(["%s"] * len(columns))
        sql = (
            f"INSERT INTO {quote(table)} ({', '.join(quote(c) for c in columns)}) VALUES ({marks})"
        )
        with connection.cursor() as cursor:
            cursor.executemany(sql, [tuple(map(self.db_value, row)) for row in rows])

    @staticmethod
    def db_value(value):
        if isinstance(value, datetime.datetime):
            return connection.ops.adapt_datetimefield_value(value)
        if isinstance(value, datetime.date):
            return value.isoformat()
        if isinstance(value, Decimal):
            return str(value)
        if isinstance(value, dict):
            return json.dumps(value)
        return value


def _chunks(rows: Iterable[tuple], size: int) -> Iterator[list[tuple]]:
    chunk = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _secondary_indexes(table: str) -> list[tuple[str, str]]:
    """(name, definition) of the table's indexes that back no constraint."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT i.indexname, i.indexdef FROM pg_indexes i
            WHERE i.schemaname = current_schema() AND i.tablename = %s
              AND NOT EXISTS (
                SELECT 1 FROM pg_constraint c
                WHERE c.conindid
                  = (quote_ident(i.schemaname) || '.' || quote_ident(i.indexname))::regclass
              )
            """,
            [table],
        )
        return cursor.fetchall()


# --- The command's entry point ----------------------------------------------------


ProgressFactory = Callable[..., object]


def seed_scale(
    *,
    clients: int,
    disagreements: int,
    seed: str = "candor-scale",
    password: str = DEFAULT_PASSWORD,
    snapshot_months: int = 12,
    today: datetime.date | None = None,
    progress: ProgressFactory | None = None,
    say: Callable[[str], None] = lambda text: None,
) -> ScaleSummary:
    """Build the firm in one transaction (nothing is left half-written).

    `progress(total=..., desc=...)` makes a progress bar (tqdm's signature);
    `say` reports the steps without one.
    """
    started = timezone.now()
    today = today or timezone.localdate()
    bar = progress or _NoBar
    firm = _Firm(
        clients=clients,
        disagreements=disagreements,
        seed=seed,
        today=today,
        snapshot_months=snapshot_months,
    )
    writer = _Writer()
    with transaction.atomic():
        teams, people = firm.people(password)
        with bar(total=clients, desc="Planning clients", unit="client") as planning:
            firm.clients(teams, people, planning.update)
        plan = firm.plan
        say("Writing clients and engagements…")
        writer.write(Client, CLIENT_FIELDS, plan.clients)
        writer.write(Engagement, ENGAGEMENT_FIELDS, plan.engagements)
        writer.write(Engagement.members.through, ["engagement_id", "user_id"], plan.members)
        # In the order they happened: ids follow the calendar, as in real use.
        plan.disagreements.sort(key=lambda row: (row[3], row[-2]))
        indexes = []
        if writer.postgres:
            # Loading first and indexing after is several times faster. In the
            # same transaction: a failure restores the indexes with everything else.
            indexes = _secondary_indexes(Disagreement._meta.db_table)
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit = off")
                for name, _definition in indexes:
                    cursor.execute(f"DROP INDEX {connection.ops.quote_name(name)}")
        with bar(total=len(plan.disagreements), desc="Writing disagreements", unit="row") as out:
            writer.write(Disagreement, DISAGREEMENT_FIELDS, plan.disagreements, out.update)
        if writer.postgres:
            # Django's foreign keys are deferred: check them now, before indexing.
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        if indexes:
            say(f"Rebuilding {len(indexes)} indexes on the disagreements…")
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
                for _name, definition in indexes:
                    cursor.execute(definition)
        writer.write(HealthSnapshot, SNAPSHOT_FIELDS, plan.snapshots)
        with connection.cursor() as cursor:
            for sql in connection.ops.sequence_reset_sql(
                no_style(), [Client, Engagement, Disagreement, HealthSnapshot]
            ):
                cursor.execute(sql)
        say("Counting the health board's rollups…")
        rollups.rebuild(today=today)
    if writer.postgres and not connection.in_atomic_block:  # not inside a test's transaction
        say("VACUUM ANALYZE (fresh statistics for the planner)…")
        tables = [
            m._meta.db_table
            for m in (
                Client,
                Engagement,
                Engagement.members.through,
                Disagreement,
                HealthSnapshot,
                ClientMonth,
                ClientStats,
            )
        ]
        with connection.cursor() as cursor:
            for table in tables:
                cursor.execute(f"VACUUM ANALYZE {connection.ops.quote_name(table)}")
    return ScaleSummary(
        teams=len(teams),
        users=len(people),
        clients=len(plan.clients),
        engagements=len(plan.engagements),
        disagreements=len(plan.disagreements),
        snapshots=len(plan.snapshots),
        seconds=(timezone.now() - started).total_seconds(),
    )


class _NoBar:
    def __init__(self, **kwargs) -> None:
        pass

    def __enter__(self) -> _NoBar:
        return self

    def __exit__(self, *exc) -> None:
        pass

    def update(self, count: int = 1) -> None:
        pass
