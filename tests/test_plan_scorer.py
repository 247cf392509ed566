"""The scheduler's lean scoring path (``PlanScorer``) against the reference ``compute_score``: for the same inputs
the same score, band and breakdown, to the bit, whatever the plan, values, ages, milestones and day; and the compact
breakdown the history keeps reads back as that breakdown, like the older, fuller form does."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from steps.health import MilestoneState, PlanScorer, ScoreBreakdown, compute_score, freshness_at
from steps.step3 import HealthModel
from tests.test_health import make_model, split, thresholds

NOW = datetime(2026, 2, 10, 9, 30, tzinfo=UTC)
TODAY = NOW.date()
CUSTOM_NAMES = ("NPS", "NPS!", "Adoption", "Usage")  # "Adoption" and "NPS!" collide with keys already taken
EXAMPLES = settings(max_examples=400, deadline=None)

values = st.integers(0, 100) | st.floats(0, 100, allow_nan=False)
points = st.none() | st.integers(0, 30)


@st.composite
def plans(draw: st.DrawFn) -> tuple[HealthModel, list[tuple[int | None, int | None]], dict[str, int], int | None]:
    """A model (standard and custom factors, any weights totalling 100), milestone points per position, freshness
    window overrides and a minimum data share."""
    names = draw(st.lists(st.sampled_from(CUSTOM_NAMES), max_size=2, unique=True))
    weights = draw(split(100, 4 + len(names)))
    critical_below, healthy_from = draw(thresholds())
    model = make_model(*weights[:4], custom=list(zip(names, weights[4:], strict=True)),
                       critical_below=critical_below, healthy_from=healthy_from)  # fmt: skip
    plan_points = draw(st.lists(st.tuples(points, points), max_size=5))
    overrides = draw(st.dictionaries(st.sampled_from(("adoption", "engagement", "tickets", "nps")),
                                     st.integers(1, 30)))  # fmt: skip
    share = draw(st.none() | st.integers(0, 100))
    return model, plan_points, overrides, share


@st.composite
def customers(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, str], list[tuple[int, str, date, date | None]]]:
    keys = st.sampled_from(("adoption", "engagement", "tickets", "milestones", "nps", "nps_2", "adoption_2", "usage",
                            "unknown"))  # fmt: skip
    signals = draw(st.dictionaries(keys, values))
    ages = st.floats(0, 40, allow_nan=False).map(lambda days: (NOW - timedelta(days=days)).isoformat())
    observed = draw(st.dictionaries(keys, ages))
    milestones = []
    for position in range(draw(st.integers(0, 7))):  # positions past the plan's earn no points
        due = TODAY + timedelta(days=draw(st.integers(-60, 60)))
        done = draw(st.none() | st.integers(-90, 0).map(lambda days: TODAY + timedelta(days=days)))
        milestones.append((position, f"Milestone {position}", due, done))
    return signals, observed, milestones


def reference(model: HealthModel, plan_points: Sequence[tuple[int | None, int | None]], overrides: dict[str, int],
              share: int | None, signals: dict[str, Any], observed: dict[str, str],
              milestones: list[tuple[int, str, date, date | None]]) -> Any:  # fmt: skip
    states = [
        MilestoneState(position, name, due, done, *(plan_points[position] if position < len(plan_points) else
                                                     (None, None)))
        for position, name, due, done in milestones
    ]  # fmt: skip
    return compute_score(model, signals, states, TODAY, observed=observed,
                         freshness=freshness_at(model, overrides, share, NOW))  # fmt: skip


@EXAMPLES
@given(plans(), customers())
def test_the_lean_path_scores_and_explains_like_compute_score(plan: Any, customer: Any) -> None:
    model, plan_points, overrides, share = plan
    signals, observed, milestones = customer
    expected = reference(model, plan_points, overrides, share, signals, observed, milestones)
    scorer = PlanScorer(model, freshness_at(model, overrides, share, NOW), plan_points)
    score, band, with_stale, stale, insufficient, breakdown = scorer.score(signals, observed, milestones, TODAY)
    assert breakdown == expected.stored()
    # What the history keeps reads back as the very breakdown, floats to the bit (and the old form still reads).
    assert ScoreBreakdown.from_dict(json.loads(json.dumps(breakdown))) == expected
    assert ScoreBreakdown.from_dict(json.loads(json.dumps(expected.to_dict()))) == expected
    assert (score, band) == (expected.score, expected.band.value if expected.band else None)
    assert with_stale == (expected.band_with_stale.value if expected.band_with_stale else None)
    assert (stale, insufficient) == (bool(expected.stale), expected.insufficient is not None)
    # Days as SQLite's driver hands them back (ISO strings) give the same result.
    as_text = [(p, n, due.isoformat(), done.isoformat() if done else None) for p, n, due, done in milestones]
    assert scorer.score(signals, observed, as_text, TODAY.isoformat())[5] == breakdown
    # And a score kept from this computation is read back with the same flags the digest counts.
    assert scorer.kept_flags(score, signals, observed) == (bool(expected.stale), expected.insufficient is not None)


def test_a_value_out_of_range_is_refused_like_compute_score() -> None:
    model = make_model()
    scorer = PlanScorer(model, freshness_at(model, {}, None, NOW), [])
    for bad in (-1, 100.5, float("nan")):
        try:
            scorer.score({"adoption": bad}, {}, [], TODAY)
        except ValueError as refused:
            assert "must be between 0 and 100" in str(refused)
        else:
            raise AssertionError(f"{bad!r} was accepted")


def test_fresh_data_exactly_at_the_minimum_share_is_enough_on_both_paths() -> None:
    model = make_model(40, 30, 20, 10)
    fresh = freshness_at(model, {}, 50, NOW)
    stale_at = (NOW - timedelta(days=30)).isoformat()
    signals = {"adoption": 80.0, "engagement": 10.0, "tickets": 10.0}
    observed = {"engagement": stale_at, "tickets": stale_at}  # adoption 40 + milestones 10 = exactly 50% fresh
    milestones = [(0, "Kickoff", TODAY - timedelta(days=3), TODAY - timedelta(days=5))]
    expected = reference(model, [(5, 5)], {}, 50, signals, observed, milestones)
    assert expected.score is not None and expected.insufficient is None
    assert PlanScorer(model, fresh, [(5, 5)]).score(signals, observed, milestones, TODAY)[5] == expected.stored()
