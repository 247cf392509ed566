"""Customer health scores: the plan's weighted factors, milestone points, and the resulting band.

The score is the weighted mean of the factors that have data, with the weights renormalised over
those factors (a factor without data is reported as missing, never counted as 0), plus the points
of every milestone reached on time or missed, clamped to 0-100. The band follows the plan's
thresholds.

Freshness: a signal's latest value is stale once it is older than its factor's window (default: two
update periods of the plan's cadence, see ``DEFAULT_WINDOW_DAYS``; overridable per factor). A stale
value counts as missing, and the breakdown says which factors are stale and when they were observed.
A score resting on less than the plan's minimum share of the weights (default 50%) is "insufficient
data": no score and no band. Milestone completion is computed from the milestones, so it is never stale.

A scheduler tick scores every customer of every plan, so everything here is plain functions over
frozen slotted dataclasses; the pydantic ``HealthModel`` is only read, never built or validated.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from steps.deadlines import is_missed, reached_on_time
from steps.step3 import Band, Cadence, HealthModel, StandardFactor

__all__ = [
    "DEFAULT_MIN_DATA_SHARE",
    "DEFAULT_WINDOW_DAYS",
    "MILESTONES_KEY",
    "MISSED",
    "REACHED_ON_TIME",
    "Adjustment",
    "DataShare",
    "FactorContribution",
    "Freshness",
    "LeanScore",
    "MilestoneRow",
    "MilestoneState",
    "PlanScorer",
    "Reason",
    "ScoreBreakdown",
    "StaleFactor",
    "band_change",
    "compute_score",
    "drop_from_staleness",
    "factor_keys",
    "factor_slug",
    "freshness_at",
    "freshness_windows",
    "is_drop",
    "is_worse",
    "milestone_adjustments",
    "milestone_completion",
    "scoring_factors",
    "signal_factors",
    "stale_factors",
]

MILESTONES_KEY = StandardFactor.MILESTONES.value
REACHED_ON_TIME: Literal["reached on time"] = "reached on time"
MISSED: Literal["missed"] = "missed"
Reason = Literal["reached on time", "missed"]

_NOT_SLUG = re.compile(r"[^a-z0-9]+")
_SEVERITY: dict[Band, int] = {Band.HEALTHY: 0, Band.AT_RISK: 1, Band.CRITICAL: 2}
_STANDARD_LABELS = {factor.value: factor.label for factor in StandardFactor}
STORED_FORMAT = 2  # ScoreBreakdown.stored; rows without "v" are ScoreBreakdown.to_dict
_NO_SCORE = "No data yet"

# Two update periods of the cadence: a value is stale once two updates have passed without a newer one. A month is
# counted as 31 days, so a monthly plan's value is never stale before two updates went by.
DEFAULT_WINDOW_DAYS: dict[Cadence, int] = {Cadence.DAILY: 2, Cadence.WEEKLY: 14, Cadence.MONTHLY: 62}
DEFAULT_MIN_DATA_SHARE = 50  # percent of the weights a score must rest on to be shown as a number


# --- factors -----------------------------------------------------------------------------------


def factor_slug(name: str) -> str:
    """The key of a custom factor: lowercase ASCII letters and digits, other runs turned into "_"."""
    return _NOT_SLUG.sub("_", name.lower()).strip("_")


def _factors(model: HealthModel) -> list[tuple[str, str, int]]:
    """(key, label, weight) of every factor in the score: standard ones in enum order, then custom ones.

    Keys are assigned over all factors, weight 0 included, so a factor keeps its key when another
    factor's weight drops to 0. Custom names that slug to nothing or to a key already taken
    (“Adoption” vs the standard "adoption", “NPS!” vs “NPS?”) get a numbered suffix.
    """
    factors = [(factor.value, factor.label, model.weights.get(factor, 0)) for factor in StandardFactor]
    if model.custom_factors:
        taken = {key for key, _, _ in factors}
        for custom in model.custom_factors:
            base = factor_slug(custom.name) or "custom"
            key, suffix = base, 2
            while key in taken:
                key, suffix = f"{base}_{suffix}", suffix + 1
            taken.add(key)
            factors.append((key, custom.name, custom.weight))
    return [factor for factor in factors if factor[2] > 0]


def factor_keys(model: HealthModel) -> dict[str, str]:
    """Key → label of every factor of the score (weight > 0): standard factors first, then custom ones."""
    return {key: label for key, label, _ in _factors(model)}


def signal_factors(model: HealthModel) -> dict[str, str]:
    """Key → label of the factors people signal: all of the score's factors but milestone completion."""
    return {key: label for key, label, _ in _factors(model) if key != MILESTONES_KEY}


