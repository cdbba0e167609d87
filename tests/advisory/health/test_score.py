"""The relationship health recipe (advisory/health/score.py, docs/scoring.md).

Plain functions, no database: every call passes WEIGHTS explicitly, and
test_settings_hold_the_documented_weights keeps that copy equal to the setting.
"""

from __future__ import annotations

import dataclasses
import math
import random
from datetime import date, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from hypothesis import assume, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from advisory.health import score as scoring
from advisory.health.score import (
    BANDS,
    Facts,
    band_for,
    contribution,
    is_worse,
    score,
    trend,
    trend_start,
)

WEIGHTS = {
    "severity": {"low": 1, "moderate": 2, "high": 4, "critical": 8},
    "tone": {"collaborative": 0.5, "tense": 1, "hostile": 2},
    "decision": {
        "accepted": 0.5,
        "withdrew": 0.6,
        "compromise": 0.8,
        "pending": 1,
        "proceeded": 1.5,
    },
    "outcome": {
        "client_vindicated": 0.7,
        "pending": 1,
        "mixed": 1,
        "inconclusive": 1,
        "advice_vindicated": 1.3,
    },
    "half_life_days": 90,
    "ignore_after_days": 365,
    "scale": 12,
    "bands": {"healthy": 70, "strained": 40},
    "guardrail_days": 30,
    "trend_days": 90,
}

AS_OF = date(2026, 11, 16)
SEVERITIES = ["low", "moderate", "high", "critical"]
TONES = ["collaborative", "tense", "hostile"]
DECISIONS = ["accepted", "withdrew", "compromise", "pending", "proceeded"]  # by factor
VERDICTS = ["pending", "advice_vindicated", "client_vindicated", "mixed", "inconclusive"]
SCORING_DOC = Path(__file__).resolve().parents[3] / "docs" / "scoring.md"


def facts(
    *,
    id: int = 1,
    age: int = 0,
    severity: str = "moderate",
    tone: str = "tense",
    decision: str = "pending",
    verdict: str = "pending",
    title: str = "Scope of the audit",
) -> Facts:
    return Facts(
        id=id,
        title=title,
        occurred_on=AS_OF - timedelta(days=age),
        severity=severity,
        tone=tone,
        decision=decision,
        verdict=verdict,
    )


def friction(**kwargs) -> float:
    c = contribution(facts(**kwargs), as_of=AS_OF, weights=WEIGHTS)
    assert c is not None
    return c.friction


def health_of(*disagreements: Facts, as_of: date = AS_OF) -> scoring.Health:
    return score(disagreements, as_of=as_of, weights=WEIGHTS)


# Settings ------------------------------------------------------------------


def test_settings_hold_the_documented_weights():
    assert settings.CANDOR_HEALTH == WEIGHTS


def test_the_recipe_needs_its_weights_given():
    # Pure: it reads no settings itself (health.services passes CANDOR_HEALTH).
    dispute = facts(severity="high", age=10)

    with pytest.raises(TypeError):
        score([dispute], as_of=AS_OF)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        band_for(69)  # type: ignore[call-arg]
    assert band_for(69, WEIGHTS) == "strained"


# Factors -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("severity", "weight"), [("low", 1), ("moderate", 2), ("high", 4), ("critical", 8)]
)
def test_severity_weight(severity, weight):
    c = contribution(facts(severity=severity), as_of=AS_OF, weights=WEIGHTS)

    assert c.severity_weight == weight
    assert c.friction == weight * 1  # tense, pending, pending verdict, today


@pytest.mark.parametrize(("tone", "factor"), [("collaborative", 0.5), ("tense", 1), ("hostile", 2)])
def test_tone_factor(tone, factor):
    c = contribution(facts(tone=tone), as_of=AS_OF, weights=WEIGHTS)

    assert c.tone_factor == factor
    assert c.friction == 2 * factor


