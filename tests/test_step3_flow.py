"""Step 3 end to end, through signed HTTP requests and the fake Slack Web API."""

from __future__ import annotations

import copy
import json

import yaml

from sandbox.payloads import ALICE, BOB, CHANNEL
from tests.support.answers import (
    HEALTH,
    MILESTONES,
    TRAINING,
    answer,
    answer_all,
    edit_milestone,
    milestone_rows,
    open_section,
)
from tests.support.harness import BotHarness
from tests.support.messages import HUB, SYNTHESIS, with_block, with_button


def _texts(message: dict) -> str:
    parts = [message.get("text", "")]
    for block in message.get("blocks", []):
        parts.append((block.get("text") or {}).get("text", ""))
        parts += [e.get("text", "") for e in block.get("elements", []) if isinstance(e.get("text"), str)]
    return "\n".join(parts)


def _frontmatter(markdown: str) -> dict:
    _, front, _ = markdown.split("---\n", 2)
    return yaml.safe_load(front)


def test_step3_posts_hub_with_sections_and_menu(bot: BotHarness) -> None:
    response = bot.command("step3")
    assert response.status == 200
    hub = bot.hub()
    text = _texts(hub)
    for title in ("Success milestones", "Health score model", "Training / education plan"):
        assert title in text
    assert text.count("Not yet answered") == 3
    buttons = [b["accessory"]["action_id"] for b in hub["blocks"] if "accessory" in b]
    assert buttons == ["open_section:milestones", "open_section:health", "open_section:training"]
    assert _has_element(hub, "add_milestone"), "milestones are added one at a time"
    assert _menu(hub) == ["[MH] Menu Help"], "nothing to review or continue to before the sections are answered"


def _menu(hub: dict) -> list[str]:
    menu = next(b for b in hub["blocks"] if b.get("block_id") == "menu")
    return [e["text"]["text"] for e in menu["elements"]]


def test_the_menu_follows_the_steps_order(bot: BotHarness) -> None:
    bot.command("step3")
    answer_all(bot)
    assert _menu(bot.hub()) == ["Review and save", "[MH] Menu Help"]
    bot.click(bot.hub(), "review_save")
    bot.click(bot.synthesis(), "confirm_save")
    hub = bot.hub()
    assert _menu(hub) == ["[C] Continue to Automation Setup", "[R] Revise Success Milestones", "[MH] Menu Help"]
    primary = [e["text"]["text"] for b in hub["blocks"] if b["type"] == "actions" for e in b["elements"]
               if e.get("style") == "primary"]  # fmt: skip
    assert primary == ["[C] Continue to Automation Setup"], "one primary action: the one that moves the plan on"
    # [C] tells only the person who clicked that Step 4 is not there yet; the plan stays complete through Step 3.
    posts = len(bot.channel_messages())
    bot.click(hub, "menu_continue")
    told = bot.fake.responses[-1]
    assert told["response_type"] == "ephemeral" and "not available" in json.dumps(told)
    assert len(bot.channel_messages()) == posts
    with bot.sessions() as session:
        from storage.models import Plan

        assert session.query(Plan).one().steps_completed == ["step-03-success-milestones"]


