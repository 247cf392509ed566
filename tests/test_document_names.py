"""Outside Slack (the uploaded file, `export`) the plan document names people; the canvas uses Slack's own mentions;
text folded in with the message shortcut is credited to its author with a link to the message."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main
from sandbox import payloads as sr
from sandbox.payloads import ALICE, BOB, CHANNEL
from sandbox.slack_api import TEAM_DOMAIN
from steps.document import parse_document
from tests.support.answers import HEALTH, TRAINING, answer, answer_all, complete_step3
from tests.support.cli import in_process_cli
from tests.support.harness import BotHarness

MONITORED = "- **Monitored by:** "
MALLORY = "U0MALLORY"


def _files(bot: BotHarness) -> list[str]:
    return [upload["content"].decode() for upload in bot.fake.uploads.values()]


def _canvas(bot: BotHarness) -> str:
    [canvas] = bot.fake.canvases.values()
    return str(canvas["markdown"])


def _save(bot: BotHarness) -> None:
    bot.click(bot.hub(), "review_save")
    bot.click(bot.synthesis(), "confirm_save")


def _export(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str, capsys: Any, *args: str) -> str:
    with in_process_cli(monkeypatch, tmp_path, {"DATABASE_URL": database_url}):
        assert main(["export", "--channel", CHANNEL, *args]) == 0
    return str(capsys.readouterr().out)


def _monitors_line(document: str) -> str:
    [line] = [line for line in document.split("\n") if line.startswith(MONITORED)]
    return line


def test_the_file_and_export_name_people_and_the_canvas_mentions_them(
    bot: BotHarness, database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: Any, tmp_path: Path
) -> None:
    complete_step3(bot)
    [document] = _files(bot)
    assert _monitors_line(document) == f"{MONITORED}Alice Example, Bob Example"
    assert "<@" not in document
    # Slack shows a canvas mention as the person's current name, with their profile a click away.
    assert f"{MONITORED}![](@{ALICE}), ![](@{BOB})" in _canvas(bot)
    assert "<@" not in _canvas(bot)
    # `/onboarding doc` and export read the names the bot stored when it saved: neither asks Slack for them.
    asked = len(bot.fake.calls_to("users.info"))
    bot.command("doc")
    assert _files(bot)[-1] == document
    assert _export(monkeypatch, tmp_path, database_url, capsys) == document
    assert len(bot.fake.calls_to("users.info")) == asked


def test_names_are_read_after_the_ack(bot: BotHarness) -> None:
    bot.command("step3")
    answer_all(bot)
    bot.click(bot.hub(), "review_save")
    asked = len(bot.fake.calls_to("users.info"))  # the health form asked for the opener's time zone
    slack_answers = threading.Event()
    bot.fake.succeed("users.info", stall=slack_answers)
    body = sr.interactive_body(sr.message_action(bot.synthesis(), "confirm_save", response_url=bot.response_url))
    try:
        status, _ = bot.call_front_door(
            body.encode(), {"Content-Type": "application/x-www-form-urlencoded", **sr.sign(body)}
        )
        # Answered while Slack still has not said who the monitors are.
        assert status == 200 and not slack_answers.is_set()
    finally:
        slack_answers.set()
    bot.executor.wait_idle()
    assert [call.args["user"] for call in bot.fake.calls_to("users.info")[asked:]] == [ALICE, BOB]
    assert _monitors_line(_files(bot)[-1]) == f"{MONITORED}Alice Example, Bob Example"


def test_a_name_slack_does_not_give_reads_as_a_stand_in_until_a_later_save(
    bot: BotHarness, database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: Any, tmp_path: Path
) -> None:
    bot.command("step3")
    answer_all(bot)
    asked = len(bot.fake.calls_to("users.info"))  # the health form asked for the opener's time zone
    bot.fake.fail("users.info", "user_not_found")  # the first person asked about: Alice, the first monitor
    bot.click(bot.hub(), "review_save")
    bot.click(bot.synthesis(), "confirm_save")
    [first] = _files(bot)  # the save and the upload went ahead without her name
    assert _monitors_line(first) == f"{MONITORED}Slack user {ALICE}, Bob Example"
    assert "<@" not in first

    answer(bot, "training", {**TRAINING, "community": "A customer forum"})
    _save(bot)
    assert _monitors_line(_files(bot)[-1]) == f"{MONITORED}Alice Example, Bob Example"
    # Alice is asked again; Bob, read a moment ago, is not.
    assert [call.args["user"] for call in bot.fake.calls_to("users.info")[asked:]] == [ALICE, BOB, ALICE]
    # Every version is shown with the names known now.
    version_1 = _export(monkeypatch, tmp_path, database_url, capsys, "--version", "1")
    assert _monitors_line(version_1) == f"{MONITORED}Alice Example, Bob Example"


def test_folded_text_is_credited_to_its_author_with_a_link(bot: BotHarness) -> None:
    bot.command("step3")
    answer_all(bot)
    message = {"type": "message", "user": BOB, "text": "Weekly office hours", "ts": "1796000400.000100"}
    assert bot.interact(sr.message_shortcut(message, response_url=bot.response_url)).status == 200
    assert bot.submit(bot.last_view(), {"field": "training:schedule_curriculum", "mode": "append"}).body == ""
    _save(bot)

    link = f"https://{TEAM_DOMAIN}.slack.com/archives/{CHANNEL}/p1796000400000100"
    credit = f"(from Bob Example in Slack, [original message]({link}))"
    document = _files(bot)[-1]
    schedule = "- **Schedule and curriculum:** Weekly webinar on Tuesdays covering admin basics"
    assert f"{schedule}\n  Weekly office hours {credit}\n" in document
    assert f"Weekly office hours (from ![](@{BOB}) in Slack, [original message]({link}))" in _canvas(bot)

    # Once the answer no longer holds the message's text, the document no longer credits it.
    answer(bot, "training", {**TRAINING, "schedule_curriculum": "Monthly webinar"})
    _save(bot)
    assert "(from Bob Example" not in _files(bot)[-1]


def test_a_hostile_name_is_plain_text_and_pings_nobody(bot: BotHarness) -> None:
    hostile = "*Mallory* <!channel> | [x](https://evil.example) <@U0ALICE01>\n## Forged heading\r\n`code`"
    bot.fake.add_user(MALLORY, name="mallory", real_name=hostile)
    bot.command("step3")
    answer(bot, "milestones")
    answer(bot, "health", {**HEALTH, "monitors": [ALICE, MALLORY]})
    answer(bot, "training")
    _save(bot)
    document = _files(bot)[-1]
    line = _monitors_line(document)
    assert line == (
        f"{MONITORED}Alice Example, \\*Mallory\\* \\<\\!channel\\> \\| \\[x\\](https://evil.example) \\<@U0ALICE01\\> "
        "## Forged heading \\`code\\`"
    )
    sections = [heading for heading, _ in parse_document(document).sections]
    assert sections == ["Success Milestones", "Training / Education Plan"]
    assert not any("<!channel>" in str(call.args) for call in bot.fake.calls)