@pytest.mark.parametrize(
    ("decision", "factor"),
    [("accepted", 0.5), ("withdrew", 0.6), ("compromise", 0.8), ("pending", 1), ("proceeded", 1.5)],
)
def test_decision_factor(decision, factor):
    c = contribution(facts(decision=decision), as_of=AS_OF, weights=WEIGHTS)

    assert c.decision_factor == factor
    assert c.friction == 2 * factor


@pytest.mark.parametrize(
    ("verdict", "factor"),
    [
        ("client_vindicated", 0.7),
        ("pending", 1),
        ("mixed", 1),
        ("inconclusive", 1),
        ("advice_vindicated", 1.3),
    ],
)
def test_outcome_factor_after_the_client_proceeded_against_advice(verdict, factor):
    c = contribution(facts(decision="proceeded", verdict=verdict), as_of=AS_OF, weights=WEIGHTS)

    assert c.outcome_factor == factor
    assert c.friction == pytest.approx(2 * 1.5 * factor)


@pytest.mark.parametrize("decision", ["accepted", "withdrew", "compromise", "pending"])
def test_advice_vindicated_counts_only_when_the_client_proceeded(decision):
    c = contribution(
        facts(decision=decision, verdict="advice_vindicated"), as_of=AS_OF, weights=WEIGHTS
    )

    assert c.outcome_factor == 1


def test_client_vindicated_softens_any_decision():
    c = contribution(
        facts(decision="accepted", verdict="client_vindicated"), as_of=AS_OF, weights=WEIGHTS
    )

    assert c.outcome_factor == 0.7


def test_friction_is_the_product_of_its_factors():
    c = contribution(
        facts(
            severity="critical",
            tone="hostile",
            decision="proceeded",
            verdict="advice_vindicated",
            age=45,
        ),
        as_of=AS_OF,
        weights=WEIGHTS,
    )

    assert c.age_days == 45
    assert c.friction == (
        c.severity_weight * c.tone_factor * c.decision_factor * c.outcome_factor * c.decay
    )
    assert c.friction == pytest.approx(8 * 2 * 1.5 * 1.3 * 0.5**0.5)


def test_it_rejects_a_value_with_no_weight():
    with pytest.raises(ValueError, match="No severity weight for 'extreme'"):
        contribution(facts(severity="extreme"), as_of=AS_OF, weights=WEIGHTS)


# Recency -------------------------------------------------------------------


@pytest.mark.parametrize(("age", "decay"), [(0, 1), (90, 0.5), (180, 0.25)])
def test_decay_halves_every_90_days(age, decay):
    c = contribution(facts(age=age), as_of=AS_OF, weights=WEIGHTS)

    assert c.decay == decay
    assert c.friction == 2 * decay


def test_a_disagreement_365_days_old_still_counts():
    c = contribution(facts(age=365), as_of=AS_OF, weights=WEIGHTS)

    assert c.age_days == 365
    assert c.decay == pytest.approx(0.0601, abs=1e-4)


def test_a_disagreement_366_days_old_is_ignored():
    old = facts(age=366, severity="critical", tone="hostile")

    assert contribution(old, as_of=AS_OF, weights=WEIGHTS) is None
    assert health_of(old).score == 100


def test_it_ignores_a_disagreement_after_the_as_of_date():
    future = facts(age=-1, severity="critical", tone="hostile")

    assert contribution(future, as_of=AS_OF, weights=WEIGHTS) is None
    result = health_of(future)
    assert (result.score, result.band, result.contributions) == (100, "healthy", [])


def test_a_disagreement_on_the_as_of_date_counts_in_full():
    c = contribution(facts(age=0), as_of=AS_OF, weights=WEIGHTS)

    assert (c.age_days, c.decay) == (0, 1)


# Score and bands -----------------------------------------------------------


def test_no_disagreements_score_100_healthy():
    result = health_of()

    assert result.score == 100
    assert result.band == result.computed_band == "healthy"
    assert result.cap_reason == ""
    assert result.total_friction == 0
    assert result.contributions == []
    assert result.as_of == AS_OF