# --- milestones --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MilestoneState:
    """One milestone of one customer. ``index`` is the 0-based position in the plan (shown as index + 1)."""

    index: int
    name: str
    due: date
    completed_on: date | None
    points_on_time: int | None
    points_missed: int | None


@dataclass(frozen=True, slots=True)
class Adjustment:
    """Points a milestone adds to (reached on time) or takes from (missed) the score."""

    index: int
    name: str
    points: int
    reason: Reason

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "name": self.name, "points": self.points, "reason": self.reason}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Adjustment:
        reason = data["reason"]
        if reason not in (REACHED_ON_TIME, MISSED):
            raise ValueError(f"Unknown adjustment reason: {reason!r}")
        return cls(int(data["index"]), str(data["name"]), int(data["points"]), reason)

    def explain(self) -> str:
        sign = "+" if self.points >= 0 else "−"
        return f"Milestone {self.index + 1} “{self.name}” {self.reason}: {sign}{abs(self.points)}"


def _milestone_pass(milestones: Sequence[MilestoneState], today: date) -> tuple[float | None, list[Adjustment]]:
    """Completion percentage and adjustments in one pass: the scheduler needs both for every customer."""
    counted = on_time = 0
    adjustments: list[Adjustment] = []
    for milestone in milestones:
        if reached_on_time(milestone.due, milestone.completed_on):
            counted += 1
            on_time += 1
            # None means "no impact decided"; 0 would only add a "+0" line to every explanation.
            if milestone.points_on_time:
                adjustments.append(
                    Adjustment(milestone.index, milestone.name, milestone.points_on_time, REACHED_ON_TIME)
                )
        elif is_missed(milestone.due, milestone.completed_on, today):
            counted += 1
            if milestone.points_missed:
                adjustments.append(Adjustment(milestone.index, milestone.name, -milestone.points_missed, MISSED))
    return (on_time * 100 / counted if counted else None), adjustments


def milestone_completion(milestones: Sequence[MilestoneState], today: date) -> float | None:
    """Percentage (0-100) of the milestones already due that were reached on time.

    A milestone counts once it is completed (early completions included) or its due date has
    passed (``due < today``); a milestone due today or later and not completed is not counted yet.
    None when no milestone counts, so the factor is missing rather than 0.
    """
    return _milestone_pass(milestones, today)[0]


def milestone_adjustments(milestones: Sequence[MilestoneState], today: date) -> list[Adjustment]:
    """+points_on_time per milestone reached on time, −points_missed per missed one, in plan order.

    Milestones without points (None or 0) contribute nothing and get no entry.
    """
    return _milestone_pass(milestones, today)[1]


# --- freshness ---------------------------------------------------------------------------------


def freshness_windows(model: HealthModel, overrides: Mapping[str, Any]) -> dict[str, int]:
    """Days after which each signalled factor's value is stale: the plan's override, else the cadence's default.

    Overrides for factors the model no longer has are ignored (a custom factor removed since keeps its entry).
    """
    default = DEFAULT_WINDOW_DAYS[model.cadence]
    return {key: int(overrides.get(key, default)) for key in signal_factors(model)}


@dataclass(frozen=True, slots=True)
class Freshness:
    """What counts at one instant: a value observed before its factor's cutoff is stale, and a score needs at least
    ``min_share`` percent of the weights. Built once per plan and instant (``freshness_at``), then shared by every
    customer scored."""

    cutoffs: Mapping[str, datetime]  # factor key -> values observed before this are stale
    windows: Mapping[str, int]  # factor key -> days, to explain a stale value
    min_share: int


