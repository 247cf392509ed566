"""Every request acts only on what its own workspace, channel and person may touch.

A signed payload can carry any value: alert ids in button values, plan ids and channels in a modal's
``private_metadata``, channels named in a command. Each case below crafts such a request from another channel or
another workspace and checks that it is refused and that nothing of plan A changed or was shown.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from sandbox import payloads as sr
from sandbox.payloads import ALICE, BOB, CHANNEL, OTHER_TEAM
from storage.models import Alert, CustomerMilestone, Plan, PlanSection
from tests.support.answers import MILESTONES, complete_step3, milestone_rows, open_section
from tests.support.harness import BotHarness
from tests.support.messages import ALERT, outbox_posts

DAY_AFTER_KICKOFF = datetime(2026, 12, 9, 10, 0, tzinfo=UTC)
EVIL = "C0EVIL001"
PRIVATE = "G0PRIVATE"


@pytest.fixture
def acme(bot: BotHarness) -> BotHarness:
    """Plan A in C0PLAN001 with one missed-milestone alert; channel B (C0EVIL001) has a plan of its own."""
    complete_step3(bot)
    bot.command('customer add "Acme Corp" start=2026-12-01 owner=<@U0BOB0002|bob>')
    bot.tick(DAY_AFTER_KICKOFF)
    bot.fake.add_channel(EVIL, name="evil")
    bot.command("step3", channel=EVIL, channel_name="evil")
    return bot


def _alert(bot: BotHarness) -> dict[str, Any]:
    return outbox_posts(bot.channel_messages(), ALERT)[0]


def _alert_row(bot: BotHarness) -> Alert:
    with bot.sessions() as session:
        return session.query(Alert).one()


def _milestone(bot: BotHarness) -> CustomerMilestone:
    with bot.sessions() as session:
        return session.query(CustomerMilestone).order_by(CustomerMilestone.id).first()


def _refusals(bot: BotHarness) -> list[str]:
    return [str(r.get("text", "")) for r in bot.fake.responses]


def _forged(view: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """The same modal with private_metadata rewritten by hand (unsealed JSON, as an attacker would)."""
    forged = copy.deepcopy(view)
    raw = view["private_metadata"]
    content = json.loads(raw[raw.index("{") :])
    forged["private_metadata"] = json.dumps({**content, **changes})
    return forged


def _elsewhere(view: dict[str, Any]) -> dict[str, Any]:
    """The same modal as a request from another workspace carries it (Bolt takes the view's installed team)."""
    return {**view, "team_id": OTHER_TEAM, "app_installed_team_id": OTHER_TEAM}


def _refused_submission(response: Any) -> bool:
    body = response.json() if response.body else None
    return response.status == 200 and isinstance(body, dict) and body.get("response_action") in ("errors", "update")


# --- commands -------------------------------------------------------------------------------------------------


def _alerts_here_reply(bot: BotHarness, text: str, **kwargs: Any) -> dict[str, Any]:
    answered = len(bot.fake.responses)
    assert bot.command(text, **kwargs).body == ""  # acked at once, before asking Slack anything
    assert len(bot.fake.responses) == answered + 1
    return bot.fake.responses[-1]


def test_alerts_here_cannot_take_a_plan_whose_channel_the_person_is_not_in(bot: BotHarness) -> None:
    bot.fake.add_channel(PRIVATE, name="secret-renewals", is_private=True, members=[BOB, "UBOTHARNS"])
    bot.fake.add_channel(EVIL, name="evil", members=[ALICE, BOB, "UBOTHARNS"])
    bot.command("step3", channel=PRIVATE, channel_name="secret-renewals", user=BOB)

    # The membership check asks Slack, so it comes after the ack: the answer goes to the command's response_url.
    named = _alerts_here_reply(bot, f"alerts here plan=<#{PRIVATE}|secret-renewals>", channel=EVIL, user=ALICE)
    implicit = _alerts_here_reply(bot, "alerts here", channel=EVIL, user=ALICE)  # the workspace's only plan
    for reply in (named, implicit):
        assert reply.get("response_type", "ephemeral") == "ephemeral" and "not a member" in reply["text"], reply
    with bot.sessions() as session:
        assert session.query(Plan).one().alert_channel_id is None

    allowed = _alerts_here_reply(bot, f"alerts here plan=<#{PRIVATE}|secret-renewals>", channel=EVIL, user=BOB)
    assert allowed["response_type"] == "in_channel"
    with bot.sessions() as session:
        assert session.query(Plan).one().alert_channel_id == EVIL


def test_alerts_here_never_reaches_another_workspace(bot: BotHarness) -> None:
    bot.command("step3")
    reply = bot.command(f"alerts here plan=<#{CHANNEL}|onboarding-acme>", channel=EVIL, team=OTHER_TEAM).json()
    assert "has no onboarding plan" in reply["text"]
    assert "no onboarding plan" in bot.command("alerts here", channel=EVIL, team=OTHER_TEAM).json()["text"]
    with bot.sessions() as session:
        assert session.query(Plan).one().alert_channel_id is None


# --- alert buttons --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("action_id", ["alert_ack", "alert_done", "alert_extend"])
def test_alert_buttons_from_another_channel_or_workspace_are_refused(acme: BotHarness, action_id: str) -> None:
    bot = acme
    alert = _alert(bot)
    evil_hub = bot.hub(EVIL)
    # A's alert id on a message of channel B (B's own hub), on A's alert ts claimed from B, and from another team.
    crafted = [
        dict(channel=EVIL, message={**alert, "ts": evil_hub["ts"]}),
        dict(channel=EVIL, message=alert),
        dict(channel=CHANNEL, message=alert, team=OTHER_TEAM),
    ]
    updates_before, opened_before = len(bot.fake.calls_to("chat.update")), len(bot.fake.calls_to("views.open"))
    for kwargs in crafted:
        message = kwargs.pop("message")
        response = bot.interact(sr.message_action(message, action_id, response_url=bot.response_url, **kwargs))
        assert response.status == 200
        assert any("not from this plan's channel" in text for text in _refusals(bot)[-1:]), _refusals(bot)[-1:]
    assert len(bot.fake.calls_to("chat.update")) == updates_before
    assert len(bot.fake.calls_to("views.open")) == opened_before
    row, milestone = _alert_row(bot), _milestone(bot)
    assert row.acknowledged_by is None and milestone.completed_on is None


def test_the_extend_form_only_accepts_its_own_person_and_seal(acme: BotHarness) -> None:
    bot = acme
    bot.click(_alert(bot), "alert_extend")
    view = bot.last_view()
    due = _milestone(bot).due_date
    values = {"new_due": "2027-01-31"}

    by_bob = bot.submit(view, values, user=BOB)
    from_other_team = bot.submit(_elsewhere(view), values, team=OTHER_TEAM)
    forged = bot.submit(_forged(view, channel_id=EVIL), values)
    for response in (by_bob, from_other_team, forged):
        assert _refused_submission(response), response.body
    assert _milestone(bot).due_date == due

    assert bot.submit(view, values).body == ""  # Alice, who opened it, in her workspace
    assert str(_milestone(bot).due_date) == "2027-01-31"


# --- modals naming a plan -------------------------------------------------------------------------------------


def test_a_section_form_cannot_be_pointed_at_another_plan(acme: BotHarness) -> None:
    bot = acme
    with bot.sessions() as session:
        plan_a = session.query(Plan).filter_by(channel_id=CHANNEL).one()
        version = session.query(PlanSection).filter_by(plan_id=plan_a.id, section="milestones").one().version
    bot.click(bot.hub(EVIL), "add_milestone", "add", channel=EVIL)
    view_b = bot.last_view()
    changed = {**milestone_rows(MILESTONES)[0], "milestones.0.name": "Hijacked"}
    attempts = [
        bot.submit(_forged(view_b, plan_id=plan_a.id, channel_id=CHANNEL), changed),
        bot.submit(_elsewhere(_forged(view_b, plan_id=plan_a.id, channel_id=CHANNEL, team_id=OTHER_TEAM)), changed,
                   team=OTHER_TEAM),
        bot.submit(_elsewhere(view_b), changed, team=OTHER_TEAM),
        bot.submit(view_b, changed, user=BOB),
    ]  # fmt: skip
    for response in attempts:
        assert _refused_submission(response), response.body
    with bot.sessions() as session:
        rows = session.query(PlanSection).filter_by(section="milestones").all()
        assert [r.version for r in rows if r.plan_id == plan_a.id] == [version]
        assert all("Hijacked" not in json.dumps(r.answers) for r in rows)


def test_add_factor_cannot_read_another_workspaces_plan(acme: BotHarness) -> None:
    bot = acme
    view = open_section(bot, "health")
    updates = len(bot.fake.calls_to("views.update"))
    for payload in (
        sr.view_action(_elsewhere(view), "add_factor", {}, team=OTHER_TEAM),
        sr.view_action(_elsewhere(_forged(view, team_id=OTHER_TEAM)), "add_factor", {}, team=OTHER_TEAM),
        sr.view_action(view, "add_factor", {}, user=BOB),
    ):
        assert bot.interact(payload).status == 200
    assert len(bot.fake.calls_to("views.update")) == updates, "nothing of plan A is shown"
    assert bot.interact(sr.view_action(view, "add_factor", {})).status == 200
    assert len(bot.fake.calls_to("views.update")) == updates + 1


def test_the_shortcut_form_cannot_be_pointed_at_another_plan(acme: BotHarness) -> None:
    bot = acme
    message = {"type": "message", "user": BOB, "text": "Weekly office hours", "ts": "1796000400.000100"}
    payload = sr.message_shortcut(message, response_url=bot.response_url)
    assert bot.interact(payload).status == 200
    view = bot.last_view()
    values = {"field": "training:schedule_curriculum", "mode": "replace"}
    with bot.sessions() as session:
        before = session.query(PlanSection).filter_by(section="training").one().version
    for response in (
        bot.submit(_elsewhere(view), values, team=OTHER_TEAM),
        bot.submit(view, values, user=BOB),
        bot.submit(_forged(view, text="<!channel> hijacked"), values),
    ):
        assert _refused_submission(response), response.body
    with bot.sessions() as session:
        assert session.query(PlanSection).filter_by(section="training").one().version == before
    assert bot.submit(view, values).body == ""


# --- what a person can see ------------------------------------------------------------------------------------


def test_the_app_home_lists_only_plans_of_channels_the_person_is_in(bot: BotHarness) -> None:
    bot.fake.add_channel(PRIVATE, name="secret-renewals", is_private=True, members=[BOB, "UBOTHARNS"])
    bot.command("step3")  # onboarding-acme: everyone is in it
    bot.command("step3", channel=PRIVATE, channel_name="secret-renewals", user=BOB)

    def home(user: str) -> str:
        assert bot.event({"type": "app_home_opened", "user": user, "channel": "D0HOME001", "tab": "home"}).status == 200
        return str(bot.fake.last("views.publish").args["view"]["blocks"])

    assert "onboarding-acme" in home(ALICE) and "secret-renewals" not in home(ALICE)
    assert "onboarding-acme" in home(BOB) and "secret-renewals" in home(BOB)


# --- values that are not what the bot sent --------------------------------------------------------------------


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("value", ["⑨", "-1", "1e3", "", "9" * 5000, "12abc"])
def test_an_alert_button_with_a_value_the_bot_never_sent_is_refused(acme: BotHarness, value: str) -> None:
    bot = acme
    payload = sr.message_action(_alert(bot), "alert_ack", response_url=bot.response_url)
    payload["actions"][0]["value"] = value
    assert bot.interact(payload).status == 200
    assert "not one the bot made" in _refusals(bot)[-1]
    assert _alert_row(bot).acknowledged_by is None


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_unicode_digit_is_not_a_milestone_number(acme: BotHarness) -> None:
    reply = acme.command('milestone done "Acme Corp" ⑨')
    assert reply.status == 200 and "No milestone is called “⑨”" in reply.json()["text"]
    reply = acme.command('milestone done "Acme Corp" ' + "9" * 5000)
    assert reply.status == 200 and "does not exist" in reply.json()["text"]


@pytest.mark.parametrize(
    ("field", "value"), [("team_id", "T0HARNESS\x00"), ("channel_id", "nul\x00byte"), ("user_id", "⑨"), ("team_id", "")]
)
def test_ids_that_are_not_slack_ids_are_refused_before_the_database(bot: BotHarness, field: str, value: str) -> None:
    # PostgreSQL refuses NUL in text: such an id must never reach a query (a traceback and a generic error).
    form = sr.slash_command("status", response_url=bot.response_url)
    response = bot.post(sr.form_body({**form, field: value}))
    assert response.status == 200 and "nothing was done" in response.json()["text"]