def test_score_is_100_times_exp_of_minus_total_over_12():
    # Today, critical, tense, pending: friction 8, so 100 * exp(-8 / 12) = 51.34.
    result = health_of(facts(severity="critical"))

    assert result.total_friction == 8
    assert result.score == 51


def test_the_score_rounds_halves_up():
    # Python's round() would give 72 and 0; the documented recipe rounds up.
    assert scoring._round_half_up(72.5) == 73
    assert scoring._round_half_up(72.49) == 72
    assert scoring._round_half_up(0.5) == 1
    # floor(x + 0.5) gets this one wrong: the addition itself rounds up to 1.0.
    assert scoring._round_half_up(0.49999999999999994) == 0


def test_the_score_stays_within_0_and_100():
    many = [
        facts(id=i, severity="critical", tone="hostile", decision="proceeded") for i in range(50)
    ]

    assert health_of(*many).score == 0


@pytest.mark.parametrize(
    ("value", "band"),
    [
        (100, "healthy"),
        (70, "healthy"),
        (69, "strained"),
        (40, "strained"),
        (39, "adversarial"),
        (0, "adversarial"),
    ],
)
def test_band_edges(value, band):
    assert band_for(value, WEIGHTS) == band


# Guardrails ----------------------------------------------------------------


def test_a_recent_critical_disagreement_caps_healthy_at_strained():
    # Critical but collaborative and accepted: friction 2 * 0.79, score 88, healthy by score.
    result = health_of(
        facts(age=30, severity="critical", tone="collaborative", decision="accepted")
    )

    assert result.score == 88
    assert result.computed_band == "healthy"
    assert result.band == "strained"
    assert result.cap_reason == (
        "A critical disagreement in the last 30 days caps the band at strained."
    )


def test_a_recent_hostile_disagreement_caps_healthy_at_strained():
    result = health_of(facts(age=5, severity="low", tone="hostile", decision="accepted"))

    assert result.computed_band == "healthy"
    assert result.band == "strained"
    assert result.cap_reason == (
        "A hostile disagreement in the last 30 days caps the band at strained."
    )


def test_a_recent_critical_and_hostile_disagreement_caps_at_adversarial():
    # Accepted, client vindicated: friction 8 * 2 * 0.5 * 0.7 * decay, score 67.
    result = health_of(
        facts(
            age=20,
            severity="critical",
            tone="hostile",
            decision="accepted",
            verdict="client_vindicated",
        )
    )

    assert result.score == 67
    assert result.computed_band == "strained"
    assert result.band == "adversarial"
    assert result.cap_reason == (
        "A critical, hostile disagreement in the last 30 days caps the band at adversarial."
    )


def test_a_critical_one_and_a_separate_hostile_one_cap_only_at_strained():
    result = health_of(
        facts(id=1, age=3, severity="critical", tone="collaborative", decision="accepted"),
        facts(id=2, age=3, severity="low", tone="hostile", decision="accepted"),
    )

    assert result.computed_band == "healthy"
    assert result.band == "strained"


@pytest.mark.parametrize(
    ("tone", "decision", "computed_band"),
    [("collaborative", "accepted", "healthy"), ("hostile", "accepted", "strained")],
)
def test_no_cap_at_31_days(tone, decision, computed_band):
    result = health_of(facts(age=31, severity="critical", tone=tone, decision=decision))

    assert result.computed_band == computed_band
    assert result.band == computed_band
    assert result.cap_reason == ""


def test_the_cap_never_raises_a_band():
    heavy = [facts(id=i, age=100, severity="critical", decision="proceeded") for i in range(3)]
    recent_hostile = facts(id=9, age=2, severity="low", tone="hostile", decision="accepted")

    result = health_of(*heavy, recent_hostile)

    assert result.computed_band == "adversarial"
    assert result.band == "adversarial"
    assert result.cap_reason == ""