def freshness_at(model: HealthModel, overrides: Mapping[str, Any], min_share: int | None, now: datetime) -> Freshness:
    windows = freshness_windows(model, overrides)
    cutoffs = {key: now - timedelta(days=days) for key, days in windows.items()}
    return Freshness(cutoffs, windows, DEFAULT_MIN_DATA_SHARE if min_share is None else min_share)


def observed_time(text: str) -> datetime:
    """An observation time as stored (ISO 8601); one without an offset is UTC."""
    at = datetime.fromisoformat(text)
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class StaleFactor:
    """A factor whose latest value is older than its window: kept for the explanation, left out of the score."""

    key: str
    label: str
    value: float
    observed_at: str  # ISO 8601, as stored
    window_days: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "label": self.label,
            "value": self.value,
            "observed_at": self.observed_at,
            "window_days": self.window_days,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StaleFactor:
        return cls(
            str(data["key"]), str(data["label"]), float(data["value"]), str(data["observed_at"]),
            int(data["window_days"]),
        )  # fmt: skip

    @property
    def since(self) -> str:
        """The day it was observed (UTC), e.g. "2026-01-02"."""
        return f"{observed_time(self.observed_at).astimezone(UTC):%Y-%m-%d}"

    def explain(self) -> str:
        return (
            f"Stale: {self.label} {_short(self.value)} observed {self.since} "
            f"(older than {self.window_days} {'day' if self.window_days == 1 else 'days'})"
        )


def stale_factors(
    labels: Mapping[str, str], signals: Mapping[str, Any], observed: Mapping[str, str], freshness: Freshness
) -> tuple[StaleFactor, ...]:
    """The factors (key → label) whose latest value is stale at the freshness's instant, in ``labels`` order: for
    what shows a kept score without computing it again (lists, the App Home)."""
    found = []
    for key, label in labels.items():
        at, cutoff, value = observed.get(key), freshness.cutoffs.get(key), signals.get(key)
        if at is not None and cutoff is not None and value is not None and observed_time(at) < cutoff:
            found.append(StaleFactor(key, label, float(value), at, freshness.windows[key]))
    return tuple(found)


@dataclass(frozen=True, slots=True)
class DataShare:
    """Why a score is "insufficient data": the share of the weights with fresh data, and the plan's minimum."""

    share: float  # percent
    needed: int  # percent

    def explain(self) -> str:
        return f"fresh data covers {_short(self.share)}% of the weights; the plan needs {self.needed}%"


# --- score -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FactorContribution:
    """One factor of a score. Without data: ``value`` is None and it has no share of the score."""

    key: str
    label: str
    value: float | None
    weight: int
    effective_weight: float
    contribution: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "label": self.label,
            "value": self.value,
            "weight": self.weight,
            "effective_weight": self.effective_weight,
            "contribution": self.contribution,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FactorContribution:
        value = data["value"]
        return cls(
            str(data["key"]),
            str(data["label"]),
            None if value is None else float(value),
            int(data["weight"]),
            float(data["effective_weight"]),
            float(data["contribution"]),
        )

    def explain(self) -> str:
        if self.value is None:
            reason = "no milestone due yet" if self.key == MILESTONES_KEY else "no data"
            return f"Missing: {self.label} ({reason})"
        return f"{self.label} {_short(self.value)} × {_short(self.effective_weight * 100)}% = {self.contribution:.1f}"

    def reading(self) -> str:
        """The value alone, for a score too thin to weigh anything: "Feature adoption 70"."""
        return f"{self.label} {_short(self.value or 0.0)}"


def _short(number: float) -> str:
    """One decimal at most, none when it is 0: "70", "33.3"."""
    text = f"{number:.1f}"
    return text[:-2] if text.endswith(".0") else text


