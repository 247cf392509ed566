"""Threads collect discussion: replies recorded, shown in the forms, folded into the plan; no lost edits."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sandbox import payloads as sr
from sandbox.payloads import ALICE, BOB, CHANNEL
from tests.support.answers import HEALTH, MILESTONES, answer, answer_all, complete_step3, edit_milestone, open_section
from tests.support.harness import BotHarness


def _texts(message: dict[str, Any]) -> str:
    return "\n".join(b["text"]["text"] for b in message.get("blocks", []) if b.get("type") == "section")


def _thread(bot: BotHarness, title: str) -> str:
    starters = [m for m in bot.channel_messages() if m.get("text") == f"Discussion: {title}"]
    assert len(starters) == 1, f"expected one thread for {title}, found {len(starters)}"
    return starters[0]["ts"]


def _reply(bot: BotHarness, thread_ts: str, text: str, user: str = BOB, **extra: Any) -> str:
    ts = f"{datetime.now(UTC).timestamp() + len(bot.fake.calls):.6f}"
    event = {
        "type": "message", "channel": CHANNEL, "user": user, "text": text, "ts": ts, "thread_ts": thread_ts,
        "parent_user_id": "UBOTHARNS", "event_ts": ts, "channel_type": "channel", "team": sr.TEAM, **extra,
    }  # fmt: skip
    assert bot.event(event).status == 200
    return ts


def _replies(bot: BotHarness) -> list[Any]:
    with bot.sessions() as session:
        from storage.models import DiscussionMessage

        return session.query(DiscussionMessage).order_by(DiscussionMessage.id).all()


def test_each_section_gets_one_thread(bot: BotHarness) -> None:
    bot.command("step3")
    bot.command("step3")
    for title in ("Success milestones", "Health score model", "Training / education plan"):
        _thread(bot, title)


def test_thread_replies_are_recorded_edited_and_deleted(bot: BotHarness) -> None:
    bot.command("step3")
    thread = _thread(bot, "Success milestones")
    ts = _reply(bot, thread, "Done should mean the first invoice is paid")
    [reply] = _replies(bot)
    assert (reply.user_id, reply.text, reply.section) == (
        BOB,
        "Done should mean the first invoice is paid",
        "milestones",
    )
    assert reply.permalink and reply.permalink.startswith("https://")

    edited = {
        "type": "message", "subtype": "message_changed", "hidden": True, "channel": CHANNEL, "ts": ts + "1",
        "event_ts": ts + "1", "channel_type": "channel",
        "message": {"type": "message", "user": BOB, "text": "Done should mean two invoices are paid", "ts": ts,
                    "thread_ts": thread, "edited": {"user": BOB, "ts": ts + "1"}},
        "previous_message": {"type": "message", "user": BOB, "text": "Done should mean the first invoice is paid",
                             "ts": ts, "thread_ts": thread},
    }  # fmt: skip
    bot.event(edited)
    [reply] = _replies(bot)
    assert reply.text == "Done should mean two invoices are paid" and reply.edited_at is not None

    deleted = {
        "type": "message", "subtype": "message_deleted", "hidden": True, "channel": CHANNEL, "ts": ts + "2",
        "deleted_ts": ts, "event_ts": ts + "2", "channel_type": "channel",
        "previous_message": {"type": "message", "user": BOB, "text": "x", "ts": ts, "thread_ts": thread},
    }  # fmt: skip
    bot.event(deleted)
    [reply] = _replies(bot)
    assert reply.deleted_at is not None
    assert "two invoices" not in str(open_section(bot, "milestones")["blocks"])


def test_only_peoples_replies_in_plan_threads_count(bot: BotHarness) -> None:
    bot.command("step3")
    thread = _thread(bot, "Health score model")
    _reply(bot, thread, "from a bot", user="U0OTHERBOT", bot_id="B0OTHER01")
    _reply(bot, thread, "from this bot", user="UBOTHARNS")
    _reply(bot, "1796000000.000001", "a thread that is not the plan's")
    top_level = {"type": "message", "channel": CHANNEL, "user": BOB, "text": "hi all", "ts": "1796000200.000100",
                 "event_ts": "1796000200.000100", "channel_type": "channel"}  # fmt: skip
    bot.event(top_level)
    joined = {"type": "message", "subtype": "channel_join", "channel": CHANNEL, "user": BOB, "text": "joined",
              "ts": "1796000201.000100", "thread_ts": thread}  # fmt: skip
    bot.event(joined)
    assert _replies(bot) == []


def test_a_redelivered_reply_is_stored_once(bot: BotHarness) -> None:
    bot.command("step3")
    thread = _thread(bot, "Success milestones")
    event = {"type": "message", "channel": CHANNEL, "user": BOB, "text": "same", "ts": "1796000300.000100",
             "thread_ts": thread, "event_ts": "1796000300.000100", "channel_type": "channel"}  # fmt: skip
    bot.event(event, event_id="Ev0SAME001")
    bot.event(event, event_id="Ev0SAME001", headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})
    bot.event(event, event_id="Ev0SAME002")  # a different delivery of the same message
    assert len(_replies(bot)) == 1


def test_the_form_shows_the_latest_discussion_first(bot: BotHarness) -> None:
    bot.command("step3")
    thread = _thread(bot, "Success milestones")
    _reply(bot, thread, "first thought")
    _reply(bot, thread, "<!channel> second thought", user=ALICE)
    blocks = open_section(bot, "milestones")["blocks"]
    text = str(blocks)
    assert "Latest in this section's thread" in text
    assert text.index("second thought") < text.index("first thought")
    assert "&lt;!channel&gt; second thought" in text and "<!channel>" not in text


def test_saved_changes_are_announced_in_the_sections_thread(bot: BotHarness) -> None:
    bot.command("step3")
    answer(bot, "milestones")
    # A modal is one person's: Bob opens his own.
    edit_milestone(bot, 1, {"milestones.1.definition_of_done": "Data flows <daily> & reliably"}, user=BOB)
    bot.tick()
    thread = _thread(bot, "Success milestones")
    announcements = [_texts(c.args) for c in bot.fake.calls_to("chat.postMessage") if c.args.get("thread_ts") == thread]
    # The first save, each milestone added in one line, the questions across milestones, then Bob's change.
    assert len(announcements) == 5
    assert f"<@{ALICE}> added *Milestone 2* “First integration live” to *Success milestones*." in announcements[1]
    text = announcements[-1]
    assert f"<@{BOB}> changed *Success milestones* (version 5)" in text
    assert (
        "*Milestone 2 · definition of done*: “Production data flows through the API” → "
        "“Data flows &lt;daily&gt; &amp; reliably”"
    ) in text
    history = bot.command("history").json()["text"]
    assert f"<@{BOB}> · Success milestones (version 5): Milestone 2 (definition of done)" in history


def test_announcements_and_history_speak_in_labels_and_mentions(bot: BotHarness) -> None:
    bot.command("step3")
    answer(bot, "milestones")
    answer(bot, "health")
    answer(bot, "health", {**HEALTH, "cadence": "monthly", "monitors": [BOB]})
    bot.tick()
    thread = _thread(bot, "Health score model")
    first, second = [c.args for c in bot.fake.calls_to("chat.postMessage") if c.args.get("thread_ts") == thread]
    # A first save is one line, not every field "empty → value".
    assert _texts(first).count("\n") == 0 and f"<@{ALICE}> answered *Health score model*" in _texts(first)
    milestones = next(
        c.args
        for c in bot.fake.calls_to("chat.postMessage")
        if c.args.get("thread_ts") == _thread(bot, "Success milestones")
    )
    assert "answered *Success milestones*: 1 milestone" in _texts(milestones)
    changed = _texts(second)
    assert "*Update cadence*: “Weekly” → “Monthly”" in changed
    assert f"*Monitors*: <@{ALICE}>, <@{BOB}> → <@{BOB}>" in changed
    assert "weekly" not in changed and "U0ALICE01," not in changed
    history = bot.command("history").json()["text"]
    lines = [line for line in history.splitlines() if line.startswith("•")]
    assert len(lines) == 6, "one line per save: 3 milestones, the questions across them, 2 health saves"
    assert f"<@{ALICE}> · Health score model (version 2): Update cadence, Monitors" in lines[0]


def _form(bot: BotHarness, index: int, user: str = ALICE) -> dict[str, Any]:
    bot.click(bot.hub(), f"edit_milestone:{index}", str(index), user=user)
    return bot.last_view()


def _saved_milestones(bot: BotHarness) -> tuple[int, list[dict[str, Any]]]:
    with bot.sessions() as session:
        from storage.models import PlanSection

        row = session.query(PlanSection).filter_by(section="milestones").one()
        return row.version, row.answers["milestones"]


def test_edits_of_different_fields_made_at_the_same_time_are_all_saved(bot: BotHarness) -> None:
    bot.command("step3")
    answer(bot, "milestones")
    version, _ = _saved_milestones(bot)
    alices_first, alices_third, bobs_first = _form(bot, 0), _form(bot, 2), _form(bot, 0, user=BOB)
    assert bot.submit(bobs_first, {"milestones.0.name": "Kickoff call held"}, user=BOB).body == ""
    # Alice's forms were opened before Bob saved: what she changed is merged with his change, not refused.
    assert bot.submit(alices_third, {"milestones.2.timeline_days": 50}).body == ""
    assert bot.submit(alices_first, {"milestones.0.description": "Sponsor, champion and CSM meet"}).body == ""
    saved_version, milestones = _saved_milestones(bot)
    assert saved_version == version + 3
    assert milestones[0]["name"] == "Kickoff call held"
    assert milestones[0]["description"] == "Sponsor, champion and CSM meet"
    assert milestones[2]["timeline_days"] == 50


def test_a_field_both_people_changed_keeps_the_saved_value_and_the_typed_one(bot: BotHarness) -> None:
    bot.command("step3")
    answer(bot, "milestones")
    alices, bobs = _form(bot, 0), _form(bot, 0, user=BOB)
    bot.submit(bobs, {"milestones.0.name": "Kickoff call held"}, user=BOB)
    version, _ = _saved_milestones(bot)

    refused = bot.submit(alices, {"milestones.0.name": "Kickoff meeting", "milestones.0.timeline_days": 10}).json()
    assert refused["response_action"] == "update"
    form = refused["view"]
    banner = str(form["blocks"][0])
    assert f"<@{BOB}> saved this section while you were editing" in banner and "1 answer" in banner
    name = next(b for b in form["blocks"] if b.get("block_id") == "milestones.0.name")
    assert name["element"]["initial_value"] == "Kickoff meeting", "what Alice typed is kept"
    assert name["hint"]["text"] == "Saved meanwhile: Kickoff call held"
    saved_version, milestones = _saved_milestones(bot)
    assert saved_version == version + 1, "Alice's other change is saved"
    assert milestones[0]["name"] == "Kickoff call held" and milestones[0]["timeline_days"] == 10

    # Saving the refreshed form (which carries the current version) applies her name after all.
    bot.fake.views[alices["id"]] = {**bot.fake.views[alices["id"]], **form}
    assert bot.submit(bot.fake.views[alices["id"]], {}).body == ""
    assert _saved_milestones(bot)[1][0]["name"] == "Kickoff meeting"


def test_a_milestone_removed_while_its_form_was_open_is_not_overwritten(bot: BotHarness) -> None:
    bot.command("step3")
    answer(bot, "milestones")
    alices = _form(bot, 2)
    menu = next(e for b in bot.hub()["blocks"] if b["type"] == "actions" for e in b["elements"]
                if e["action_id"] == "remove_milestone")  # fmt: skip
    bot.click(bot.hub(), "remove_milestone", selected=menu["options"][0]["value"], user=BOB)
    errors = bot.submit(alices, {"milestones.2.timeline_days": 50}).json()["errors"]
    assert "removed while this form was open" in errors["milestones.2.name"]
    assert [m["name"] for m in _saved_milestones(bot)[1]] == ["First integration live", "Team trained"]


def _shortcut(bot: BotHarness, message: dict[str, Any], channel: str = CHANNEL, user: str = ALICE) -> None:
    payload = sr.message_shortcut(message, response_url=bot.response_url, channel=channel, user=user)
    assert bot.interact(payload).status == 200


def test_a_message_is_folded_into_the_plan_and_credited(bot: BotHarness) -> None:
    bot.command("step3")
    answer(bot, "milestones")
    thread = _thread(bot, "Success milestones")
    ts = _reply(bot, thread, "Done means the first invoice is paid")
    message = {"type": "message", "user": BOB, "text": "Done means the first invoice is paid", "ts": ts,
               "thread_ts": thread, "team": sr.TEAM}  # fmt: skip
    _shortcut(bot, message)
    view = bot.last_view()
    assert view["title"]["text"] == "Add to plan"
    options = [o["value"] for g in view["blocks"][1]["element"]["option_groups"] for o in g["options"]]
    assert "milestones:milestones.1.definition_of_done" in options
    assert not any("timeline_days" in o for o in options), "only free-text fields"
    result = bot.submit(view, {"field": "milestones:milestones.1.definition_of_done", "mode": "replace"})
    assert result.body == ""
    with bot.sessions() as session:
        from storage.models import PlanChange, PlanSection

        assert session.query(PlanSection).one().answers["milestones"][1]["definition_of_done"] == (
            "Done means the first invoice is paid"
        )
        change = session.query(PlanChange).order_by(PlanChange.id.desc()).first()
        assert change.source_user_id == BOB and change.source_permalink.startswith("https://")
        assert change.user_id == ALICE
    bot.tick()
    announcement = [c.args for c in bot.fake.calls_to("chat.postMessage") if c.args.get("thread_ts") == thread][-1]
    assert f"from <@{BOB}>'s message" in str(announcement["blocks"])
    assert f"from <@{BOB}>'s message" in bot.command("history").json()["text"]


def test_the_shortcut_appends_and_refuses_what_it_cannot_do(bot: BotHarness) -> None:
    bot.fake.add_channel("C0OTHER01", name="elsewhere")
    bot.command("step3")
    message = {"type": "message", "user": BOB, "text": "Weekly office hours", "ts": "1796000400.000100"}
    _shortcut(bot, message)
    assert "Answer a section of Step 3 first" in bot.fake.responses[-1]["text"]
    answer(bot, "training")
    _shortcut(bot, message, channel="C0OTHER01")
    assert "This channel has no onboarding plan" in bot.fake.responses[-1]["text"]
    _shortcut(bot, {**message, "bot_id": "B0X", "user": None})
    assert "Only messages people wrote" in bot.fake.responses[-1]["text"]

    _shortcut(bot, message)
    view = bot.last_view()
    assert bot.submit(view, {"field": "training:schedule_curriculum", "mode": "append"}).body == ""
    with bot.sessions() as session:
        from storage.models import PlanSection

        saved = session.query(PlanSection).one().answers["schedule_curriculum"]
    assert saved == "Weekly webinar on Tuesdays covering admin basics\nWeekly office hours"
    # The form was opened on the version before that save: a second submit is refused, not applied on top.
    refused = bot.submit(view, {"field": "training:schedule_curriculum", "mode": "replace"}).json()
    assert refused["response_action"] == "errors" and "nothing was saved" in refused["errors"]["field"]


def test_discussion_notes_appear_only_for_threads_with_replies(bot: BotHarness) -> None:
    bot.command("step3")
    _reply(bot, _thread(bot, "Health score model"), "Weight adoption higher")
    answer_all(bot)
    bot.click(bot.hub(), "review_save")
    bot.click(bot.synthesis(), "view_synthesis")
    text = str(bot.last_view()["blocks"])
    bot.click(bot.synthesis(), "confirm_save")
    assert "*Health score model:* 1 reply in the team's Slack thread <https://" in text
    assert "*Success milestones:* " not in text and "*Training / education plan:* " not in text
    document = next(iter(bot.fake.uploads.values()))["content"].decode()
    assert "### Discussion" in document
    assert "- **Health score model:** 1 reply in the team's Slack thread ([open the thread](https://" in document
    assert document.count("### Discussion") == 1


def test_the_channel_canvas_mirrors_every_saved_version(bot: BotHarness) -> None:
    complete_step3(bot)
    assert len(bot.fake.calls_to("conversations.canvases.create")) == 1
    [canvas] = bot.fake.canvases.values()
    assert canvas["channel_id"] == CHANNEL and "# Onboarding Flow: onboarding-acme" in canvas["markdown"]
    assert "stepsCompleted" not in canvas["markdown"]  # frontmatter is for the file, not the canvas
    answer(bot, "training", {"community": "A customer forum"})
    bot.click(bot.hub(), "review_save")
    bot.click(bot.channel_messages()[-1], "confirm_save")
    assert len(bot.fake.calls_to("conversations.canvases.create")) == 1
    assert len(bot.fake.calls_to("canvases.edit")) == 1
    assert "A customer forum" in next(iter(bot.fake.canvases.values()))["markdown"]
    assert len(bot.fake.uploads) == 2  # the file is posted as well


def test_without_channel_canvases_the_bot_says_so_once(bot: BotHarness) -> None:
    bot.fake.fail("conversations.canvases.create", "team_tier_cannot_create_channel_canvases")
    complete_step3(bot)
    notices = [m for m in bot.channel_messages() if "team_tier_cannot_create_channel_canvases" in str(m.get("blocks"))]
    assert len(notices) == 1
    answer(bot, "training", {"community": "A customer forum"})
    bot.click(bot.hub(), "review_save")
    bot.click(bot.channel_messages()[-1], "confirm_save")
    assert len(bot.fake.calls_to("conversations.canvases.create")) == 1  # not asked again
    notices = [m for m in bot.channel_messages() if "team_tier_cannot_create_channel_canvases" in str(m.get("blocks"))]
    assert len(notices) == 1
    assert len(bot.fake.uploads) == 2


def test_every_document_version_stays_exportable(bot: BotHarness, database_url: str, monkeypatch, capsys) -> None:
    from bot.cli import main

    complete_step3(bot)
    answer(bot, "milestones", {**MILESTONES, "milestones.0.name": "Kickoff done"})
    bot.click(bot.hub(), "review_save")
    bot.click(bot.channel_messages()[-1], "confirm_save")
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert main(["export", "--channel", CHANNEL, "--version", "1"]) == 0
    assert "Milestone 1: Kickoff held" in capsys.readouterr().out
    assert main(["export", "--channel", CHANNEL, "--version", "2"]) == 0
    assert "Milestone 1: Kickoff done" in capsys.readouterr().out


def test_a_message_too_long_for_the_form_is_refused(bot: BotHarness) -> None:
    bot.command("step3")
    answer(bot, "training")
    _shortcut(bot, {"type": "message", "user": BOB, "text": '"quoted" ' * 400, "ts": "1796000500.000100"})
    assert "too long to add here" in bot.fake.responses[-1]["text"]
    assert bot.fake.calls_to("views.open")[-1].args["view"]["title"]["text"] != "Add to plan"