def test_a_cap_to_the_band_it_already_has_gives_no_reason():
    result = health_of(facts(age=1, severity="high", tone="hostile"))  # friction 8 * decay

    assert result.computed_band == result.band == "strained"
    assert result.cap_reason == ""


def test_the_guardrail_never_changes_the_score():
    recent_hostile = facts(age=10, severity="low", tone="hostile", decision="accepted")
    no_guardrails = {**WEIGHTS, "guardrail_days": -1}

    capped = health_of(recent_hostile)
    uncapped = score([recent_hostile], as_of=AS_OF, weights=no_guardrails)

    assert (capped.band, uncapped.band) == ("strained", "healthy")
    assert capped.score == uncapped.score
    assert capped.total_friction == uncapped.total_friction


# Explanation ---------------------------------------------------------------


def test_contributions_are_sorted_by_friction_then_date_then_id():
    same = {"severity": "high", "tone": "tense"}
    small = facts(id=1, age=0, severity="low")
    older = facts(id=2, age=200, **same)
    newer_low_id = facts(id=3, age=10, **same)
    newer_high_id = facts(id=4, age=10, **same)
    largest = facts(id=5, age=0, severity="critical")

    result = health_of(small, older, newer_low_id, newer_high_id, largest)

    assert [c.facts.id for c in result.contributions] == [5, 4, 3, 1, 2]


def test_same_friction_on_different_dates_puts_the_more_recent_first():
    # Equal friction at different ages needs different factors: 4 * 0.5 at 0 days
    # equals 4 * 1 at 90 days.
    today = facts(id=1, age=0, severity="high", tone="collaborative")
    earlier = facts(id=2, age=90, severity="high", tone="tense")

    result = health_of(earlier, today)

    assert result.contributions[0].friction == result.contributions[1].friction
    assert [c.facts.id for c in result.contributions] == [1, 2]


def test_only_counted_disagreements_with_friction_are_listed():
    weights = {**WEIGHTS, "tone": {**WEIGHTS["tone"], "collaborative": 0}}
    calm = facts(id=1, tone="collaborative")
    tense = facts(id=2, tone="tense")
    too_old = facts(id=3, age=400)

    result = score([calm, tense, too_old], as_of=AS_OF, weights=weights)

    assert [c.facts.id for c in result.contributions] == [2]


def test_the_total_is_the_sum_of_the_listed_frictions():
    result = health_of(
        facts(id=1, age=3, severity="high"),
        facts(id=2, age=70, tone="hostile"),
        facts(id=3, age=200, decision="proceeded", verdict="advice_vindicated"),
    )

    assert result.total_friction == math.fsum(c.friction for c in result.contributions)


def test_it_is_deterministic_whatever_the_order():
    disagreements = [
        facts(
            id=i,
            age=(i * 37) % 380,
            severity=SEVERITIES[i % 4],
            tone=TONES[i % 3],
            decision=DECISIONS[i % 5],
            verdict=VERDICTS[(i * 3) % 5],
        )
        for i in range(40)
    ]
    expected = health_of(*disagreements)

    for seed in range(5):
        shuffled = disagreements[:]
        random.Random(seed).shuffle(shuffled)
        assert health_of(*shuffled) == expected
    assert score(iter(disagreements), as_of=AS_OF, weights=WEIGHTS) == expected


# Trend ---------------------------------------------------------------------


def test_trend_is_score_now_minus_score_then():
    assert trend(79, 69) == 10
    assert trend(60, 75) == -15
    assert trend(health_of(), health_of(facts(severity="critical"))) == 100 - 51
    assert trend(health_of(), 90) == 10


def test_trend_compares_with_90_days_earlier():
    assert trend_start(AS_OF, WEIGHTS) == date(2026, 8, 18)


# The worked example in docs/scoring.md ---------------------------------------