@dataclass(frozen=True, slots=True)
class ScoreBreakdown:
    """A computed score and how it was reached. ``score``/``band`` are None until a signal has data, and when the
    data is insufficient (``insufficient`` says how much there is). ``missing`` lists every factor left out of the
    score, stale ones included; ``stale`` says which of them are stale and when they were observed.
    ``band_with_stale`` is the band had stale values still counted (the band itself when nothing is stale): a band
    moved only by staleness is no news about the customer."""

    score: float | None
    band: Band | None
    factors: tuple[FactorContribution, ...]
    adjustments: tuple[Adjustment, ...]
    missing: tuple[str, ...]
    stale: tuple[StaleFactor, ...] = ()
    insufficient: DataShare | None = None
    band_with_stale: Band | None = None

    def weakest(self, n: int = 2) -> tuple[FactorContribution, ...]:
        """The ``n`` factors with data and the lowest values, lowest first (ties by key)."""
        present = [factor for factor in self.factors if factor.value is not None]
        present.sort(key=lambda factor: (factor.value, factor.key))
        return tuple(present[: max(n, 0)])

    @property
    def status(self) -> str:
        """The first line's verdict in words: "no data yet", "insufficient data", or the score and band."""
        if self.insufficient is not None:
            return "insufficient data"
        if self.score is None or self.band is None:
            return "no data yet"
        return f"{self.score:.1f} ({self.band.label})"

    def explain(self) -> list[str]:
        """Short human-readable lines: the score, each factor's share, milestone points, stale and missing factors."""
        if self.insufficient is not None:
            lines = [f"Score: insufficient data ({self.insufficient.explain()})"]
            # Too little data for a verdict: the values are facts, their weighted shares would read as one.
            lines.extend(factor.reading() for factor in self.factors if factor.value is not None)
        else:
            if self.score is None or self.band is None:
                lines = ["Score: no data yet (no health signal recorded)"]
            else:
                lines = [f"Score: {self.score:.1f} ({self.band.label}{self._clamp_note()})"]
            lines.extend(factor.explain() for factor in self.factors if factor.value is not None)
        lines.extend(adjustment.explain() for adjustment in self.adjustments)
        stale = {factor.key: factor for factor in self.stale}
        lines.extend(
            stale[factor.key].explain() if factor.key in stale else factor.explain()
            for factor in self.factors
            if factor.value is None
        )
        return lines

    def _clamp_note(self) -> str:
        unclamped = sum(f.contribution for f in self.factors) + sum(a.points for a in self.adjustments)
        if unclamped < 0:
            return ", floored at 0"
        if unclamped > 100:
            return ", capped at 100"
        return ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: only str, int, float, None, list and dict."""
        return {
            "score": self.score,
            "band": None if self.band is None else self.band.value,
            "factors": [factor.to_dict() for factor in self.factors],
            "adjustments": [adjustment.to_dict() for adjustment in self.adjustments],
            "missing": list(self.missing),
            "stale": [factor.to_dict() for factor in self.stale],
            "insufficient": (
                None if self.insufficient is None
                else {"share": self.insufficient.share, "needed": self.insufficient.needed}
            ),
            "band_with_stale": None if self.band_with_stale is None else self.band_with_stale.value,
        }  # fmt: skip

    def stored(self) -> dict[str, Any]:
        """The form the score history keeps (format 2, ``"v": 2``): the customer's own values only, about a third of
        ``to_dict``'s size. Shares, contributions, missing factors and the insufficient share are worked out again on
        reading with the same float operations, and a standard factor's label comes from the code, so ``from_dict``
        gives back this very breakdown. A factor's weight and a custom factor's name stay in the row: a kept score
        is explained with the model it was computed with, whatever the plan's model is now."""
        return {
            "v": STORED_FORMAT,
            "score": self.score,
            "band": None if self.band is None else self.band.value,
            "band_with_stale": None if self.band_with_stale is None else self.band_with_stale.value,
            "f": [
                [f.key, f.weight, f.value] if _STANDARD_LABELS.get(f.key) == f.label
                else [f.key, f.weight, f.value, f.label]
                for f in self.factors
            ],
            "a": [[a.index, a.name, a.points, a.reason == REACHED_ON_TIME] for a in self.adjustments],
            "s": [[s.key, s.value, s.observed_at, s.window_days] for s in self.stale],
            "n": None if self.insufficient is None else self.insufficient.needed,
        }  # fmt: skip

    @classmethod
    def _from_stored(cls, data: Mapping[str, Any]) -> ScoreBreakdown:
        factors = [(str(item[0]), int(item[1]), None if item[2] is None else float(item[2]),
                    str(item[3]) if len(item) > 3 else _STANDARD_LABELS[item[0]]) for item in data["f"]]  # fmt: skip
        total_weight = sum(weight for _, weight, value, _ in factors if value is not None)
        contributions = []
        for key, weight, value, label in factors:
            if value is None:
                contributions.append(FactorContribution(key, label, None, weight, 0.0, 0.0))
            else:
                share = weight / total_weight  # as compute_score divides, so the same bits
                contributions.append(FactorContribution(key, label, value, weight, share, value * share))
        labels = {key: label for key, _, _, label in factors}
        needed = data["n"]
        band, with_stale = data["band"], data["band_with_stale"]
        adjustments = tuple(Adjustment(int(index), str(name), int(points), REACHED_ON_TIME if on_time else MISSED)
                            for index, name, points, on_time in data["a"])  # fmt: skip
        stale = tuple(StaleFactor(str(key), labels[key], float(value), str(at), int(days))
                      for key, value, at, days in data["s"])  # fmt: skip
        return cls(
            score=None if data["score"] is None else float(data["score"]),
            band=None if band is None else Band(band),
            factors=tuple(contributions),
            adjustments=adjustments,
            missing=tuple(key for key, _, value, _ in factors if value is None),
            stale=stale,
            insufficient=(
                None
                if needed is None
                else DataShare(total_weight * 100 / sum(weight for _, weight, _, _ in factors), int(needed))
            ),
            band_with_stale=None if with_stale is None else Band(with_stale),
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScoreBreakdown:
        """Reads both forms the history holds: ``stored`` (format 2) and ``to_dict`` (every score kept before it;
        those kept before freshness existed read as nothing stale, the band as it was)."""
        if data.get("v") == STORED_FORMAT:
            return cls._from_stored(data)
        score = data["score"]
        band = None if data["band"] is None else Band(data["band"])
        insufficient = data.get("insufficient")
        with_stale = data.get("band_with_stale", data["band"])
        return cls(
            score=None if score is None else float(score),
            band=band,
            factors=tuple(FactorContribution.from_dict(item) for item in data["factors"]),
            adjustments=tuple(Adjustment.from_dict(item) for item in data["adjustments"]),
            missing=tuple(str(key) for key in data["missing"]),
            stale=tuple(StaleFactor.from_dict(item) for item in data.get("stale", ())),
            insufficient=(
                None if insufficient is None else DataShare(float(insufficient["share"]), int(insufficient["needed"]))
            ),
            band_with_stale=None if with_stale is None else Band(with_stale),
        )


def scoring_factors(model: HealthModel) -> list[tuple[str, str, int]]:
    """(key, label, weight) of the score's factors; pass it to ``compute_score`` when scoring many customers."""
    return _factors(model)


def compute_score(
    model: HealthModel,
    signals: Mapping[str, float],
    milestones: Sequence[MilestoneState],
    today: date,
    factors: Sequence[tuple[str, str, int]] | None = None,
    *,
    observed: Mapping[str, str] | None = None,
    freshness: Freshness | None = None,
) -> ScoreBreakdown:
    """Score one customer.

    ``signals`` maps factor key → latest value (0-100); keys that are not factors of the model are
    ignored, and so is a "milestones" signal: milestone completion is always computed from
    ``milestones`` (see ``milestone_completion``). A value outside 0-100 raises ValueError.

    With ``freshness``, a value whose ``observed`` time (ISO 8601, factor key → time) is before its factor's cutoff
    is stale and counts as missing, and a score resting on less than the minimum share of the weights is
    insufficient data. A value without an observed time is not stale: nothing says it is old. Without
    ``freshness`` every value counts, whatever its age.

    The band is taken from the rounded score, so a shown "70.0" is never below "healthy from 70".
    """
    completion, adjustments = _milestone_pass(milestones, today)
    if factors is None:
        factors = _factors(model)
    values: list[float | None] = []
    stale: list[StaleFactor] = []
    total_weight = 0
    for key, label, weight in factors:
        raw = completion if key == MILESTONES_KEY else signals.get(key)
        if raw is None:
            values.append(None)
            continue
        value = float(raw)
        if not 0.0 <= value <= 100.0:  # also rejects NaN
            raise ValueError(f"The value of factor {key!r} must be between 0 and 100, not {raw!r}.")
        if freshness is not None and observed:
            at = observed.get(key)
            cutoff = freshness.cutoffs.get(key)  # milestone completion has none: it is computed, never stale
            if at is not None and cutoff is not None and observed_time(at) < cutoff:
                stale.append(StaleFactor(key, label, value, at, freshness.windows[key]))
                values.append(None)
                continue
        values.append(value)
        total_weight += weight

    contributions: list[FactorContribution] = []
    missing: list[str] = []
    weighted = 0.0
    for (key, label, weight), known in zip(factors, values, strict=True):
        if known is None:
            missing.append(key)
            contributions.append(FactorContribution(key, label, None, weight, 0.0, 0.0))
            continue
        # The share is a single division of integers, so equal weight ratios give identical floats.
        share = weight / total_weight
        contribution = known * share
        weighted += contribution
        contributions.append(FactorContribution(key, label, known, weight, share, contribution))

    score: float | None = None
    band: Band | None = None
    insufficient: DataShare | None = None
    # Milestone completion alone is not a health reading when the model weighs signals too: until one arrives the
    # customer has no score (a first missed deadline would otherwise read as a 0.0 critical customer nobody has
    # measured). A model of milestones only is measured by them.
    signal_factors = [(weight, value) for (key, _, weight), value in zip(factors, values, strict=True)
                      if key != MILESTONES_KEY and weight > 0]  # fmt: skip
    signalled = not signal_factors or any(value is not None for _, value in signal_factors)
    if freshness is not None and (stale or (total_weight and signalled)):
        # Signals measured too long ago are not "no data yet": with too little fresh data, say so.
        all_weight = sum(weight for _, _, weight in factors)
        if not signalled or total_weight * 100 < freshness.min_share * all_weight:
            insufficient = DataShare(total_weight * 100 / all_weight, freshness.min_share)
    if total_weight and signalled and insufficient is None:
        exact = weighted + sum(adjustment.points for adjustment in adjustments)
        score = round(min(max(exact, 0.0), 100.0), 1)
        band = model.band_for(score)
    with_stale = band
    if stale and band is not None:
        with_stale = _band_with_stale(model, factors, values, stale, adjustments)
    return ScoreBreakdown(
        score, band, tuple(contributions), tuple(adjustments), tuple(missing), tuple(stale), insufficient, with_stale
    )


def _band_with_stale(
    model: HealthModel,
    factors: Sequence[tuple[str, str, int]],
    values: Sequence[float | None],
    stale: Sequence[StaleFactor],
    adjustments: Sequence[Adjustment],
) -> Band:
    """The band had the stale values still counted (only to tell a band moved by staleness from news)."""
    old = {factor.key: factor.value for factor in stale}
    counted = [(weight, old[key] if value is None else value)
               for (key, _, weight), value in zip(factors, values, strict=True)
               if value is not None or key in old]  # fmt: skip
    total = sum(weight for weight, _ in counted)
    exact = sum(weight * value for weight, value in counted) / total + sum(a.points for a in adjustments)
    return model.band_for(round(min(max(exact, 0.0), 100.0), 1))


# --- bands -------------------------------------------------------------------------------------


def band_change(previous: Band | None, current: Band | None) -> str | None:
    """ "Healthy → At-risk" when the band changed (None shows as "No data yet"), None when it did not."""
    if previous == current:
        return None
    before = _NO_SCORE if previous is None else previous.label
    after = _NO_SCORE if current is None else current.label
    return f"{before} → {after}"


def is_drop(reported: Band | None, band: Band | None) -> bool:
    """Whether ``band`` is news worth an alert to a team that last heard ``reported``: an at-risk or critical band,
    worse than the one reported or the first one reported."""
    if band is None or band is Band.HEALTHY:
        return False
    return reported is None or is_worse(reported, band)


def drop_from_staleness(reported: Band | None, breakdown: ScoreBreakdown) -> bool:
    """True when the score's band is a drop only because stale values no longer count: stale is not a worse band,
    so no alert is due (the next health update shows the band, saying what is stale)."""
    return staleness_only_drop(reported, breakdown.band, breakdown.band_with_stale, bool(breakdown.stale))


def staleness_only_drop(reported: Band | None, band: Band | None, band_with_stale: Band | None, stale: bool) -> bool:
    """``drop_from_staleness`` on the bands themselves (the lean path keeps no breakdown object)."""
    if not stale or band == band_with_stale:
        return False
    return is_drop(reported, band) and not is_drop(reported, band_with_stale)


def is_worse(previous: Band | None, current: Band | None) -> bool:
    """True when ``current`` is more severe than ``previous`` (Healthy < At-risk < Critical).

    False when either is None: without a score on both sides there is nothing to compare.
    """
    if previous is None or current is None:
        return False
    return _SEVERITY[current] > _SEVERITY[previous]


# --- many customers at once ----------------------------------------------------------------------

# One customer's milestone as the scheduler reads it: (position, name, due, completed_on). The days are ``date``
# objects or ISO 8601 "YYYY-MM-DD" strings (SQLite hands back those, and they sort as the days they name), all of
# one kind with the ``today`` they are compared with.
MilestoneRow = tuple[int, str, Any, Any]
# What one customer's score is, kept: (score, band, band had stale values counted, whether a value is stale,
# insufficient data, ``ScoreBreakdown.stored()`` of the same score).
LeanScore = tuple[float | None, str | None, str | None, bool, bool, dict[str, Any]]


class PlanScorer:
    """``compute_score`` for many customers of one plan, without a Python object per factor or milestone.

    Everything that depends on the plan alone (factors, weights, labels, points, freshness cutoffs, thresholds) is
    worked out once; ``score`` then goes through one customer's raw values and returns the same score, band and
    breakdown (``ScoreBreakdown.stored()``, an equal dict for equal inputs) as ``compute_score`` with ``freshness``
    does, including its arithmetic in the same order, so the floats are the same bits. Rounding rule (both paths):
    the score is Python's ``round(x, 1)`` (round half to even on the binary double) of the exact score clamped to
    0-100, and the band is taken from that rounded score; the shares and contributions are kept unrounded.
    tests/test_plan_scorer.py compares the two on generated inputs.
    """

    __slots__ = ("_all_weight", "_critical_below", "_factors", "_healthy_from", "_min_share", "_points",
                 "_signal_keys")  # fmt: skip

    def __init__(
        self,
        model: HealthModel,
        freshness: Freshness,
        points: Sequence[tuple[int | None, int | None]],
        factors: Sequence[tuple[str, str, int]] | None = None,
    ) -> None:
        factors = _factors(model) if factors is None else factors
        # (key, label, weight, is milestone completion, stale cutoff or None, window days or None, label kept)
        self._factors = tuple(
            (key, label, weight, key == MILESTONES_KEY, freshness.cutoffs.get(key), freshness.windows.get(key),
             _STANDARD_LABELS.get(key) != label)
            for key, label, weight in factors
        )  # fmt: skip
        self._signal_keys = tuple(key for key, _, weight in factors if key != MILESTONES_KEY and weight > 0)
        self._all_weight = sum(weight for _, _, weight in factors)
        self._min_share = freshness.min_share
        self._points = tuple(points)  # (points on time, points missed) per plan position
        self._critical_below = model.critical_below
        self._healthy_from = model.healthy_from

    def _band(self, score: float) -> str:
        if score >= self._healthy_from:
            return Band.HEALTHY.value
        if score < self._critical_below:
            return Band.CRITICAL.value
        return Band.AT_RISK.value

    def score(
        self, signals: Mapping[str, Any], observed: Mapping[str, str], milestones: Sequence[MilestoneRow], today: Any
    ) -> LeanScore:
        counted = on_time = adjusted = 0
        adjustments: list[list[Any]] = []
        points = self._points
        for position, name, due, done in milestones:
            if done is not None and done <= due:
                counted += 1
                on_time += 1
                on_time_points = points[position][0] if position < len(points) else None
                if on_time_points:
                    adjustments.append([position, name, on_time_points, True])
                    adjusted += on_time_points
            elif (done is None and today > due) or (done is not None and done > due):
                counted += 1
                missed_points = points[position][1] if position < len(points) else None
                if missed_points:
                    adjustments.append([position, name, -missed_points, False])
                    adjusted -= missed_points
        completion = on_time * 100 / counted if counted else None

        # One pass over the factors for what is stored, what is stale and what counts; the weighted sum needs the
        # total weight first, so it is a second pass over the values that count.
        stored: list[list[Any]] = []
        stale: list[list[Any]] = []
        counts: list[tuple[float, int]] = []  # (value, weight), in factor order
        total_weight = 0
        signalled = not self._signal_keys
        for key, label, weight, is_completion, cutoff, window, labelled in self._factors:
            raw = completion if is_completion else signals.get(key)
            value: float | None = None
            if raw is not None:
                value = float(raw)
                if not 0.0 <= value <= 100.0:  # also rejects NaN
                    raise ValueError(f"The value of factor {key!r} must be between 0 and 100, not {raw!r}.")
                at = observed.get(key) if observed and cutoff is not None else None
                if at is not None and cutoff is not None and observed_time(at) < cutoff:
                    stale.append([key, value, at, window])
                    value = None
                else:
                    counts.append((value, weight))
                    total_weight += weight
                    if not is_completion and weight > 0:
                        signalled = True
            stored.append([key, weight, value, label] if labelled else [key, weight, value])
        weighted = 0.0
        for value, weight in counts:
            weighted += value * (weight / total_weight)  # as compute_score: share first, so the same bits

        score: float | None = None
        band: str | None = None
        insufficient = False
        if stale or (total_weight and signalled):
            insufficient = not signalled or total_weight * 100 < self._min_share * self._all_weight
        if total_weight and signalled and not insufficient:
            score = round(min(max(weighted + adjusted, 0.0), 100.0), 1)
            band = self._band(score)
        with_stale = band
        if stale and band is not None:
            old = {factor[0]: factor[1] for factor in stale}
            kept = [(weight, old[key] if value is None else value)
                    for key, weight, value, *_ in stored if value is not None or key in old]  # fmt: skip
            total = sum(weight for weight, _ in kept)
            exact = sum(weight * value for weight, value in kept) / total + adjusted
            with_stale = self._band(round(min(max(exact, 0.0), 100.0), 1))
        breakdown = {
            "v": STORED_FORMAT, "score": score, "band": band, "band_with_stale": with_stale, "f": stored,
            "a": adjustments, "s": stale, "n": self._min_share if insufficient else None,
        }  # fmt: skip
        return score, band, with_stale, bool(stale), insufficient, breakdown

    def went_stale(self, observed: Mapping[str, str], scored_at: datetime | None) -> bool:
        """Whether a value observed at ``observed`` is stale now but was not when the customer was last scored at
        ``scored_at`` (never scored: whether any is stale now), so that score no longer holds."""
        if not observed:
            return False
        for key, _, _, _, cutoff, window, _ in self._factors:
            at = observed.get(key)
            if cutoff is not None and window is not None and at is not None:
                when = observed_time(at)
                if when < cutoff and (scored_at is None or scored_at <= when + timedelta(days=window)):
                    return True
        return False

    def kept_flags(
        self, score: float | None, signals: Mapping[str, Any], observed: Mapping[str, str]
    ) -> tuple[bool, bool]:
        """(a value is stale, insufficient data) of a score kept from an earlier check that is still current, from
        the customer's values alone: insufficient data is the only way a customer with a value of a weighted
        signalled factor, fresh or stale, has no score."""
        stale = False
        if observed:
            for key, _, _, _, cutoff, _, _ in self._factors:
                at = observed.get(key)
                if cutoff is None or at is None or signals.get(key) is None:
                    continue
                if observed_time(at) < cutoff:
                    stale = True
                    break
        insufficient = score is None and any(signals.get(key) is not None for key in self._signal_keys)
        return stale, insufficient
