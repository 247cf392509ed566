"""Whatever the team types, what Slack receives stays within Block Kit's limits (the fake Slack checks)."""

from __future__ import annotations

import json

from sandbox.payloads import ALICE
from tests.support.answers import HEALTH, TRAINING, answer
from tests.support.harness import BotHarness


def test_five_milestones_of_the_longest_answers_fit_the_synthesis(bot: BotHarness) -> None:
    bot.command("step3")
    long = {}
    for i in range(5):
        long |= {
            f"milestones.{i}.name": f"Milestone number {i} " + "n" * 70,
            f"milestones.{i}.description": "d" * 3000,
            f"milestones.{i}.timeline_days": 10 * (i + 1),
            f"milestones.{i}.timeline_note": "t" * 3000,
            f"milestones.{i}.definition_of_done": "x" * 3000,
            f"milestones.{i}.impact_note": "i" * 3000,
        }
    long |= {"retention_correlation": "r" * 3000, "missed_deadline_policy": "p" * 3000}
    assert answer(bot, "milestones", long).body == ""
    answer(bot, "health", {**HEALTH, "calculation_notes": "c" * 3000, "protocols.critical": "<!here> " * 375})
    answer(bot, "training", {**TRAINING, **{k: "y" * 3000 for k in ("documentation", "community")}})
    bot.click(bot.hub(), "review_save")
    synthesis = bot.channel_messages()[-1]
    assert synthesis["text"].startswith("Step 3 synthesis") and len(synthesis["blocks"]) <= 50
    bot.click(synthesis, "view_synthesis")
    full = bot.last_view()["blocks"]
    assert len(full) <= 100 and "x" * 400 in json.dumps(full), "the modal shows every answer (up to its preview)"
    bot.click(synthesis, "confirm_save")
    document = next(iter(bot.fake.uploads.values()))["content"].decode()
    assert "x" * 3000 in document, "the document keeps every answer in full"
    # The fake Slack fixture fails the test if any call above broke a limit.


def test_the_app_home_stays_within_100_blocks_with_many_plans(bot: BotHarness) -> None:
    for n in range(12):
        channel = f"C0MANY{n:03d}"
        bot.fake.add_channel(channel, name=f"plan-{n}")
        bot.command("step3", channel=channel, channel_name=f"plan-{n}")
    bot.event({"type": "app_home_opened", "user": ALICE, "channel": "D0HOME001", "tab": "home"})
    view = bot.fake.last("views.publish").args["view"]
    assert len(view["blocks"]) <= 100
    assert "and 4 more plans" in str(view["blocks"])