NORTHWIND = [
    Facts(
        101,
        "Fuel-hedging strategy",
        date(2026, 1, 24),
        "high",
        "tense",
        "proceeded",
        "advice_vindicated",
    ),
    Facts(
        102,
        "Warehouse lease renewal",
        date(2026, 6, 15),
        "moderate",
        "tense",
        "compromise",
        "client_vindicated",
    ),
    Facts(
        103,
        "Year-end bonus accrual",
        date(2026, 9, 2),
        "high",
        "collaborative",
        "accepted",
        "pending",
    ),
    Facts(104, "Audit fee increase", date(2026, 11, 4), "low", "hostile", "withdrew", "pending"),
    Facts(
        105,
        "Customs classification",
        date(2025, 10, 12),
        "critical",
        "hostile",
        "proceeded",
        "inconclusive",
    ),
]


def _rows(result: scoring.Health) -> list[tuple]:
    return [
        (
            c.facts.title,
            c.age_days,
            c.severity_weight,
            c.tone_factor,
            c.decision_factor,
            c.outcome_factor,
            round(c.decay, 4),
            round(c.friction, 3),
        )
        for c in result.contributions
    ]


def test_the_worked_example():
    result = health_of(*NORTHWIND)

    assert _rows(result) == [
        ("Audit fee increase", 12, 1, 2, 0.6, 1, 0.9117, 1.094),
        ("Fuel-hedging strategy", 296, 4, 1, 1.5, 1.3, 0.1023, 0.798),
        ("Year-end bonus accrual", 75, 4, 0.5, 0.5, 1, 0.5612, 0.561),
        ("Warehouse lease renewal", 154, 2, 1, 0.8, 0.7, 0.3054, 0.342),
    ]  # Customs classification, 400 days old, is ignored
    assert round(result.total_friction, 3) == 2.795
    assert round(100 * math.exp(-result.total_friction / 12), 2) == 79.22
    assert result.score == 79
    assert result.computed_band == "healthy"
    assert result.band == "strained"
    assert (
        result.cap_reason == "A hostile disagreement in the last 30 days caps the band at strained."
    )


def test_the_worked_example_trend():
    now = health_of(*NORTHWIND)
    then = health_of(*NORTHWIND, as_of=trend_start(AS_OF, WEIGHTS))

    assert _rows(then) == [
        ("Customs classification", 310, 8, 2, 1.5, 1, 0.0919, 2.205),
        ("Fuel-hedging strategy", 206, 4, 1, 1.5, 1.3, 0.2046, 1.596),
        ("Warehouse lease renewal", 64, 2, 1, 0.8, 0.7, 0.6108, 0.684),
    ]
    assert round(then.total_friction, 3) == 4.485
    assert round(100 * math.exp(-then.total_friction / 12), 2) == 68.82
    assert (then.score, then.band, then.cap_reason) == (69, "strained", "")
    assert trend(now, then) == 10


def test_the_worked_example_cap_lifts_at_31_days():
    on_day_30 = health_of(*NORTHWIND, as_of=date(2026, 12, 4))
    on_day_31 = health_of(*NORTHWIND, as_of=date(2026, 12, 5))

    assert on_day_30.band == "strained"
    assert (on_day_31.score, on_day_31.band) == (82, "healthy")


def test_the_scoring_doc_shows_what_the_code_computes():
    doc = SCORING_DOC.read_text()
    now = health_of(*NORTHWIND)
    then = health_of(*NORTHWIND, as_of=trend_start(AS_OF, WEIGHTS))
    lifted = health_of(*NORTHWIND, as_of=date(2026, 12, 5))

    assert (
        f"**Result: score {now.score}, band {now.band}** (computed band {now.computed_band})" in doc
    )
    assert f'"{now.cap_reason}"' in doc
    assert f"= **{now.total_friction:.3f}**" in doc
    assert f"**Trend: {now.score} \N{MINUS SIGN} {then.score} = {trend(now, then):+d}.**" in doc
    assert f"the score will be {lifted.score} and the band {lifted.band}" in doc
    for result in (now, then):
        for c in result.contributions:
            assert f"| {c.facts.title} | {c.age_days} |" in doc
            assert f"| {c.decay:.4f} | {c.friction:.3f} |" in doc


