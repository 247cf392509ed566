"""The health update's digest is built from scored customers alone: no database, no Slack."""

from __future__ import annotations

from bot.jobs import MOVERS_SHOWN, HealthDigest, Scored, build_health_digest
from steps.health import ScoreBreakdown
from steps.step3 import Band


def _scored(customer_id: int, name: str, score: float | None, band: Band | None, previous: float | None = None,
            previous_band: Band | None = None) -> Scored:  # fmt: skip
    return Scored(customer_id, name, None, ScoreBreakdown(score, band, (), (), ()), previous, previous_band)


def test_counts_every_band_and_the_unscored() -> None:
    digest = build_health_digest(
        [
            _scored(1, "A", 80.0, Band.HEALTHY),
            _scored(2, "B", 85.0, Band.HEALTHY),
            _scored(3, "C", 50.0, Band.AT_RISK),
            _scored(4, "D", None, None),
        ]
    )
    assert digest.counts == {Band.HEALTHY: 2, Band.AT_RISK: 1, None: 1}


def test_movers_are_big_changes_or_new_bands_largest_first() -> None:
    digest = build_health_digest(
        [
            _scored(1, "Small", 72.0, Band.HEALTHY, previous=70.0, previous_band=Band.HEALTHY),
            _scored(2, "Up", 90.0, Band.HEALTHY, previous=80.0, previous_band=Band.HEALTHY),
            _scored(3, "Down", 60.0, Band.AT_RISK, previous=80.0, previous_band=Band.HEALTHY),
            _scored(4, "Crossed", 69.0, Band.AT_RISK, previous=71.0, previous_band=Band.HEALTHY),
            _scored(5, "New", 75.0, Band.HEALTHY),
        ]
    )
    assert [s.name for s in digest.movers] == ["Down", "Up", "Crossed"]


def test_only_the_largest_movers_are_kept_ties_by_customer_id() -> None:
    scored = [_scored(n, f"C{n}", 50.0, Band.AT_RISK, previous=50.0 + n % 3 * 10, previous_band=Band.AT_RISK)
              for n in range(1, 31)]  # fmt: skip
    digest = build_health_digest(scored)
    assert len(digest.movers) == MOVERS_SHOWN
    assert [s.customer_id for s in digest.movers] == [2, 5, 8, 11, 14, 17, 20, 23, 26, 29]


def test_flagged_are_at_risk_and_critical_lowest_score_first_then_by_name() -> None:
    digest = build_health_digest(
        [
            _scored(1, "beta", 30.0, Band.CRITICAL),
            _scored(2, "Alpha", 30.0, Band.CRITICAL),
            _scored(3, "Gamma", 10.0, Band.CRITICAL),
            _scored(4, "Delta", 55.0, Band.AT_RISK),
            _scored(5, "Fine", 90.0, Band.HEALTHY),
        ]
    )
    assert {band: [s.name for s in lines] for band, lines in digest.flagged.items()} == {
        Band.CRITICAL: ["Gamma", "Alpha", "beta"],
        Band.AT_RISK: ["Delta"],
    }


def test_nothing_scored_is_an_empty_digest() -> None:
    assert build_health_digest([]) == HealthDigest({}, [], {})
