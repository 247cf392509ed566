"""Answers a team might type into the three Step 3 modals, keyed by the modals' input block ids."""

from __future__ import annotations

from typing import Any

from sandbox.payloads import ALICE, BOB
from tests.support.harness import BotHarness
from tests.support.snapshots import replay

MILESTONES: dict[str, Any] = {
    "milestones.0.name": "Kickoff held",
    "milestones.0.description": "Sponsor and champion meet the CSM",
    "milestones.0.timeline_days": 7,
    "milestones.0.timeline_note": "end of week 1",
    "milestones.0.definition_of_done": "Kickoff call held with the executive sponsor",
    "milestones.0.points_on_time": 10,
    "milestones.0.points_missed": 15,
    "milestones.0.impact_note": "Early momentum predicts renewal",
    "milestones.1.name": "First integration live",
    "milestones.1.timeline_days": 30,
    "milestones.1.definition_of_done": "Production data flows through the API",
    "milestones.2.name": "Team trained",
    "milestones.2.timeline_days": 45,
    "milestones.2.definition_of_done": "Every seat holder finished the basics course",
    "retention_correlation": "Customers reaching all milestones renew at 92%",
    "missed_deadline_policy": "CSM calls the sponsor within two business days",
}

HEALTH: dict[str, Any] = {
    "weights.adoption": 40,
    "weights.engagement": 30,
    "weights.tickets": 10,
    "weights.milestones": 10,
    "custom_factors.0.name": "NPS",
    "custom_factors.0.weight": 10,
    "calculation_notes": "Weighted mean of the factors, recalculated nightly",
    "healthy_from": 70,
    "critical_below": 40,
    "cadence": "weekly",
    "update_time": "09:00",
    "timezone": "Europe/Berlin",
    "monitors": [ALICE, BOB],
    "protocols.healthy": "Ask for a referral",
    "protocols.at_risk": "CSM check-in within a week",
    "protocols.critical": "Escalate to the CS manager the same day",
}

TRAINING: dict[str, Any] = {
    "documentation": "Getting-started guide and FAQ in the help centre",
    "video_tutorials": "Five-minute walkthrough videos per feature",
    "session_types": ["one_on_one", "webinar"],
    "schedule_curriculum": "Weekly webinar on Tuesdays covering admin basics",
    "certification": "yes",
    "certification_levels": "Bronze, Silver, Gold badges",
}

ALL = {"milestones": MILESTONES, "health": HEALTH, "training": TRAINING}


def open_section(bot: BotHarness, section: str, message: dict[str, Any] | None = None, **click: Any) -> dict[str, Any]:
    bot.click(message or bot.hub(), f"open_section:{section}", section, **click)
    return bot.last_view()


def rows_needed(values: dict[str, Any], rows: str = "custom_factors") -> int:
    """How many rows of ``rows`` the answers fill (``custom_factors.1.name`` needs two)."""
    indices = [int(key.split(".")[1]) for key in values if key.startswith(f"{rows}.") and key.split(".")[1].isdigit()]
    return max(indices, default=-1) + 1


def with_rows(bot: BotHarness, view: dict[str, Any], values: dict[str, Any], **click: Any) -> dict[str, Any]:
    """The form with as many custom factor rows as ``values`` fills, added with its button as a person would."""
    shown = sum(1 for b in view["blocks"] if b.get("block_id", "").startswith("custom_factors.") and
                b["block_id"].endswith(".name"))  # fmt: skip
    for _ in range(rows_needed(values) - shown):
        bot.click_in_view(view, "add_factor", {}, **click)
        view = bot.last_view()
    return view


def milestone_rows(values: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """The answers of each milestone, by index, keyed by the block ids of that milestone's form."""
    rows: dict[int, dict[str, Any]] = {}
    for key, value in values.items():
        parts = key.split(".")
        if parts[0] == "milestones" and len(parts) == 3 and parts[1].isdigit():
            rows.setdefault(int(parts[1]), {})[key] = value
    return rows


def across(values: dict[str, Any]) -> dict[str, Any]:
    """The answers of the form asked across all milestones."""
    return {key: value for key, value in values.items() if not key.startswith("milestones.")}


def add_milestone(bot: BotHarness, values: dict[str, Any], **kwargs: Any) -> Any:
    """Add a milestone from the hub and save its form with ``values`` (keyed ``milestones.<n>.…``)."""
    bot.click(bot.hub(), "add_milestone", "add", **kwargs)
    return bot.submit(bot.last_view(), values, **kwargs)


def edit_milestone(bot: BotHarness, index: int, values: dict[str, Any], **kwargs: Any) -> Any:
    bot.click(bot.hub(), f"edit_milestone:{index}", str(index), **kwargs)
    return bot.submit(bot.last_view(), values, **kwargs)


def answer(bot: BotHarness, section: str, values: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    """Answer a section as a person would: for milestones, each milestone in its own form (edited if the plan
    has it already, else added), then the questions across milestones; the last response is returned."""
    values = ALL[section] if values is None else values
    if section != "milestones":
        view = with_rows(bot, open_section(bot, section), values, **kwargs)
        return bot.submit(view, values, **kwargs)
    response = None
    for index, row in sorted(milestone_rows(values).items()):
        has = any(b.get("accessory", {}).get("action_id") == f"edit_milestone:{index}" for b in bot.hub()["blocks"])
        response = edit_milestone(bot, index, row, **kwargs) if has else add_milestone(bot, row, **kwargs)
        if response.status != 200 or response.body:
            return response
    if across(values):
        response = bot.submit(open_section(bot, section, **kwargs), across(values), **kwargs)
    return response


def answer_all(bot: BotHarness) -> None:
    for section in ALL:
        response = answer(bot, section)
        assert response.status == 200 and not response.body, response.body


def complete_step3(bot: BotHarness, **command: Any) -> None:
    """A channel whose Step 3 is saved, so customers can join its plan (driven once per worker: see snapshots)."""

    def drive() -> None:
        bot.command("step3", **command)
        answer_all(bot)
        bot.click(bot.hub(), "review_save")
        bot.click(bot.synthesis(), "confirm_save")

    if command:
        drive()
    else:
        replay(bot, "complete_step3", drive)
