"""`/onboarding freshness`: how old a signal may be before it counts as missing, and how much of the weights a score
must rest on. Use cases only: they return what the reply shows."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from bot.arguments import FreshnessChange
from bot.customers import RunnablePlan
from bot.jobs import score_customers
from steps.errors import UserError
from steps.health import DEFAULT_MIN_DATA_SHARE, DEFAULT_WINDOW_DAYS, freshness_windows, signal_factors
from storage import repo
from storage.db import Session


@dataclass(frozen=True)
class Window:
    key: str
    label: str
    days: int
    default: bool  # the cadence's default, not set by the team


@dataclass(frozen=True)
class FreshnessSettings:
    plan_name: str
    cadence: str
    default_days: int
    windows: list[Window]
    share: int
    share_default: bool
    rescored: int | None = None  # after a change: customers rescored with the new settings
    stale_or_insufficient: int | None = None  # ... of which with stale or insufficient data


def settings(ready: RunnablePlan) -> FreshnessSettings:
    overrides = dict(ready.plan.freshness)
    windows = freshness_windows(ready.health, overrides)
    labels = signal_factors(ready.health)
    share = ready.plan.min_data_share
    return FreshnessSettings(
        ready.plan.name, ready.health.cadence.value, DEFAULT_WINDOW_DAYS[ready.health.cadence],
        [Window(key, labels[key], days, key not in overrides) for key, days in windows.items()],
        DEFAULT_MIN_DATA_SHARE if share is None else share, share is None,
    )  # fmt: skip


def check(ready: RunnablePlan, wanted: FreshnessChange) -> None:
    """Refuse factors the plan does not have (milestone completion included: it is never stale)."""
    labels = signal_factors(ready.health)
    unknown = [key for key in wanted.windows if key not in labels]
    if unknown:
        allowed = ", ".join(f"`{key}`" for key in labels) or "none (the plan's weights are all on milestones)"
        hint = (
            " Milestone completion is computed from milestones, so it is never stale."
            if "milestones" in unknown
            else ""
        )
        raise UserError(
            f"Unknown factor `{{factor}}`. This plan's factors: {{allowed}}.{hint}", factor=unknown[0], allowed=allowed
        )


def change(session: Session, ready: RunnablePlan, wanted: FreshnessChange, now: datetime) -> FreshnessSettings:
    """Set the windows and share asked for, then rescore every customer of the plan: what counts changed now."""
    check(ready, wanted)
    overrides = dict(ready.plan.freshness)
    for key, days in wanted.windows.items():
        if days is None:
            overrides.pop(key, None)
        else:
            overrides[key] = days
    share = wanted.share if wanted.share_given else ready.plan.min_data_share
    repo.set_freshness(session, ready.plan.id, overrides, share)
    updated = replace(ready, plan=replace(ready.plan, freshness=tuple(sorted(overrides.items())), min_data_share=share))
    scored = score_customers(session, updated, now, reported=False)
    flagged = sum(1 for s in scored if s.breakdown.stale or s.breakdown.insufficient is not None)
    return replace(settings(updated), rescored=len(scored), stale_or_insufficient=flagged)
