"""The App Home, failed deliveries shown to the team, and `onboarding-bot tick` as cron runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import pytest

from bot import scheduler as bot_scheduler
from bot.cli import main
from sandbox.payloads import ALICE
from sandbox.slack_api import FakeSlack
from tests.support.answers import complete_step3
from tests.support.cli import in_process_cli
from tests.support.harness import BotHarness
from tests.support.messages import ALERT, outbox_posts

OVERDUE = datetime(2026, 12, 9, 10, 0, tzinfo=UTC)


def test_app_home_shows_plans_customers_overdue_and_failures(bot: BotHarness) -> None:
    complete_step3(bot)
    bot.command('customer add "Acme Corp" start=2026-12-01')
    bot.command('signal "Acme Corp" adoption=20 engagement=30 tickets=40 nps=10')
    bot.fake.fail("chat.postMessage", "channel_not_found", times=5)
    bot.tick(OVERDUE)
    bot.fake.take_problems()

    assert bot.event({"type": "app_home_opened", "user": ALICE, "channel": "D0HOME001", "tab": "home"}).status == 200
    published = bot.fake.last("views.publish").args
    assert published["user_id"] == ALICE
    text = str(published["view"]["blocks"])
    assert "*onboarding-acme* · <#C0PLAN001> · :white_check_mark: Step 3 saved" in text
    assert "Critical 1" in text and "Acme Corp" in text
    assert "*Overdue milestones:* 1" in text and "Kickoff held (due 2026-12-08)" in text
    assert "Failed deliveries" in text and "`channel_not_found`" in text


def test_app_home_for_a_new_workspace(bot: BotHarness) -> None:
    bot.event({"type": "app_home_opened", "user": ALICE, "channel": "D0HOME001", "tab": "home"})
    assert "No plans yet" in str(bot.fake.last("views.publish").args["view"]["blocks"])
    before = len(bot.fake.calls_to("views.publish"))
    bot.event({"type": "app_home_opened", "user": ALICE, "channel": "D0HOME001", "tab": "messages"})
    assert len(bot.fake.calls_to("views.publish")) == before


def test_a_redelivered_event_is_handled_once(bot: BotHarness) -> None:
    event = {"type": "app_home_opened", "user": ALICE, "channel": "D0HOME001", "tab": "home"}
    bot.event(event, event_id="Ev0REDELIV")
    bot.event(event, event_id="Ev0REDELIV", headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})
    assert len(bot.fake.calls_to("views.publish")) == 1


def test_permanent_delivery_failure_is_recorded_and_shown(bot: BotHarness) -> None:
    complete_step3(bot)
    bot.command('customer add "Acme Corp" start=2026-12-01')
    bot.fake.fail("chat.postMessage", "not_in_channel", times=10)
    report = bot.tick(OVERDUE)
    assert report.delivery.failed >= 1
    bot.fake.take_problems()
    status = bot.command("status").json()["text"]
    assert "Failed deliveries" in status and "`not_in_channel`" in status and "Acme Corp missed milestone 1" in status
    # Failed for good: later ticks do not retry it (the team fixes the cause; nothing is silently dropped).
    posts = len(bot.fake.calls_to("chat.postMessage"))
    bot.tick(datetime(2026, 12, 10, 10, 0, tzinfo=UTC))
    assert len(bot.fake.calls_to("chat.postMessage")) == posts


def test_tick_command_sends_what_is_due_once(
    bot: BotHarness,
    fake: FakeSlack,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    complete_step3(bot)
    bot.command('customer add "Acme Corp" start=2026-12-01')
    settings = {"SLACK_BOT_TOKEN": "xoxb-test-token", "SLACK_API_URL": fake.base_url, "DATABASE_URL": database_url}
    arguments = ["tick", "--now", "2026-12-09T10:00:00Z"]
    # The two runs that deliver call the CLI in-process (a process start is a second or two of imports), their
    # per-channel pacing waits pretended as the harness's own ticks pretend them (two seconds of sleep otherwise)...
    monkeypatch.setattr(bot_scheduler, "tick", partial(bot_scheduler.tick, sleep=bot.clock.sleep))
    with in_process_cli(monkeypatch, tmp_path, settings):
        returncode = main(arguments)
        first = capsys.readouterr()
        assert returncode == 0, first.err
        assert "1 missed-milestone alert(s)" in first.out and "1 health update(s)" in first.out
        main(arguments)
        second = capsys.readouterr()
        assert "0 missed-milestone alert(s)" in second.out and "delivered 0" in second.out
    assert len(outbox_posts(bot.channel_messages(), ALERT)) == 1
    # ...and the refused argument goes through a real process, as cron would start it.
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env |= {**settings, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    command = [sys.executable, "-m", "bot.cli", *arguments[:-1], "next tuesday"]
    bad = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True)
    assert bad.returncode == 2 and "not an ISO-8601 instant" in bad.stderr