def test_full_flow_uploads_the_compiled_document(bot: BotHarness) -> None:
    bot.command("step3")
    answer_all(bot)

    hub = bot.hub()
    assert _texts(hub).count(f"last edited by <@{ALICE}>") == 3

    bot.click(hub, "review_save")
    synthesis = bot.channel_messages()[-1]
    assert synthesis["text"].startswith("Step 3 synthesis")
    # The channel gets a short summary...
    summary = _texts(synthesis)
    assert "*3 milestones:* Kickoff held (day 7) · First integration live (day 30) · Team trained (day 45)" in summary
    assert (
        "healthy from 70, critical below 40; updates weekly on Monday at 09:00 (Europe/Berlin), 2 monitors" in summary
    )
    assert len(synthesis["blocks"]) <= 6 and "Ask for a referral" not in summary
    # ...and every answer opens in a modal for whoever wants to read it all before confirming.
    bot.click(synthesis, "view_synthesis")
    shown = json.dumps(bot.last_view()["blocks"], ensure_ascii=False)
    assert "Kickoff held" in shown and "Ask for a referral" in shown and "Bronze, Silver, Gold badges" in shown
    assert "_Not yet discussed_" in shown  # e.g. community forums were never answered

    bot.click(synthesis, "confirm_save")

    uploads = list(bot.fake.uploads.values())
    assert len(uploads) == 1 and uploads[0]["completed"]
    assert uploads[0]["channel_id"] == CHANNEL
    document = uploads[0]["content"].decode()
    front = _frontmatter(document)
    assert front["document"] == "onboarding-flow"
    assert front["project"] == "onboarding-acme"
    assert front["stepsCompleted"] == ["step-03-success-milestones"]
    assert front["date"] == "2026-11-27"
    assert "# Onboarding Flow: onboarding-acme" in document
    for heading in (
        "## Success Milestones",
        "### Milestone 1: Kickoff held",
        "### Health Score Model",
        "## Training / Education Plan",
        "### Self-Service Resources",
        "### Guided Training Sessions",
        "### Documentation and Knowledge Base",
        "### Certification Program (if applicable)",
    ):
        assert heading in document
    for values in (MILESTONES, HEALTH, TRAINING):
        for value in values.values():
            if isinstance(value, str) and not value.isidentifier():
                assert value in document, value
    assert "_Not yet discussed_" in document
    assert "version 1" in uploads[0]["initial_comment"]

    assert not any("not available" in _texts(m) for m in bot.channel_messages()), "the channel stays quiet"
    confirmed = _texts(bot.fake.message(CHANNEL, synthesis["ts"]))
    assert "Saved as version 1" in confirmed
    assert not any(b.get("block_id") == "synthesis" for b in bot.fake.message(CHANNEL, synthesis["ts"])["blocks"])


def test_review_with_missing_sections_names_them(bot: BotHarness) -> None:
    bot.command("step3")
    answer(bot, "milestones")
    # The hub offers Review and save once all are answered; a click from an older hub names what is missing.
    bot.click(with_button(bot.hub(), "review_save"), "review_save")
    reply = bot.fake.responses[-1]
    assert reply["response_type"] == "ephemeral"
    assert "Health score model" in reply["text"] and "Training / education plan" in reply["text"]
    assert "Success milestones" not in reply["text"]
    assert not with_block(bot.channel_messages(), SYNTHESIS)


def test_running_step3_again_resumes_without_duplicating(bot: BotHarness) -> None:
    bot.command("step3")
    answer(bot, "milestones")
    bot.command("step3")
    hub = bot.hub()
    assert _texts(hub).count("Not yet answered") == 2
    bot.click(hub, "edit_milestone:2", "2")
    initial = {
        b["block_id"]: b["element"].get("initial_value") for b in bot.last_view()["blocks"] if b["type"] == "input"
    }
    assert initial["milestones.2.name"] == "Team trained"
    assert initial["milestones.2.definition_of_done"] == "Every seat holder finished the basics course"
    bot.command("status")
    with bot.sessions() as session:
        from storage.models import Plan, PlanSection

        assert session.query(Plan).count() == 1
        assert session.query(PlanSection).count() == 1


def test_running_step3_again_leaves_one_live_hub(bot: BotHarness) -> None:
    bot.command("step3")
    first = bot.hub()
    bot.command("step3")
    second = bot.hub()
    bot.command("step3")
    live = with_block(bot.channel_messages(), HUB)
    assert [m["ts"] for m in live] == [bot.hub()["ts"]] and live[0]["ts"] not in (first["ts"], second["ts"])
    for old, successor in ((first, second), (second, live[0])):
        pointer = bot.fake.message(CHANNEL, old["ts"])
        assert not any(b["type"] == "actions" for b in pointer.get("blocks", []))
        assert "moved" in _texts(pointer) and successor["ts"].replace(".", "") in _texts(pointer)
    threads = [m for m in bot.channel_messages() if "discuss this section" in _texts(m)]
    assert len(threads) == 3, "the section threads are started once"


