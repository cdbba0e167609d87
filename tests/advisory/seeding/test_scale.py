from __future__ import annotations

import datetime
from collections import Counter
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count, F, Q
from django.utils import timezone

from accounts.models import Team, User
from accounts.roles import Role
from advisory.health.selectors import client_health
from advisory.history import verification
from advisory.models import Client, Disagreement, Engagement, HealthSnapshot
from advisory.seeding.scale import ADMIN, ADVISOR, MANAGER

pytestmark = pytest.mark.django_db


def seed(*args: str, **options) -> str:
    out = StringIO()
    call_command(
        "seed_scale", "--clients=20", "--disagreements=200", "--no-progress", *args,
        stdout=out, **options,
    )  # fmt: skip
    return out.getvalue()


def test_it_builds_a_small_firm() -> None:
    output = seed("--password=bench-pass")

    assert "20 clients" in output and "200 disagreements" in output
    assert Client.objects.count() == 20
    assert Disagreement.objects.count() == 200
    assert 60 <= Engagement.objects.count() <= 100
    assert not User.objects.exclude(username__startswith="scale-").exists()
    assert set(Team.objects.values_list("name", flat=True)) == {"Scale Corporate Advisory 1"}
    assert User.objects.get(username=MANAGER).role == Role.MANAGER
    assert User.objects.get(username=ADVISOR).role == Role.ADVISOR
    assert User.objects.get(username=ADMIN).role == Role.ADMIN
    assert User.objects.get(username=ADVISOR).check_password("bench-pass")
    manager = User.objects.get(username=MANAGER)
    assert Client.objects.visible_to(manager).count() == 20
    # The bench's advisor leads the most clients, and the busiest one.
    leads = Counter(Client.objects.values_list("lead_advisor__username", flat=True))
    assert leads.most_common(1)[0][0] == ADVISOR
    busiest = Client.objects.annotate(n=Count("disagreements")).order_by("-n").first()
    assert busiest.lead_advisor.username == ADVISOR


def test_it_uses_the_demos_mix_over_five_years() -> None:
    seed()
    rows = Disagreement.objects.all()
    for name, choices in [
        ("severity", Disagreement.Severity),
        ("tone", Disagreement.Tone),
        ("decision", Disagreement.Decision),
        ("verdict", Disagreement.Verdict),
    ]:
        found = set(rows.values_list(name, flat=True))
        assert found <= set(choices.values)
        assert len(found) >= len(choices.values) - 1, name
    today = timezone.localdate()
    oldest = rows.order_by("occurred_on").first().occurred_on
    assert today - datetime.timedelta(days=5 * 366) <= oldest < today - datetime.timedelta(days=365)
    assert not rows.filter(occurred_on__gt=today).exists()
    assert not rows.filter(decided_on__lt=F("occurred_on")).exists()
    assert not rows.exclude(client=F("engagement__client")).exists()
    # The acknowledgment only where the client proceeded against advice, in their words.
    assert not rows.filter(risk_acknowledged=True).exclude(decision="proceeded").exists()
    assert not rows.filter(risk_acknowledged=True, client_words="").exists()
    # Every engagement's people are on the client's team.
    for engagement in Engagement.objects.select_related("client__team"):
        team = set(engagement.client.team.members.all())
        assert set(engagement.members.all()) <= team


def test_health_is_computed_as_the_service_would() -> None:
    seed()
    clients = Client.objects.annotate(n=Count("disagreements"))
    assert not clients.filter(Q(health_score=None) | Q(health_band="")).exists()
    for client in clients:
        now, then = client_health(client)
        assert (client.health_score, client.health_band) == (now.score, now.band), client
        assert client.health_trend == now.score - then.score
        # The last snapshot (written where the score changed) says the same.
        latest = HealthSnapshot.objects.filter(client=client).latest()
        assert (latest.score, latest.band) == (client.health_score, client.health_band)


def test_the_log_finds_nothing_wrong_but_the_missing_history() -> None:
    """Scale rows are written in bulk, without history (docs/performance.md): the
    log's check says exactly that of each record, and nothing else."""
    seed()
    report = verification.verify()
    assert report.problems
    assert {problem.kind for problem in report.problems} == {"record"}
    assert all("It has no history entry" in problem.problem for problem in report.problems)


def test_it_refuses_a_database_with_other_data(advisor) -> None:
    with pytest.raises(CommandError, match=r"not seed data.*--force"):
        seed()
    assert not Client.objects.exists()
    assert not User.objects.filter(username__startswith="scale-").exists()


def test_force_adds_the_firm_beside_other_data(acme) -> None:
    seed("--force")
    assert Client.objects.count() == 21
    assert Disagreement.objects.filter(client__lead_advisor__username=ADVISOR).exists()


def test_it_refuses_to_seed_twice() -> None:
    seed()
    with pytest.raises(CommandError, match="already holds scale seed data"):
        seed("--force")
    assert Client.objects.count() == 20


def test_it_refuses_nonsense_sizes() -> None:
    with pytest.raises(CommandError, match="at least"):
        call_command("seed_scale", "--clients=0", "--no-progress")
