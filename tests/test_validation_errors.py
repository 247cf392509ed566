"""Bad answers go back to the exact field with response_action=errors, and nothing is saved."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.answers import HEALTH, MILESTONES, TRAINING, add_milestone, milestone_rows, open_section, with_rows
from tests.support.harness import BotHarness


def _assert_refused(bot: BotHarness, section: str, values: dict[str, Any], block_id: str, words: str) -> None:
    bot.command("step3")
    view = with_rows(bot, open_section(bot, section), values)
    response = bot.submit(view, values)
    assert response.status == 200
    body = response.json()
    assert body["response_action"] == "errors"
    input_ids = {b["block_id"] for b in view["blocks"] if b["type"] == "input"}
    assert set(body["errors"]) <= input_ids, "Slack only accepts errors keyed by the view's input block ids"
    assert words in body["errors"][block_id], body["errors"]
    with bot.sessions() as session:
        from storage.models import PlanSection

        assert session.query(PlanSection).count() == 0, "invalid input must save nothing"
    assert "Not yet answered" in str(bot.hub()["blocks"])


# Validation does not depend on the database: these cases run on SQLite only, to keep the suite fast.
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

MILESTONE_CASES = [
    ({"milestones.1.name": "kickoff HELD"}, "milestones.1.name", "Another milestone is already called"),
    ({"milestones.0.name": ""}, "milestones.0.name", "required"),
    ({"milestones.2.definition_of_done": "  "}, "milestones.2.definition_of_done", "required"),
    ({"milestones.0.timeline_days": 0}, "milestones.0.timeline_days", "more than 0"),
    ({"milestones.0.timeline_days": -5}, "milestones.0.timeline_days", "more than 0"),
    ({"milestones.1.timeline_days": "two weeks"}, "milestones.1.timeline_days", "whole number"),
    ({"milestones.1.timeline_days": "7.5"}, "milestones.1.timeline_days", "whole number"),
    ({"milestones.0.description": "x" * 3001}, "milestones.0.description", "3000 characters"),
    ({"milestones.0.points_on_time": 101}, "milestones.0.points_on_time", "at most 100"),
]


@sqlite_only
@pytest.mark.parametrize(("changes", "block_id", "words"), MILESTONE_CASES)
def test_milestone_errors(bot: BotHarness, changes: dict, block_id: str, words: str) -> None:
    # Each milestone has its own form: the ones before the faulty one are saved, the faulty one is refused.
    bot.command("step3")
    index = int(block_id.split(".")[1])
    rows = milestone_rows({**MILESTONES, **changes})
    for earlier in range(index):
        assert add_milestone(bot, rows[earlier]).body == ""
    bot.click(bot.hub(), "add_milestone", "add")
    view = bot.last_view()
    body = bot.submit(view, rows[index]).json()
    assert body["response_action"] == "errors"
    assert set(body["errors"]) <= {b["block_id"] for b in view["blocks"] if b["type"] == "input"}
    assert words in body["errors"][block_id], body["errors"]
    with bot.sessions() as session:
        from storage.models import PlanSection

        saved = [len(row.answers["milestones"]) for row in session.query(PlanSection)]
        assert saved == ([index] if index else []), "the refused milestone is not saved"


HEALTH_CASES = [
    ({"weights.adoption": 50}, "weights.adoption", "add up to 110; they must total 100"),
    ({"weights.tickets": -10, "weights.adoption": 60}, "weights.tickets", "at least 0"),
    ({"healthy_from": 30}, "healthy_from", "must be above"),
    ({"healthy_from": 140}, "healthy_from", "at most 100"),
    ({"critical_below": -1}, "critical_below", "at least 0"),
    ({"custom_factors.0.weight": None}, "custom_factors.0.weight", "required"),
    ({"custom_factors.1.weight": 5}, "custom_factors.1.name", "required"),
    ({"custom_factors.0.name": "engagement"}, "custom_factors.0.name", "already a factor"),
]


@sqlite_only
@pytest.mark.parametrize(("changes", "block_id", "words"), HEALTH_CASES)
def test_health_errors(bot: BotHarness, changes: dict, block_id: str, words: str) -> None:
    _assert_refused(bot, "health", {**HEALTH, **changes}, block_id, words)


def test_training_needs_at_least_one_answer(bot: BotHarness) -> None:
    _assert_refused(bot, "training", {k: None if k != "session_types" else [] for k in TRAINING}, "documentation",
                    "at least one")  # fmt: skip


def test_a_fixed_submission_is_then_saved(bot: BotHarness) -> None:
    bot.command("step3")
    bot.click(bot.hub(), "add_milestone", "add")
    view, first = bot.last_view(), milestone_rows(MILESTONES)[0]
    assert bot.submit(view, {**first, "milestones.0.timeline_days": 0}).json()["response_action"] == "errors"
    assert bot.submit(view, first).body == ""
    assert "last edited by" in str(bot.hub()["blocks"])


@sqlite_only
def test_every_error_of_a_submission_comes_back_at_once(bot: BotHarness) -> None:
    bot.command("step3")
    wrong = {**HEALTH, "weights.adoption": 30, "healthy_from": 20, "critical_below": 50, "update_time": None}
    view = with_rows(bot, open_section(bot, "health"), wrong)
    errors = bot.submit(view, wrong).json()["errors"]
    assert errors["update_time"] == "This is required."
    assert "must be above" in errors["healthy_from"]
    # The total is said on every weight, where the person will change one.
    weights = ["weights.adoption", "weights.engagement", "weights.tickets", "weights.milestones",
               "custom_factors.0.weight"]  # fmt: skip
    assert all(errors[w] == "The weights add up to 90; they must total 100." for w in weights), errors


@sqlite_only
def test_a_duplicate_milestone_name_is_reported_with_the_other_errors(bot: BotHarness) -> None:
    bot.command("step3")
    add_milestone(bot, milestone_rows(MILESTONES)[0])
    second = {**milestone_rows(MILESTONES)[1], "milestones.1.name": "kickoff HELD", "milestones.1.timeline_days": 0}
    errors = add_milestone(bot, second).json()
    assert errors["errors"] == {
        "milestones.1.name": "Another milestone is already called “kickoff HELD”.",
        "milestones.1.timeline_days": "Must be more than 0.",
    }
