"""Request-level guarantees: signatures, redeliveries, isolation, escaping, and Slack refusing a post."""

from __future__ import annotations

import time

from tests.support import slack_requests as sr
from tests.support.answers import MILESTONES, answer, answer_all, open_section
from tests.support.harness import BotHarness


def test_forged_signature_is_rejected(bot: BotHarness) -> None:
    body = sr.form_body(sr.slash_command("step3", response_url=bot.response_url))
    assert bot.post(body, secret="not-the-signing-secret").status == 401
    assert bot.fake.calls_to("chat.postMessage") == []


def test_stale_timestamp_is_rejected(bot: BotHarness) -> None:
    body = sr.form_body(sr.slash_command("step3", response_url=bot.response_url))
    assert bot.post(body, timestamp=int(time.time()) - 301).status == 401
    assert bot.fake.calls_to("chat.postMessage") == []


def test_tampered_body_is_rejected(bot: BotHarness) -> None:
    body = sr.form_body(sr.slash_command("step3", response_url=bot.response_url))
    headers = sr.sign(body)
    response = bot.request(
        "POST", "/slack/events", body.replace("step3", "status"),
        {"Content-Type": "application/x-www-form-urlencoded", **headers},
    )  # fmt: skip
    assert response.status == 401


def test_redelivered_requests_are_applied_once(bot: BotHarness) -> None:
    bot.command("step3")
    answer_all(bot)
    bot.click(bot.hub(), "menu_continue")
    synthesis = bot.channel_messages()[-1]
    click = sr.message_action(synthesis, "confirm_save", response_url=bot.response_url)
    assert bot.interact(click).status == 200
    assert bot.interact(click, headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}).status == 200
    assert len(bot.fake.uploads) == 1
    with bot.sessions() as session:
        from storage.models import DocumentVersion

        assert session.query(DocumentVersion).count() == 1


def test_resubmitted_modal_is_saved_once(bot: BotHarness) -> None:
    bot.command("step3")
    view = open_section(bot, "milestones")
    submission = sr.view_submission(view, MILESTONES)
    assert bot.interact(submission).status == 200
    assert bot.interact(submission, headers={"X-Slack-Retry-Num": "1"}).status == 200
    with bot.sessions() as session:
        from storage.models import PlanSection

        assert [row.version for row in session.query(PlanSection)] == [1]


def test_mrkdwn_in_answers_is_escaped(bot: BotHarness) -> None:
    bot.command("step3")
    hostile = {
        **MILESTONES,
        "milestones.0.name": "<!channel> launch",
        "milestones.0.description": "see <https://evil.example|your bank> & more",
    }
    answer(bot, "milestones", hostile)
    answer(bot, "health")
    answer(bot, "training")
    bot.click(bot.hub(), "menu_continue")
    synthesis = str(bot.channel_messages()[-1]["blocks"])
    assert "<!channel>" not in synthesis and "<https://evil.example" not in synthesis
    assert "&lt;!channel&gt; launch" in synthesis
    assert "&lt;https://evil.example|your bank&gt; &amp; more" in synthesis
    bot.click(bot.channel_messages()[-1], "confirm_save")
    document = next(iter(bot.fake.uploads.values()))["content"].decode()
    assert "<!channel> launch" in document, "the markdown file keeps the answer verbatim"


def test_each_channel_has_its_own_plan(bot: BotHarness) -> None:
    bot.fake.add_channel("C0OTHER01", name="onboarding-globex")
    bot.command("step3")
    answer_all(bot)
    bot.command("step3", channel="C0OTHER01", channel_name="onboarding-globex")
    other_hub = bot.hub("C0OTHER01")
    assert str(other_hub["blocks"]).count("Not yet answered") == 3
    view = open_section(bot, "milestones", other_hub, channel="C0OTHER01")
    assert "Kickoff held" not in str(view["blocks"])
    bot.click(other_hub, "menu_continue", channel="C0OTHER01")
    assert "Before continuing" in bot.fake.responses[-1]["text"]


def test_another_workspace_cannot_reach_a_plan(bot: BotHarness) -> None:
    bot.command("step3")
    answer_all(bot)
    bot.click(bot.hub(), "menu_continue", team=sr.OTHER_TEAM)
    assert "no onboarding plan yet" in bot.fake.responses[-1]["text"]
    assert "no onboarding plan yet" in bot.command("status", team=sr.OTHER_TEAM).json()["text"]


def test_not_in_channel_tells_the_user_how_to_fix_it(bot: BotHarness) -> None:
    bot.fake.fail("chat.postMessage", "not_in_channel")
    assert bot.command("step3").status == 200
    reply = bot.fake.responses[-1]
    assert reply["response_type"] == "ephemeral"
    assert "/invite @onboarding-bot" in reply["text"]


def test_slack_rate_limit_is_retried(bot: BotHarness) -> None:
    bot.fake.fail("chat.postMessage", "ratelimited", status=429, headers={"Retry-After": "0"})
    bot.command("step3")
    hub_posts = [c for c in bot.fake.calls_to("chat.postMessage") if c.args["text"].startswith("Step 3 ·")]
    assert len(hub_posts) == 2  # refused with 429, then accepted
    assert bot.hub()


def test_health_check(bot: BotHarness) -> None:
    response = bot.request("GET", "/healthz")
    assert response.status == 200 and response.json() == {"status": "ok"}
    assert bot.request("GET", "/nope").status == 404
