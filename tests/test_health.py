"""Health scores: worked examples computed by hand, then properties that must hold for any plan."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from steps.health import (
    MISSED,
    REACHED_ON_TIME,
    Adjustment,
    DataShare,
    Freshness,
    MilestoneState,
    ScoreBreakdown,
    StaleFactor,
    band_change,
    compute_score,
    drop_from_staleness,
    factor_keys,
    factor_slug,
    freshness_at,
    freshness_windows,
    is_drop,
    is_worse,
    milestone_adjustments,
    milestone_completion,
    scoring_factors,
    signal_factors,
)
from steps.step3 import Band, HealthModel

TODAY = date(2026, 2, 10)
SIGNALLED = ("adoption", "engagement", "tickets")
STANDARD_SIGNALS = ("adoption", "engagement", "tickets")
PROPERTY_EXAMPLES = settings(max_examples=150, deadline=None)


def make_model(
    adoption: int = 40,
    engagement: int = 30,
    tickets: int = 20,
    milestones: int = 10,
    *,
    custom: Sequence[tuple[str, int]] = (),
    critical_below: int = 40,
    healthy_from: int = 70,
) -> HealthModel:
    return HealthModel.model_validate(
        {
            "weights": {"adoption": adoption, "engagement": engagement, "tickets": tickets, "milestones": milestones},
            "custom_factors": [{"name": name, "weight": weight} for name, weight in custom],
            "critical_below": critical_below,
            "healthy_from": healthy_from,
            "cadence": "weekly",
            "update_time": "09:00",
            "timezone": "UTC",
        }
    )


def state(
    index: int,
    due: date,
    completed_on: date | None = None,
    on_time: int | None = None,
    missed: int | None = None,
    name: str | None = None,
) -> MilestoneState:
    return MilestoneState(index, name or f"Milestone {index + 1}", due, completed_on, on_time, missed)


# Reached on time (+10), missed (−15), not due yet: completion 1 of 2 due = 50%.
MILESTONES = [
    state(0, date(2026, 1, 15), date(2026, 1, 10), on_time=10, missed=20, name="Onboarding call"),
    state(1, date(2026, 2, 1), None, on_time=10, missed=15, name="Kickoff"),
    state(2, date(2026, 3, 1), None, on_time=10, missed=15, name="First report"),
]


# --- factors -----------------------------------------------------------------------------------


def test_factor_keys_standard_first_then_custom_slugs() -> None:
    model = make_model(30, 20, 20, 10, custom=[("Net Promoter Score (NPS)", 15), ("  Exec. sponsor!  ", 5)])
    assert factor_keys(model) == {
        "adoption": "Feature adoption",
        "engagement": "Engagement",
        "tickets": "Support tickets",
        "milestones": "Milestone completion",
        "net_promoter_score_nps": "Net Promoter Score (NPS)",
        "exec_sponsor": "Exec. sponsor!",
    }
    assert list(signal_factors(model)) == [
        "adoption",
        "engagement",
        "tickets",
        "net_promoter_score_nps",
        "exec_sponsor",
    ]


def test_factor_with_weight_zero_is_not_part_of_the_score() -> None:
    model = make_model(60, 0, 40, 0, custom=[("NPS", 0)])
    assert list(factor_keys(model)) == ["adoption", "tickets"]
    breakdown = compute_score(model, {"adoption": 50, "tickets": 100, "engagement": 0, "nps": 0}, MILESTONES, TODAY)
    assert breakdown.missing == ()
    assert [f.key for f in breakdown.factors] == ["adoption", "tickets"]


def test_colliding_or_empty_custom_slugs_get_distinct_keys() -> None:
    model = make_model(40, 20, 20, 10, custom=[("Adoption", 5), ("NPS!", 3), ("NPS?", 2)])
    assert list(factor_keys(model))[4:] == ["adoption_2", "nps", "nps_2"]
    unnamed = make_model(40, 20, 20, 10, custom=[("★★", 5), ("☆", 5)])
    assert list(factor_keys(unnamed))[4:] == ["custom", "custom_2"]
    assert factor_slug("Net  Promoter--Score") == "net_promoter_score"


# --- milestones --------------------------------------------------------------------------------


def test_milestone_completion_counts_only_milestones_already_due() -> None:
    assert milestone_completion(MILESTONES, TODAY) == 50.0
    assert milestone_completion(MILESTONES, date(2026, 1, 20)) == 100.0  # the kickoff is not due yet
    assert milestone_completion(MILESTONES, date(2026, 2, 1)) == 100.0  # due today is not due yet
    assert milestone_completion(MILESTONES, date(2026, 3, 2)) == pytest.approx(100 / 3)


def test_milestone_completion_counts_early_completions_and_is_none_before_anything_is_due() -> None:
    pending = [state(0, date(2026, 3, 1)), state(1, date(2026, 4, 1))]
    assert milestone_completion(pending, TODAY) is None
    assert milestone_completion([], TODAY) is None
    early = [state(0, date(2026, 3, 1), completed_on=date(2026, 2, 5)), state(1, date(2026, 4, 1))]
    assert milestone_completion(early, TODAY) == 100.0
    late = [state(0, date(2026, 2, 1), completed_on=date(2026, 2, 3)), state(1, date(2026, 4, 1))]
    assert milestone_completion(late, TODAY) == 0.0


def test_milestone_adjustments() -> None:
    assert milestone_adjustments(MILESTONES, TODAY) == [
        Adjustment(0, "Onboarding call", 10, REACHED_ON_TIME),
        Adjustment(1, "Kickoff", -15, MISSED),
    ]
    late = state(0, date(2026, 2, 1), completed_on=date(2026, 2, 2), on_time=10, missed=5)
    assert milestone_adjustments([late], TODAY) == [Adjustment(0, "Milestone 1", -5, MISSED)]


def test_milestones_without_points_produce_no_adjustment() -> None:
    unscored = [
        state(0, date(2026, 1, 15), date(2026, 1, 10), on_time=None, missed=20),
        state(1, date(2026, 2, 1), None, on_time=10, missed=None),
        state(2, date(2026, 2, 2), None, on_time=10, missed=0),
    ]
    assert milestone_adjustments(unscored, TODAY) == []


# --- score: worked examples --------------------------------------------------------------------


def test_worked_example() -> None:
    breakdown = compute_score(make_model(), {"adoption": 70, "engagement": 50, "tickets": 80}, MILESTONES, TODAY)
    # 70×0.4 + 50×0.3 + 80×0.2 + 50×0.1 = 28 + 15 + 16 + 5 = 64; +10 −15 = 59.
    assert breakdown.score == 59.0
    assert breakdown.band is Band.AT_RISK
    assert [(f.key, f.value, f.weight, f.effective_weight) for f in breakdown.factors] == [
        ("adoption", 70.0, 40, 0.4),
        ("engagement", 50.0, 30, 0.3),
        ("tickets", 80.0, 20, 0.2),
        ("milestones", 50.0, 10, 0.1),
    ]
    assert [f.contribution for f in breakdown.factors] == pytest.approx([28.0, 15.0, 16.0, 5.0])
    assert breakdown.missing == ()
    assert [a.points for a in breakdown.adjustments] == [10, -15]
    assert breakdown.explain() == [
        "Score: 59.0 (At-risk)",
        "Feature adoption 70 × 40% = 28.0",
        "Engagement 50 × 30% = 15.0",
        "Support tickets 80 × 20% = 16.0",
        "Milestone completion 50 × 10% = 5.0",
        "Milestone 1 “Onboarding call” reached on time: +10",
        "Milestone 2 “Kickoff” missed: −15",
    ]
    assert [f.key for f in breakdown.weakest()] == ["engagement", "milestones"]


def test_missing_factor_is_flagged_and_weights_renormalised() -> None:
    breakdown = compute_score(make_model(), {"adoption": 70, "tickets": 80}, MILESTONES, TODAY)
    # Without engagement the weights 40/20/10 share 70: (70×40 + 80×20 + 50×10) / 70 = 70; −5 = 65.
    assert breakdown.score == 65.0
    assert breakdown.band is Band.AT_RISK
    assert breakdown.missing == ("engagement",)
    engagement = breakdown.factors[1]
    assert (engagement.value, engagement.effective_weight, engagement.contribution) == (None, 0.0, 0.0)
    assert [f.effective_weight for f in breakdown.factors] == pytest.approx([4 / 7, 0, 2 / 7, 1 / 7])
    assert "Missing: Engagement (no data)" in breakdown.explain()
    assert "Feature adoption 70 × 57.1% = 40.0" in breakdown.explain()


def test_milestone_factor_is_missing_until_a_milestone_is_due() -> None:
    pending = [state(0, date(2026, 3, 1), on_time=10, missed=10)]
    breakdown = compute_score(make_model(), {"adoption": 80, "engagement": 80, "tickets": 80}, pending, TODAY)
    assert breakdown.missing == ("milestones",)
    assert breakdown.score == 80.0
    assert breakdown.band is Band.HEALTHY
    assert breakdown.explain()[-1] == "Missing: Milestone completion (no milestone due yet)"


def test_custom_factor_signal() -> None:
    model = make_model(40, 20, 20, 10, custom=[("NPS", 10)])
    breakdown = compute_score(model, {"adoption": 50, "engagement": 50, "tickets": 50, "nps": 0}, [], TODAY)
    # Milestones missing: 50×(80/90) + 0×(10/90) = 44.4…
    assert breakdown.score == 44.4
    assert breakdown.missing == ("milestones",)
    assert breakdown.weakest(1)[0].key == "nps"


def test_clamped_at_100() -> None:
    reached = [state(i, date(2026, 1, 1 + i), date(2026, 1, 1), on_time=30) for i in range(3)]
    breakdown = compute_score(make_model(), {"adoption": 95, "engagement": 95, "tickets": 95}, reached, TODAY)
    assert breakdown.score == 100.0
    assert breakdown.band is Band.HEALTHY
    assert breakdown.explain()[0] == "Score: 100.0 (Healthy, capped at 100)"


def test_clamped_at_0() -> None:
    missed = [state(i, date(2026, 1, 1 + i), missed=40) for i in range(3)]
    breakdown = compute_score(make_model(), {"adoption": 20, "engagement": 10, "tickets": 30}, missed, TODAY)
    assert breakdown.score == 0.0
    assert breakdown.band is Band.CRITICAL
    assert breakdown.explain()[0] == "Score: 0.0 (Critical, floored at 0)"


def test_no_data_means_no_score_but_adjustments_are_still_reported() -> None:
    model = make_model(50, 30, 20, 0)  # milestone completion is not a factor of this plan
    breakdown = compute_score(model, {}, MILESTONES, TODAY)
    assert breakdown.score is None
    assert breakdown.band is None
    assert breakdown.missing == ("adoption", "engagement", "tickets")
    assert [a.points for a in breakdown.adjustments] == [10, -15]
    assert breakdown.weakest() == ()
    assert breakdown.explain()[0] == "Score: no data yet (no health signal recorded)"

    nothing = compute_score(make_model(), {}, [], TODAY)
    assert (nothing.score, nothing.band) == (None, None)
    assert nothing.missing == ("adoption", "engagement", "tickets", "milestones")


def test_unknown_and_milestone_signals_are_ignored() -> None:
    plain = compute_score(make_model(), {"adoption": 70, "engagement": 50, "tickets": 80}, MILESTONES, TODAY)
    noisy = compute_score(
        make_model(),
        {"adoption": 70, "engagement": 50, "tickets": 80, "milestones": 0, "nps": 3},
        MILESTONES,
        TODAY,
    )
    assert noisy == plain


@pytest.mark.parametrize("value", [-1, 100.5, float("nan"), float("inf")])
def test_signal_outside_0_100_is_rejected(value: float) -> None:
    with pytest.raises(ValueError, match="adoption"):
        compute_score(make_model(), {"adoption": value}, [], TODAY)


def test_band_from_rounded_score() -> None:
    # 69.96 shows as 70.0, so it must be Healthy at "healthy from 70".
    breakdown = compute_score(make_model(100, 0, 0, 0), {"adoption": 69.96}, [], TODAY)
    assert (breakdown.score, breakdown.band) == (70.0, Band.HEALTHY)


def test_weakest_ties_by_key() -> None:
    breakdown = compute_score(make_model(), {"tickets": 40, "adoption": 40, "engagement": 90}, [], TODAY)
    assert [f.key for f in breakdown.weakest()] == ["adoption", "tickets"]
    assert [f.key for f in breakdown.weakest(5)] == ["adoption", "tickets", "engagement"]
    assert breakdown.weakest(0) == ()


def test_to_dict_is_json() -> None:
    breakdown = compute_score(make_model(), {"adoption": 70, "tickets": 80}, MILESTONES, TODAY)
    data = breakdown.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["band"] == "at_risk"
    assert data["adjustments"][1] == {"index": 1, "name": "Kickoff", "points": -15, "reason": "missed"}
    assert ScoreBreakdown.from_dict(data) == breakdown


# --- bands -------------------------------------------------------------------------------------


def test_band_change() -> None:
    assert band_change(Band.HEALTHY, Band.AT_RISK) == "Healthy → At-risk"
    assert band_change(Band.CRITICAL, Band.HEALTHY) == "Critical → Healthy"
    assert band_change(Band.AT_RISK, Band.AT_RISK) is None
    assert band_change(None, None) is None
    assert band_change(None, Band.CRITICAL) == "No data yet → Critical"


@pytest.mark.parametrize(
    ("previous", "current", "worse"),
    [
        (Band.HEALTHY, Band.AT_RISK, True),
        (Band.HEALTHY, Band.CRITICAL, True),
        (Band.AT_RISK, Band.CRITICAL, True),
        (Band.AT_RISK, Band.AT_RISK, False),
        (Band.CRITICAL, Band.AT_RISK, False),
        (Band.AT_RISK, Band.HEALTHY, False),
        (None, Band.CRITICAL, False),
        (Band.HEALTHY, None, False),
    ],
)
def test_is_worse(previous: Band | None, current: Band | None, worse: bool) -> None:
    assert is_worse(previous, current) is worse


# --- properties --------------------------------------------------------------------------------


def split(total: int, parts: int) -> st.SearchStrategy[list[int]]:
    """``parts`` non-negative integers summing to ``total``."""

    def cut(points: list[int]) -> list[int]:
        edges = [0, *sorted(points), total]
        return [b - a for a, b in pairwise(edges)]

    return st.lists(st.integers(0, total), min_size=parts - 1, max_size=parts - 1).map(cut)


values = st.integers(0, 100) | st.floats(0, 100, allow_nan=False)
signal_maps = st.dictionaries(st.sampled_from(SIGNALLED), values)
full_signals = st.fixed_dictionaries({key: values for key in SIGNALLED})
points = st.none() | st.integers(0, 100)


@st.composite
def thresholds(draw: st.DrawFn) -> tuple[int, int]:
    low, high = sorted(draw(st.lists(st.integers(0, 100), min_size=2, max_size=2, unique=True)))
    return low, high


@st.composite
def models(draw: st.DrawFn) -> HealthModel:
    critical_below, healthy_from = draw(thresholds())
    return make_model(*draw(split(100, 4)), critical_below=critical_below, healthy_from=healthy_from)


@st.composite
def milestone_lists(draw: st.DrawFn) -> list[MilestoneState]:
    result = []
    for index in range(draw(st.integers(0, 5))):
        due = TODAY + timedelta(days=draw(st.integers(-60, 60)))
        completed = draw(st.none() | st.integers(-90, 0).map(lambda days: TODAY + timedelta(days=days)))
        result.append(state(index, due, completed, draw(points), draw(points)))
    return result


def score(model: HealthModel, signals: Mapping[str, float], milestones: Sequence[MilestoneState]) -> ScoreBreakdown:
    return compute_score(model, signals, milestones, TODAY)


@PROPERTY_EXAMPLES
@given(models(), signal_maps, milestone_lists())
def test_score_within_range_and_band_matches_thresholds(
    model: HealthModel, signals: dict[str, float], milestones: list[MilestoneState]
) -> None:
    breakdown = score(model, signals, milestones)
    if breakdown.score is None:
        assert breakdown.band is None
        # No score until a weighted signal has data (milestone completion alone is no reading), or, for a model
        # of milestones only, until a milestone is due.
        signals_weighed = [f for f in breakdown.factors if f.key != "milestones" and f.weight > 0]
        if signals_weighed:
            assert all(f.value is None for f in signals_weighed)
        else:
            assert set(breakdown.missing) == set(factor_keys(model))
        return
    assert 0.0 <= breakdown.score <= 100.0
    assert breakdown.score == round(breakdown.score, 1)
    if breakdown.score >= model.healthy_from:
        assert breakdown.band is Band.HEALTHY
    elif breakdown.score < model.critical_below:
        assert breakdown.band is Band.CRITICAL
    else:
        assert breakdown.band is Band.AT_RISK
    present = [f for f in breakdown.factors if f.value is not None]
    assert sum(f.effective_weight for f in present) == pytest.approx(1.0)
    assert [f.key for f in breakdown.factors if f.value is None] == list(breakdown.missing)


@PROPERTY_EXAMPLES
@given(split(50, 4), signal_maps, milestone_lists(), values)
def test_factor_without_data_leaves_the_score_of_a_model_without_it(
    half: list[int], signals: dict[str, float], milestones: list[MilestoneState], nps: float
) -> None:
    # A model that weighs only a signal nobody measured has no data yet, unlike one of milestones only: compare
    # models that both have a measured signal.
    assume(any(weight and signals.get(key) is not None for key, weight in zip(STANDARD_SIGNALS, half[:3], strict=True)))
    with_nps = make_model(*half, custom=[("NPS", 50)])
    without_nps = make_model(*(2 * weight for weight in half))
    missing = score(with_nps, signals, milestones)
    absent = score(without_nps, {**signals, "nps": nps}, milestones)  # "nps" is no factor here: ignored
    assert missing.missing[-1] == "nps"
    assert (missing.score, missing.band, missing.adjustments) == (absent.score, absent.band, absent.adjustments)
    assert missing.missing[:-1] == absent.missing


@PROPERTY_EXAMPLES
@given(split(20, 4), signal_maps, milestone_lists())
def test_scaling_all_weights_keeps_the_score(
    base: list[int], signals: dict[str, float], milestones: list[MilestoneState]
) -> None:
    # Valid models total 100, so the unscaled remainder goes to a custom factor that never has data. Scores need a
    # measured signal (milestone completion alone is no reading while the model weighs signals).
    assume(any(weight and signals.get(key) is not None for key, weight in zip(STANDARD_SIGNALS, base[:3], strict=True)))
    results = set()
    for factor in range(1, 6):
        spare = 100 - 20 * factor
        model = make_model(*(factor * weight for weight in base), custom=[("Unmeasured", spare)] if spare else [])
        results.add(score(model, signals, milestones).score)
    assert len(results) == 1


@PROPERTY_EXAMPLES
@given(models(), full_signals, milestone_lists(), st.sampled_from(SIGNALLED), st.floats(0, 100))
def test_raising_a_factor_never_lowers_the_score(
    model: HealthModel, signals: dict[str, float], milestones: list[MilestoneState], key: str, raise_by: float
) -> None:
    before = score(model, signals, milestones)
    after = score(model, {**signals, key: min(signals[key] + raise_by, 100)}, milestones)
    if before.score is None:
        assert after.score is None
    else:
        assert after.score is not None
        assert after.score >= before.score


@PROPERTY_EXAMPLES
@given(models(), signal_maps, milestone_lists())
def test_to_dict_from_dict_round_trip(
    model: HealthModel, signals: dict[str, float], milestones: list[MilestoneState]
) -> None:
    breakdown = score(model, signals, milestones)
    stored: Any = json.loads(json.dumps(breakdown.to_dict()))
    assert ScoreBreakdown.from_dict(stored) == breakdown
    assert ScoreBreakdown.from_dict(stored).explain() == breakdown.explain()


def without_points(milestones: list[MilestoneState]) -> list[MilestoneState]:
    return [state(m.index, m.due, m.completed_on, name=m.name) for m in milestones]


@PROPERTY_EXAMPLES
@given(models(), signal_maps, milestone_lists())
def test_adjustments_add_their_points(
    model: HealthModel, signals: dict[str, float], milestones: list[MilestoneState]
) -> None:
    with_points = score(model, signals, milestones)
    plain = score(model, signals, without_points(milestones))
    assert plain.adjustments == ()
    assert with_points.factors == plain.factors
    if plain.score is None:
        assert with_points.score is None
        return
    assert with_points.score is not None
    total = sum(a.points for a in with_points.adjustments)
    base = sum(f.contribution for f in plain.factors)
    if 0 <= base + total <= 100:
        assert with_points.score == round(base + total, 1)
        # Rounding happens once, after adding, so the two rounded scores differ by at most one step.
        assert abs(with_points.score - (plain.score + total)) <= 0.1 + 1e-9


@PROPERTY_EXAMPLES
@given(st.integers(0, 100), milestone_lists())
def test_adjustments_add_exactly_their_points_to_a_whole_score(value: int, milestones: list[MilestoneState]) -> None:
    model = make_model(100, 0, 0, 0)
    breakdown = score(model, {"adoption": value}, milestones)
    total = sum(a.points for a in milestone_adjustments(milestones, TODAY))
    assert breakdown.score == min(max(value + total, 0), 100)


@PROPERTY_EXAMPLES
@given(milestone_lists())
def test_completion_and_adjustments_agree(milestones: list[MilestoneState]) -> None:
    completion = milestone_completion(milestones, TODAY)
    counted = [m for m in milestones if m.completed_on is not None or m.due < TODAY]
    if not counted:
        assert completion is None
    else:
        assert completion is not None
        assert 0.0 <= completion <= 100.0
    for adjustment in milestone_adjustments(milestones, TODAY):
        milestone = milestones[adjustment.index]
        expected = milestone.points_on_time if adjustment.reason == REACHED_ON_TIME else -(milestone.points_missed or 0)
        assert adjustment.points == expected
        assert adjustment.points != 0


# --- freshness ---------------------------------------------------------------------------------

NOW = datetime(2026, 2, 10, 12, 0, tzinfo=UTC)
FRESH = (NOW - timedelta(days=1)).isoformat()


def ago(days: float) -> str:
    return (NOW - timedelta(days=days)).isoformat()


def fresh_at(model: HealthModel, overrides: Mapping[str, int] | None = None, share: int | None = None) -> Freshness:
    return freshness_at(model, overrides or {}, share, NOW)


@pytest.mark.parametrize(("cadence", "days"), [("daily", 2), ("weekly", 14), ("monthly", 62)])
def test_default_window_is_two_update_periods_of_the_cadence(cadence: str, days: int) -> None:
    model = make_model(custom=[("NPS", 0)]).model_copy(update={"cadence": cadence})
    assert freshness_windows(model, {}) == {"adoption": days, "engagement": days, "tickets": days}
    # Overridden per factor; a factor the model no longer has keeps no window, and milestones never have one.
    assert freshness_windows(model, {"engagement": 3, "gone": 9, "milestones": 1})["engagement"] == 3
    assert set(freshness_windows(model, {"gone": 9})) == {"adoption", "engagement", "tickets"}


def test_stale_factor_counts_as_missing_with_weights_renormalised() -> None:
    model = make_model()  # weekly: 14 days
    signals = {"adoption": 70, "engagement": 50, "tickets": 80}
    times = {"adoption": ago(3), "engagement": ago(15), "tickets": ago(14)}  # exactly 14 days old is still fresh
    breakdown = compute_score(model, signals, MILESTONES, TODAY, observed=times, freshness=fresh_at(model))
    # As if engagement had no data: (70×40 + 80×20 + 50×10) / 70 = 70; +10 −15 = 65.
    assert breakdown.score == 65.0
    assert breakdown.band is Band.AT_RISK
    assert breakdown.missing == ("engagement",)
    assert breakdown.stale == (StaleFactor("engagement", "Engagement", 50.0, times["engagement"], 14),)
    assert [f.effective_weight for f in breakdown.factors] == pytest.approx([4 / 7, 0, 2 / 7, 1 / 7])
    assert breakdown.explain()[-1] == "Stale: Engagement 50 observed 2026-01-26 (older than 14 days)"
    # Exactly the score of a customer without an engagement value, plus the note of what is stale.
    without = compute_score(model, {"adoption": 70, "tickets": 80}, MILESTONES, TODAY)
    assert _fields(breakdown) == _fields(without) | {"stale": breakdown.stale}
    assert ScoreBreakdown.from_dict(json.loads(json.dumps(breakdown.to_dict()))) == breakdown


def _fields(breakdown: ScoreBreakdown) -> dict[str, Any]:
    return {name: getattr(breakdown, name) for name in ScoreBreakdown.__slots__}


def test_an_override_makes_a_factor_stale_sooner_and_a_value_without_time_is_not_stale() -> None:
    model = make_model()
    signals = {"adoption": 70, "engagement": 50, "tickets": 80}
    times = {"adoption": ago(3), "engagement": ago(3)}  # tickets: recorded before observation times were kept
    plain = compute_score(model, signals, MILESTONES, TODAY, observed=times, freshness=fresh_at(model))
    assert plain.stale == () and plain.score == 59.0
    short = compute_score(model, signals, MILESTONES, TODAY, observed=times, freshness=fresh_at(model, {"adoption": 2}))
    assert [f.key for f in short.stale] == ["adoption"]


def test_too_little_fresh_data_is_insufficient_not_a_score() -> None:
    model = make_model()  # adoption 40, engagement 30, tickets 20, milestones 10
    signals = {"adoption": 70, "engagement": 50, "tickets": 80}
    times = {"adoption": ago(20), "engagement": ago(20), "tickets": FRESH}
    breakdown = compute_score(model, signals, MILESTONES, TODAY, observed=times, freshness=fresh_at(model))
    # Fresh: tickets 20 + milestones 10 = 30% of the weights, under the default 50%.
    assert (breakdown.score, breakdown.band) == (None, None)
    assert breakdown.insufficient == DataShare(30.0, 50)
    assert breakdown.status == "insufficient data"
    assert breakdown.explain() == [
        "Score: insufficient data (fresh data covers 30% of the weights; the plan needs 50%)",
        "Support tickets 80",
        "Milestone completion 50",
        "Milestone 1 “Onboarding call” reached on time: +10",
        "Milestone 2 “Kickoff” missed: −15",
        "Stale: Feature adoption 70 observed 2026-01-21 (older than 14 days)",
        "Stale: Engagement 50 observed 2026-01-21 (older than 14 days)",
    ]
    # The plan may ask for less: 30% is then enough for a number.
    lenient = compute_score(model, signals, MILESTONES, TODAY, observed=times, freshness=fresh_at(model, share=30))
    assert lenient.insufficient is None and lenient.score is not None
    # Missing data counts the same as stale data.
    thin = compute_score(model, {"adoption": 70}, [], TODAY, observed={"adoption": FRESH}, freshness=fresh_at(model))
    assert thin.insufficient == DataShare(40.0, 50) and thin.stale == ()


def test_every_signal_stale_is_insufficient_data_not_no_data_yet() -> None:
    model = make_model(50, 30, 20, 0)
    signals = {"adoption": 70, "engagement": 50}
    times = {"adoption": ago(30), "engagement": ago(30)}
    breakdown = compute_score(model, signals, [], TODAY, observed=times, freshness=fresh_at(model))
    assert breakdown.score is None and breakdown.insufficient == DataShare(0.0, 50)
    assert (
        breakdown.explain()[0] == "Score: insufficient data (fresh data covers 0% of the weights; the plan needs 50%)"
    )
    # Nothing measured at all is still "no data yet".
    nothing = compute_score(model, {}, [], TODAY, observed={}, freshness=fresh_at(model))
    assert nothing.insufficient is None and nothing.status == "no data yet"


def test_milestone_completion_is_never_stale() -> None:
    model = make_model(0, 0, 0, 100)
    old = {"milestones": ago(400)}
    breakdown = compute_score(model, {}, MILESTONES, TODAY, observed=old, freshness=fresh_at(model))
    assert breakdown.stale == () and breakdown.score == 45.0  # 50% completion, +10 −15


def test_a_band_moved_only_by_staleness_is_not_a_drop() -> None:
    model = make_model()
    signals = {"adoption": 95, "engagement": 10, "tickets": 90}
    # Fresh: 95×.4 + 10×.3 + 90×.2 + 50×.1 − 5 = 59 (at-risk). Adoption stale: (10×30 + 90×20 + 50×10)/60 − 5 = 38.3.
    everything = compute_score(model, signals, MILESTONES, TODAY)
    assert everything.band is Band.AT_RISK
    times = {"adoption": ago(20), "engagement": FRESH, "tickets": FRESH}
    stale = compute_score(model, signals, MILESTONES, TODAY, observed=times, freshness=fresh_at(model))
    assert (stale.band, stale.band_with_stale) == (Band.CRITICAL, Band.AT_RISK)
    assert drop_from_staleness(Band.AT_RISK, stale)  # at-risk → critical only because adoption went stale
    assert not drop_from_staleness(Band.HEALTHY, stale)  # at-risk would have been a drop from healthy anyway
    assert not drop_from_staleness(Band.AT_RISK, everything)
    assert is_drop(None, Band.AT_RISK) and is_drop(Band.HEALTHY, Band.CRITICAL)
    assert not is_drop(Band.CRITICAL, Band.AT_RISK) and not is_drop(None, Band.HEALTHY) and not is_drop(None, None)


def test_scores_kept_before_freshness_still_read() -> None:
    old = compute_score(make_model(), {"adoption": 70, "tickets": 80}, MILESTONES, TODAY).to_dict()
    for key in ("stale", "insufficient", "band_with_stale"):
        del old[key]
    read = ScoreBreakdown.from_dict(old)
    assert read.stale == () and read.insufficient is None and read.band_with_stale is read.band


times_of = st.fixed_dictionaries(
    {
        key: st.integers(0, 14 * 24 * 60).map(lambda minutes: (NOW - timedelta(minutes=minutes)).isoformat())
        for key in SIGNALLED
    }
)


@PROPERTY_EXAMPLES
@given(models(), signal_maps, milestone_lists(), times_of, st.booleans())
def test_with_every_factor_fresh_the_score_is_the_one_without_freshness(
    model: HealthModel, signals: dict[str, float], milestones: list[MilestoneState], times: dict[str, str], lean: bool
) -> None:
    # The scheduler passes its factors precomputed (the lean path), a command lets compute_score find them.
    factors = scoring_factors(model) if lean else None
    reference = compute_score(model, signals, milestones, TODAY)
    checked = compute_score(
        model, signals, milestones, TODAY, factors, observed=times, freshness=fresh_at(model, share=0)
    )
    assert checked == reference
    assert checked.stale == () and checked.insufficient is None and checked.band_with_stale is checked.band
    with_share = compute_score(model, signals, milestones, TODAY, factors, observed=times, freshness=fresh_at(model))
    present = sum(f.weight for f in reference.factors if f.value is not None)
    if reference.score is not None and present * 2 >= sum(f.weight for f in reference.factors):
        assert with_share == reference


@PROPERTY_EXAMPLES
@given(models(), full_signals, milestone_lists(), st.sampled_from(SIGNALLED), st.integers(15, 400))
def test_a_stale_factor_scores_like_a_missing_one(
    model: HealthModel, signals: dict[str, float], milestones: list[MilestoneState], key: str, age: int
) -> None:
    times = {name: FRESH for name in SIGNALLED} | {key: ago(age)}
    stale = compute_score(model, signals, milestones, TODAY, observed=times, freshness=fresh_at(model, share=0))
    missing = compute_score(model, {k: v for k, v in signals.items() if k != key}, milestones, TODAY)
    assert (stale.score, stale.band, stale.factors, stale.missing) == (
        missing.score, missing.band, missing.factors, missing.missing,
    )  # fmt: skip
    if model.weights.get(key):  # type: ignore[call-overload]
        assert [f.key for f in stale.stale] == [key]