def test_revise_makes_a_new_version_and_keeps_the_old(bot: BotHarness) -> None:
    bot.command("step3")
    answer_all(bot)
    bot.click(bot.hub(), "review_save")
    bot.click(bot.channel_messages()[-1], "confirm_save")

    bot.click(bot.hub(), "menu_revise")
    chooser = bot.fake.responses[-1]
    assert chooser["response_type"] == "ephemeral"
    bot.click({**chooser, "ts": ""}, "edit_milestone:1", "1")
    assert bot.submit(bot.last_view(), {"milestones.1.definition_of_done": "Production data flows daily"}).body == ""

    bot.click(bot.hub(), "review_save")
    bot.click(bot.channel_messages()[-1], "confirm_save")
    uploads = list(bot.fake.uploads.values())
    assert len(uploads) == 2
    assert "Production data flows daily" in uploads[1]["content"].decode()
    assert "Production data flows through the API" in uploads[0]["content"].decode()
    assert "version 2" in uploads[1]["initial_comment"]


def test_confirming_again_without_changes_adds_no_version(bot: BotHarness) -> None:
    bot.command("step3")
    answer_all(bot)
    bot.click(bot.hub(), "review_save")
    bot.click(bot.channel_messages()[-1], "confirm_save")
    bot.click(with_button(bot.hub(), "review_save"), "review_save")  # the hub offers it only after a change
    second = bot.synthesis()
    bot.click(second, "confirm_save")
    assert len(bot.fake.uploads) == 1
    assert "Nothing changed since version 1" in _texts(bot.fake.message(CHANNEL, second["ts"]))


def test_stale_synthesis_is_not_saved(bot: BotHarness) -> None:
    bot.command("step3")
    answer_all(bot)
    bot.click(bot.hub(), "review_save")
    synthesis = bot.channel_messages()[-1]
    answer(bot, "training", {"community": "A user forum"})
    bot.click(synthesis, "confirm_save")
    assert bot.fake.uploads == {}
    assert "changed after this synthesis" in bot.fake.responses[-1]["text"]


def test_menu_help_is_ephemeral(bot: BotHarness) -> None:
    bot.command("step3")
    bot.click(bot.hub(), "menu_help")
    reply = bot.fake.responses[-1]
    assert reply["response_type"] == "ephemeral"
    for words in ("[C] Continue to Automation Setup", "[R] Revise", "[MH] Menu Help", "/onboarding doc"):
        assert words in reply["text"]


def _has_element(message: dict, action_id: str) -> bool:
    return any(e.get("action_id") == action_id for b in message["blocks"] for e in b.get("elements", []))


def _milestone_names(hub: dict) -> list[str]:
    return [
        b["text"]["text"]
        for b in hub["blocks"]
        if b.get("accessory", {}).get("action_id", "").startswith("edit_milestone:")
    ]


def test_each_milestone_has_its_own_short_form(bot: BotHarness) -> None:
    bot.command("step3")
    bot.click(bot.hub(), "add_milestone", "add")
    view = bot.last_view()
    inputs = [b["block_id"] for b in view["blocks"] if b["type"] == "input"]
    assert inputs == [
        "milestones.0.name", "milestones.0.description", "milestones.0.timeline_days", "milestones.0.timeline_note",
        "milestones.0.definition_of_done", "milestones.0.points_on_time", "milestones.0.points_missed",
        "milestones.0.impact_note",
    ]  # fmt: skip
    assert view["title"]["text"] == "New milestone"
    assert bot.submit(view, milestone_rows(MILESTONES)[0]).body == ""
    hub = bot.hub()
    assert _milestone_names(hub) == ["1. Kickoff held · due on day 7"]
    assert "1 milestone so far: add at least 2 more" in _texts(hub)
    assert _menu(hub) == ["[MH] Menu Help"], "a plan needs three milestones before it can be reviewed"

    open_section(bot, "milestones")
    across = [b["block_id"] for b in bot.last_view()["blocks"] if b["type"] == "input"]
    assert across == ["retention_correlation", "missed_deadline_policy"]


