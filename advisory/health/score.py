"""Relationship health: the score as pure functions (docs/scoring.md).

Facts and dates in; score, band and the explanation behind them out. Nothing here
touches the database, so the recipe is tested without one
(tests/advisory/health/test_score.py) and a view, a nightly job or a 12-month history
can all call it with whatever "as of" date they need.

The weights live in `settings.CANDOR_HEALTH`; callers pass them in (`weights=`),
so this module imports nothing from Django at all (an import-linter contract
in pyproject.toml holds it to that).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

HEALTHY = "healthy"
STRAINED = "strained"
ADVERSARIAL = "adversarial"

# The bands, healthiest first: the one order in Candor. A guardrail may move
# a band to the right, never to the left; a move to the right notifies; the
# health board lists them worst first.
BANDS = (HEALTHY, STRAINED, ADVERSARIAL)

Weights = Mapping[str, Any]


@dataclass(frozen=True)
class Facts:
    """What the score needs of one disagreement (choice values from advisory.models)."""

    id: int
    title: str
    occurred_on: date
    severity: str  # low | moderate | high | critical
    tone: str  # collaborative | tense | hostile
    decision: str  # pending | accepted | compromise | proceeded | withdrew
    verdict: str  # pending | advice_vindicated | client_vindicated | mixed | inconclusive


@dataclass(frozen=True)
class Contribution:
    """One line of "Why this score": the factors and their product."""

    facts: Facts
    age_days: int
    severity_weight: float
    tone_factor: float
    decision_factor: float
    outcome_factor: float
    decay: float
    friction: float


@dataclass(frozen=True)
class Health:
    score: int  # 0..100, higher is healthier
    band: str  # after the guardrails
    computed_band: str  # from the score alone
    cap_reason: str  # "" unless a guardrail lowered the band
    total_friction: float
    contributions: list[Contribution]  # friction > 0, largest first
    as_of: date


def _factor(weights: Weights, table: str, value: str) -> float:
    try:
        return float(weights[table][value])
    except KeyError:
        raise ValueError(f"No {table} weight for {value!r} in CANDOR_HEALTH.") from None


def _round_half_up(x: float) -> int:
    # Python's round() rounds halves to even (72.5 -> 72); the documented recipe
    # rounds them up (72.5 -> 73). Written without `floor(x + 0.5)`, whose addition
    # can itself round up a value just below a half.
    whole = math.floor(x)
    return whole + (1 if x - whole >= 0.5 else 0)


def band_for(score: int, weights: Weights) -> str:
    """The band a score falls in, before any guardrail."""
    bands = weights["bands"]
    if score >= bands[HEALTHY]:
        return HEALTHY
    if score >= bands[STRAINED]:
        return STRAINED
    return ADVERSARIAL


def recency(age_days: int, weights: Weights) -> float:
    """How much of its friction a disagreement this many days old still adds."""
    return 0.5 ** (age_days / weights["half_life_days"])


def score_for(total_friction: float, weights: Weights) -> int:
    """The score a client's total friction leaves of 100."""
    return _round_half_up(100 * math.exp(-total_friction / weights["scale"]))


def contribution(facts: Facts, *, as_of: date, weights: Weights) -> Contribution | None:
    """The friction one disagreement adds as of a date, or None when it is ignored.

    Ignored: older than `ignore_after_days` (365 days old still counts), or dated
    after `as_of` (a past view must not see what had not happened yet).
    """
    w = weights
    age_days = (as_of - facts.occurred_on).days
    if age_days < 0 or age_days > w["ignore_after_days"]:
        return None
    severity_weight = _factor(w, "severity", facts.severity)
    tone_factor = _factor(w, "tone", facts.tone)
    decision_factor = _factor(w, "decision", facts.decision)
    # Being proven right only adds friction where the client went against the
    # advice; after an accepted recommendation it says nothing about the relationship.
    if facts.verdict == "advice_vindicated" and facts.decision != "proceeded":
        outcome_factor = 1.0
    else:
        outcome_factor = _factor(w, "outcome", facts.verdict)
    decay = recency(age_days, w)
    friction = severity_weight * tone_factor * decision_factor * outcome_factor * decay
    return Contribution(
        facts=facts,
        age_days=age_days,
        severity_weight=severity_weight,
        tone_factor=tone_factor,
        decision_factor=decision_factor,
        outcome_factor=outcome_factor,
        decay=decay,
        friction=friction,
    )


def _cap(counted: list[Contribution], weights: Weights) -> tuple[str, str] | None:
    """The tightest guardrail that applies: (band it caps at, reason), or None."""
    days = weights["guardrail_days"]
    recent = [c.facts for c in counted if c.age_days <= days]
    critical = any(f.severity == "critical" for f in recent)
    hostile = any(f.tone == "hostile" for f in recent)
    # Adversarial needs one disagreement that was both, not one of each.
    if any(f.severity == "critical" and f.tone == "hostile" for f in recent):
        cap, kind = ADVERSARIAL, "critical, hostile"
    elif critical or hostile:
        cap, kind = STRAINED, "critical" if critical else "hostile"
    else:
        return None
    return cap, f"A {kind} disagreement in the last {days} days caps the band at {cap}."


def score(disagreements: Iterable[Facts], *, as_of: date, weights: Weights) -> Health:
    """A client's relationship health as of a date, with the reasons for it."""
    w = weights
    counted = [
        c for f in disagreements if (c := contribution(f, as_of=as_of, weights=w)) is not None
    ]
    contributions = sorted(
        (c for c in counted if c.friction > 0),
        key=lambda c: (c.friction, c.facts.occurred_on, c.facts.id),
        reverse=True,
    )
    # fsum is exactly rounded, so the total does not depend on the order of the
    # input and one more disagreement can never make it smaller.
    total = math.fsum(c.friction for c in contributions)
    value = score_for(total, w)
    computed_band = band_for(value, w)
    band, cap_reason = computed_band, ""
    cap = _cap(counted, w)
    if cap and is_worse(cap[0], than=computed_band):
        band, cap_reason = cap
    return Health(
        score=value,
        band=band,
        computed_band=computed_band,
        cap_reason=cap_reason,
        total_friction=total,
        contributions=contributions,
        as_of=as_of,
    )


def trend_start(as_of: date, weights: Weights) -> date:
    """The date the trend compares with: `trend_days` (90) before `as_of`."""
    return as_of - timedelta(days=weights["trend_days"])


def trend(now: Health | int, then: Health | int) -> int:
    """Score now minus score then: negative when the relationship got worse."""
    now_score = now.score if isinstance(now, Health) else now
    then_score = then.score if isinstance(then, Health) else then
    return now_score - then_score


def is_worse(band: str, *, than: str) -> bool:
    """Whether `band` is less healthy than `than`."""
    return BANDS.index(band) > BANDS.index(than)
