"""Saved answers come back exactly: in the prefilled modals, and through `onboarding-bot export`."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from tests.support.answers import ALL, answer, answer_all, open_section
from tests.support.cli import in_process_cli
from tests.support.harness import BotHarness


@pytest.mark.parametrize("section", list(ALL))
def test_a_prefilled_form_resubmitted_unchanged_changes_nothing(bot: BotHarness, section: str) -> None:
    bot.command("step3")
    answer(bot, section)
    with bot.sessions() as session:
        from storage.models import PlanSection

        first = session.query(PlanSection).one()
    forms = [open_section(bot, section)]
    if section == "milestones":
        for index in range(3):
            bot.click(bot.hub(), f"edit_milestone:{index}", str(index))
            forms.append(bot.last_view())
    for view in forms:
        assert bot.submit(view, {}).body == ""  # every input keeps its initial value, as in Slack
    with bot.sessions() as session:
        row = session.query(PlanSection).one()
        assert row.version == first.version and row.answers == first.answers, "nothing new to save"


def test_export_prints_each_version(
    bot: BotHarness,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    bot.command("step3")
    answer_all(bot)
    bot.click(bot.hub(), "review_save")
    bot.click(bot.channel_messages()[-1], "confirm_save")
    answer(bot, "training", {"community": "Customer forum at community.example"})
    bot.click(bot.hub(), "review_save")
    bot.click(bot.channel_messages()[-1], "confirm_save")

    with in_process_cli(monkeypatch, tmp_path, {"DATABASE_URL": database_url}):
        assert main(["export", "--channel", "C0PLAN001"]) == 0
        latest = capsys.readouterr().out
        assert latest == list(bot.fake.uploads.values())[-1]["content"].decode()
        assert "Customer forum at community.example" in latest

        assert main(["export", "--channel", "C0PLAN001", "--version", "1"]) == 0
        first = capsys.readouterr().out
        assert "Customer forum" not in first and "Kickoff held" in first

        assert main(["export", "--channel", "C0PLAN001", "--version", "9"]) == 1
        assert "no version 9" in capsys.readouterr().err
        assert main(["export", "--channel", "C0NOPLAN1"]) == 1
        assert "no plan for channel C0NOPLAN1" in capsys.readouterr().err


def test_db_upgrade_is_idempotent(
    unmigrated_database_url: str, monkeypatch: pytest.MonkeyPatch, capsys, tmp_path: Path
) -> None:
    with in_process_cli(monkeypatch, tmp_path, {"DATABASE_URL": unmigrated_database_url}):
        assert main(["db", "upgrade"]) == 0
        assert main(["db", "upgrade"]) == 0
    assert "database is up to date" in capsys.readouterr().out