def test_any_milestone_can_be_removed_and_the_rest_keep_their_answers(bot: BotHarness) -> None:
    bot.command("step3")
    answer(bot, "milestones")
    menu = next(e for b in bot.hub()["blocks"] if b["type"] == "actions" for e in b["elements"]
                if e["action_id"] == "remove_milestone")  # fmt: skip
    assert menu["confirm"]["style"] == "danger", "removing asks first"
    second = next(o for o in menu["options"] if o["text"]["text"].startswith("2."))
    before = copy.deepcopy(bot.hub())
    bot.click(bot.hub(), "remove_milestone", selected=second["value"])
    assert _milestone_names(bot.hub()) == ["1. Kickoff held · due on day 7", "2. Team trained · due on day 45"]
    bot.click(bot.hub(), "edit_milestone:1", "1")
    initial = {
        b["block_id"]: b["element"].get("initial_value") for b in bot.last_view()["blocks"] if b["type"] == "input"
    }
    assert initial["milestones.1.definition_of_done"] == "Every seat holder finished the basics course"

    # A menu shown before that removal names milestones by their old places: it changes nothing.
    bot.click(before, "remove_milestone", selected=second["value"])
    assert "changed after this message was shown" in bot.fake.responses[-1]["text"]
    assert len(_milestone_names(bot.hub())) == 2


def test_five_milestones_are_saved_and_a_sixth_is_not_offered(bot: BotHarness) -> None:
    bot.command("step3")
    extra = {
        "milestones.3.name": "Executive review",
        "milestones.3.timeline_days": 60,
        "milestones.3.definition_of_done": "QBR held",
        "milestones.4.name": "Expansion discussed",
        "milestones.4.timeline_days": 90,
        "milestones.4.definition_of_done": "Upsell call booked",
    }
    assert answer(bot, "milestones", {**MILESTONES, **extra}).body == ""
    assert [name.split(" · ")[0] for name in _milestone_names(bot.hub())] == [
        "1. Kickoff held",
        "2. First integration live",
        "3. Team trained",
        "4. Executive review",
        "5. Expansion discussed",
    ]
    assert not _has_element(bot.hub(), "add_milestone"), "five is the most a plan may have"


def test_status_and_doc_commands(bot: BotHarness) -> None:
    response = bot.command("status")
    assert "no onboarding plan yet" in response.json()["text"]
    bot.command("step3")
    answer(bot, "health")
    status = bot.command("status").json()["text"]
    assert "Health score model: answered" in status and "Success milestones: not yet answered" in status
    assert "No plan document yet" in bot.command("doc").json()["text"]

    answer(bot, "milestones")
    answer(bot, "training")
    bot.click(bot.hub(), "review_save")
    bot.click(bot.channel_messages()[-1], "confirm_save")
    assert "`step-03-success-milestones`" in bot.command("status").json()["text"]
    assert bot.command("doc").status == 200
    assert len(bot.fake.uploads) == 2


def test_help_and_unknown_subcommands(bot: BotHarness) -> None:
    help_text = bot.command("help").json()["text"]
    for name in ("step3", "status", "doc", "help"):
        assert f"/onboarding {name}" in help_text
    assert bot.command("").json()["text"] == help_text
    unknown = bot.command("frobnicate now").json()["text"]
    assert "I don't know `frobnicate`" in unknown and "/onboarding step3" in unknown
    assert "quote is not closed" in bot.command('customer add "Acme').json()["text"]