# Properties ----------------------------------------------------------------

one_disagreement = st.builds(
    Facts,
    id=st.integers(min_value=1, max_value=10_000),
    title=st.just("Disagreement"),
    occurred_on=st.integers(min_value=-10, max_value=400).map(lambda d: AS_OF - timedelta(days=d)),
    severity=st.sampled_from(SEVERITIES),
    tone=st.sampled_from(TONES),
    decision=st.sampled_from(DECISIONS),
    verdict=st.sampled_from(VERDICTS),
)
some_disagreements = st.lists(one_disagreement, max_size=12)
property_test = hypothesis_settings(database=None, deadline=None, max_examples=300)


@property_test
@given(some_disagreements, one_disagreement)
def test_adding_a_disagreement_never_raises_the_score(existing, added):
    before = health_of(*existing)
    after = health_of(*existing, added)

    assert after.score <= before.score
    assert after.total_friction >= before.total_friction


def _with(disagreements: list[Facts], index: int, **changes) -> list[Facts]:
    changed = disagreements[:]
    changed[index] = dataclasses.replace(changed[index], **changes)
    return changed


@property_test
@given(st.data(), st.lists(one_disagreement, min_size=1, max_size=12))
def test_raising_severity_never_raises_the_score(data, disagreements):
    index = data.draw(st.integers(0, len(disagreements) - 1))
    current = SEVERITIES.index(disagreements[index].severity)
    higher = data.draw(st.sampled_from(SEVERITIES[current:]))

    raised = _with(disagreements, index, severity=higher)

    assert health_of(*raised).score <= health_of(*disagreements).score


@property_test
@given(st.data(), st.lists(one_disagreement, min_size=1, max_size=12))
def test_raising_tone_never_raises_the_score(data, disagreements):
    index = data.draw(st.integers(0, len(disagreements) - 1))
    current = TONES.index(disagreements[index].tone)
    higher = data.draw(st.sampled_from(TONES[current:]))

    raised = _with(disagreements, index, tone=higher)

    assert health_of(*raised).score <= health_of(*disagreements).score


@property_test
@given(st.data(), st.lists(one_disagreement, min_size=1, max_size=12))
def test_a_higher_friction_decision_never_raises_the_score(data, disagreements):
    index = data.draw(st.integers(0, len(disagreements) - 1))
    current = DECISIONS.index(disagreements[index].decision)
    higher = data.draw(st.sampled_from(DECISIONS[current:]))

    changed = _with(disagreements, index, decision=higher)

    assert health_of(*changed).score <= health_of(*disagreements).score


@property_test
@given(st.data(), st.lists(one_disagreement, min_size=1, max_size=12))
def test_a_more_recent_date_never_raises_the_score(data, disagreements):
    index = data.draw(st.integers(0, len(disagreements) - 1))
    age = (AS_OF - disagreements[index].occurred_on).days
    assume(age >= 0)  # a future disagreement is ignored; moving it to today adds friction
    newer_age = data.draw(st.integers(0, age))

    changed = _with(disagreements, index, occurred_on=AS_OF - timedelta(days=newer_age))

    assert health_of(*changed).score <= health_of(*disagreements).score


@pytest.mark.parametrize(
    ("band", "than", "worse"),
    [
        ("strained", "healthy", True),
        ("adversarial", "strained", True),
        ("adversarial", "healthy", True),
        ("strained", "adversarial", False),
        ("healthy", "strained", False),
        ("strained", "strained", False),
    ],
)
def test_bands_have_one_order_healthiest_first(band, than, worse):
    assert BANDS == ("healthy", "strained", "adversarial")
    assert is_worse(band, than=than) is worse