def test_custom_factors_are_added_one_at_a_time(bot: BotHarness) -> None:
    bot.command("step3")
    view = open_section(bot, "health")
    ids = [b["block_id"] for b in view["blocks"] if b["type"] == "input"]
    assert not any(i.startswith("custom_factors.") for i in ids), "no empty factor rows in every form"
    bot.click_in_view(view, "add_factor", {"weights.adoption": 35})
    added = bot.last_view()
    ids = [b["block_id"] for b in added["blocks"] if b["type"] == "input"]
    assert [i for i in ids if i.startswith("custom_factors.")] == ["custom_factors.0.name", "custom_factors.0.weight"]
    kept = next(b for b in added["blocks"] if b.get("block_id") == "weights.adoption")
    assert kept["element"]["initial_value"] == "35", "what was typed survives the new row"
    bot.click_in_view(added, "remove_factor", {})
    assert not any(b.get("block_id", "").startswith("custom_factors.") for b in bot.last_view()["blocks"])


def test_the_team_names_its_plan(bot: BotHarness) -> None:
    bot.command("step3")
    refused = bot.command("rename").json()["text"]
    assert "Give the plan a name" in refused
    reply = bot.command('rename "Acme <rollout> 2027"').json()
    assert reply.get("response_type") != "in_channel" and "*Acme &lt;rollout&gt; 2027*" in json.dumps(reply)
    assert "Plan *Acme &lt;rollout&gt; 2027*" in _texts(bot.hub())
    answer_all(bot)
    bot.click(bot.hub(), "review_save")
    bot.click(bot.synthesis(), "confirm_save")
    document = next(iter(bot.fake.uploads.values()))["content"].decode()
    assert "# Onboarding Flow: Acme <rollout> 2027" in document
    assert "x" * 101 not in bot.command(f"rename {'x' * 101}").json()["text"]
    assert "Plan *Acme &lt;rollout&gt; 2027*" in _texts(bot.hub()), "a refused name changes nothing"


def test_the_hub_says_when_answers_changed_since_the_saved_document(bot: BotHarness) -> None:
    bot.command("step3")
    answer_all(bot)
    assert "Changed since the saved document" not in _texts(bot.hub()), "nothing is saved yet"
    bot.click(bot.hub(), "review_save")
    bot.click(bot.synthesis(), "confirm_save")
    assert "Changed since the saved document" not in _texts(bot.hub())
    edit_milestone(bot, 0, {"milestones.0.name": "Kickoff call held"}, user=BOB)
    edit_milestone(bot, 1, {"milestones.1.timeline_days": 35}, user=BOB)
    hub = bot.hub()
    assert f"Changed since the saved document (version 1): 2 changes by <@{BOB}>" in _texts(hub)
    review = [e for b in hub["blocks"] if b.get("block_id") == "menu" for e in b["elements"]]
    assert review[0]["action_id"] == "review_save" and review[0].get("style") == "primary"
    bot.click(hub, "review_save")
    bot.click(bot.synthesis(), "confirm_save")
    assert "Changed since the saved document" not in _texts(bot.hub()), "saved again: the document is current"


def test_weekly_updates_ask_the_weekday_and_the_document_states_it(bot: BotHarness) -> None:
    bot.command("step3")
    answer(bot, "milestones")
    answer(bot, "health", {**HEALTH, "update_weekday": "wednesday"})
    answer(bot, "training")
    bot.click(bot.hub(), "review_save")
    assert "updates weekly on Wednesday at 09:00" in _texts(bot.synthesis())
    bot.click(bot.synthesis(), "confirm_save")
    document = next(iter(bot.fake.uploads.values()))["content"].decode()
    assert "**Update cadence:** Weekly on Wednesday at 09:00 (Europe/Berlin)" in document
