"""The sandbox without a browser: Slack's side of what a person does (Workspace), the page's parts, the command.

The Workspace talks to the real app over HTTP (the harness serves it through waitress), so these tests see exactly
what the page would show after each action.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sandbox import workspace as workspace_module
from sandbox.payloads import ALICE, BOB, CHANNEL, SIGNING_SECRET
from sandbox.slack_api import FakeSlack
from sandbox.web import Page, make_server, serve_in_thread
from sandbox.workspace import Workspace, seed
from tests.support.answers import HEALTH, MILESTONES, milestone_rows
from tests.support.harness import BotHarness

pytestmark = pytest.mark.http  # the Workspace reaches the app over HTTP, as Slack does


@pytest.fixture
def ws(bot: BotHarness) -> Workspace:
    return Workspace(bot.fake, bot.url + "/slack/events", SIGNING_SECRET)


def _done(bot: BotHarness) -> None:
    bot.executor.wait_idle()  # the listener work after the ack


def _hub(bot: BotHarness) -> dict[str, Any]:
    _done(bot)
    return bot.hub()


def test_a_slash_commands_answer_is_shown_only_to_whoever_typed_it(bot: BotHarness, ws: Workspace) -> None:
    ws.command(ALICE, CHANNEL, "/onboarding help")
    _done(bot)
    (shown,) = bot.fake.ephemerals_for(CHANNEL, ALICE)
    assert "/onboarding step3" in json.dumps(shown)
    assert bot.fake.ephemerals_for(CHANNEL, BOB) == []
    assert ws.notices == []


def test_another_command_is_refused_as_slack_refuses_it(bot: BotHarness, ws: Workspace) -> None:
    ws.command(ALICE, CHANNEL, "/remind me")
    assert [n.text for n in ws.notices] == ["/remind is not a valid command. This workspace's app has /onboarding."]
    assert bot.fake.calls == [] or all(c.method == "auth.test" for c in bot.fake.calls)


def test_a_form_opens_for_its_person_keeps_errors_and_closes_when_saved(bot: BotHarness, ws: Workspace) -> None:
    ws.command(ALICE, CHANNEL, "/onboarding step3")
    hub = _hub(bot)
    ws.click(ALICE, CHANNEL, hub["ts"], "add_milestone", value="add")
    _done(bot)
    (view,) = bot.fake.modal_stack(ALICE)
    assert bot.fake.modal_stack(BOB) == []

    first = milestone_rows(MILESTONES)[0]
    ws.submit(ALICE, view["id"], {**first, "milestones.0.timeline_days": -5})
    assert set(ws.view_errors[view["id"]]) >= {"milestones.0.timeline_days"}
    assert bot.fake.modal_stack(ALICE) != [], "the form stays open with its errors"

    ws.submit(ALICE, view["id"], first)
    assert bot.fake.modal_stack(ALICE) == []
    assert view["id"] not in ws.view_errors


def test_typing_in_a_time_zone_search_asks_the_app_and_shows_its_options(bot: BotHarness, ws: Workspace) -> None:
    ws.command(ALICE, CHANNEL, "/onboarding step3")
    ws.click(ALICE, CHANNEL, _hub(bot)["ts"], "open_section:health", value="health")
    _done(bot)
    (view,) = bot.fake.modal_stack(ALICE)
    asked = len(bot.fake.calls)
    assert ws.suggest(ALICE, view["id"], "timezone", "t", {}) == [], "Slack waits for min_query_length characters"
    found = ws.suggest(ALICE, view["id"], "timezone", "tokyo", {})
    assert [o["value"] for o in found] == ["Asia/Tokyo"] and ws.notices == []
    assert len(bot.fake.calls) == asked, "options come in the answer to the request, not through the Web API"

    # The form shows no custom factor rows until one is added: its weight goes to adoption instead.
    answers = {k: v for k, v in HEALTH.items() if not k.startswith("custom_factors.")} | {"weights.adoption": 50}
    ws.submit(ALICE, view["id"], {**answers, "timezone": found[0]})
    assert bot.fake.modal_stack(ALICE) == [] and view["id"] not in ws.view_errors


def test_a_thread_reply_reaches_the_app_through_the_events_api(bot: BotHarness, ws: Workspace) -> None:
    ws.command(ALICE, CHANNEL, "/onboarding step3")
    _done(bot)
    thread = next(m for m in bot.fake.messages(CHANNEL) if "discuss this section" in json.dumps(m))
    ws.say(BOB, CHANNEL, "Kickoff in week one, please", thread_ts=thread["ts"])
    _done(bot)
    ws.click(ALICE, CHANNEL, bot.hub()["ts"], "open_section:milestones", value="milestones")
    _done(bot)
    assert "Kickoff in week one, please" in json.dumps(bot.fake.modal_stack(ALICE))


def test_an_app_that_does_not_answer_in_time_gets_slacks_timeout(
    fake: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(workspace_module, "ACK_TIMEOUT", 0.3)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # accepts connections, never answers
        ws = Workspace(fake, f"http://127.0.0.1:{silent.getsockname()[1]}/slack/events", SIGNING_SECRET)
        ws.command(ALICE, CHANNEL, "/onboarding help")
    assert "operation_timeout" in ws.notices[-1].text
    assert fake.ephemerals_for(CHANNEL, ALICE) == []


def _modal(blocks: list[dict[str, Any]] | None = None, title: str = "Form") -> dict[str, Any]:
    inputs = [{"type": "input", "block_id": "name", "label": {"type": "plain_text", "text": "Name"},
               "element": {"type": "plain_text_input", "action_id": "value"}}]  # fmt: skip
    return {"type": "modal", "title": {"type": "plain_text", "text": title},
            "submit": {"type": "plain_text", "text": "Save"}, "blocks": blocks or inputs}  # fmt: skip


def _opened(fake: FakeSlack) -> str:
    trigger = fake.issue_trigger_id(user=ALICE)
    fake._handle_api("views.open", {"trigger_id": trigger, "view": _modal()}, "xoxb-test")
    return str(fake.modal_stack(ALICE)[-1]["id"])


def test_a_trigger_opens_a_modal_only_within_three_seconds(fake: FakeSlack, monkeypatch: pytest.MonkeyPatch) -> None:
    trigger = fake.issue_trigger_id(user=ALICE)
    monkeypatch.setattr(time, "time", lambda: fake._trigger_times[trigger] + 3.5)
    answer = fake._handle_api("views.open", {"trigger_id": trigger, "view": _modal()}, "xoxb-test")
    assert answer.body == {"ok": False, "error": "expired_trigger_id"}
    assert fake.modal_stack(ALICE) == []
    fake.take_problems()


def test_response_actions_act_on_the_modal_as_slack_does(fake: FakeSlack) -> None:
    view_id = _opened(fake)
    assert fake.answer_submission(view_id, {"response_action": "errors", "errors": {"name": "Too short"}}) == {
        "name": "Too short"
    }
    fake.answer_submission(view_id, {"response_action": "update", "view": _modal(title="Updated")})
    assert [v["title"]["text"] for v in fake.modal_stack(ALICE)] == ["Updated"]
    fake.answer_submission(view_id, {"response_action": "push", "view": _modal(title="Pushed")})
    assert [v["title"]["text"] for v in fake.modal_stack(ALICE)] == ["Updated", "Pushed"]
    fake.answer_submission(fake.modal_stack(ALICE)[-1]["id"], {"response_action": "clear"})
    assert fake.modal_stack(ALICE) == []
    assert fake.problems == []

    view_id = _opened(fake)
    fake.answer_submission(view_id, {"response_action": "errors", "errors": {"nope": "x"}})
    assert fake.take_problems() == ["view_submission: errors names 'nope', which is not an input block"]
    fake.answer_submission(view_id, None)
    assert fake.modal_stack(ALICE) == []


def test_what_an_app_posts_to_a_response_url_shows_where_slack_shows_it(fake: FakeSlack) -> None:
    fake.start()
    try:
        original = fake.post_as_user(CHANNEL, ALICE, "hello")

        def respond(url: str, body: dict[str, Any]) -> None:
            request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
            urllib.request.urlopen(request, timeout=5).close()

        respond(fake.issue_response_url(CHANNEL, ALICE), {"text": "only you"})
        assert [e["text"] for e in fake.ephemerals_for(CHANNEL, ALICE)] == ["only you"]
        respond(fake.issue_response_url(CHANNEL, ALICE), {"text": "everyone", "response_type": "in_channel"})
        assert [m["text"] for m in fake.messages(CHANNEL)] == ["hello", "everyone"]
        url = fake.issue_response_url(CHANNEL, ALICE, message_ts=original["ts"])
        respond(url, {"text": "replaced", "replace_original": True})
        assert [m["text"] for m in fake.messages(CHANNEL)] == ["replaced", "everyone"]
        respond(url, {"delete_original": True})
        assert [m["text"] for m in fake.messages(CHANNEL)] == ["everyone"]
    finally:
        fake.stop()


def test_the_page_marks_ephemeral_messages_and_shows_slacks_refusals(fake: FakeSlack) -> None:
    seed(fake)
    ws = Workspace(fake, "http://127.0.0.1:9/slack/events", SIGNING_SECRET)
    fake.show_ephemeral(CHANNEL, ALICE, {"text": "just for <@U0ALICE01>"})
    fake.show_ephemeral(CHANNEL, ALICE, {"blocks": [{"type": "nonsense"}]})
    page = Page(ws)
    alice = page.state(ALICE, CHANNEL, None)
    assert "Only visible to you" in alice["messages"] and "@Alice Example" in alice["messages"]
    assert "Only visible to you" not in page.state(BOB, CHANNEL, None)["messages"]
    assert "Slack rejected a call from the app" in alice["banner"]
    ws.dismiss()
    assert page.state(ALICE, CHANNEL, None)["banner"] == ""


def test_the_page_refuses_what_it_does_not_know(fake: FakeSlack) -> None:
    seed(fake)
    server = make_server(Workspace(fake, "http://127.0.0.1:9/slack/events", SIGNING_SECRET), "127.0.0.1", 0)
    serve_in_thread(server)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        json_type = {"Content-Type": "application/json"}
        for body in ({"kind": "format-disk", "user": ALICE}, {"kind": "dismiss", "user": "U0INTRUDER"}, "[1]"):
            request = urllib.request.Request(f"{url}/ui/act", json.dumps(body).encode(), json_type, method="POST")
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(request, timeout=5)
            assert refused.value.code == 400
        # Another site's page: a simple (non-JSON) POST, or a request under a rebound host name.
        for headers, status in (({"Content-Type": "text/plain"}, 415), ({**json_type, "Host": "evil.example"}, 403)):
            body = json.dumps({"kind": "dismiss", "user": ALICE}).encode()
            request = urllib.request.Request(f"{url}/ui/act", body, headers, method="POST")
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(request, timeout=5)
            assert refused.value.code == status
        for path in ("/static/../web.py", "/static/nothing.js", "/files/F404", "/elsewhere"):
            with pytest.raises(urllib.error.HTTPError) as missing:
                urllib.request.urlopen(url + path, timeout=5)
            assert missing.value.code == 404
        with urllib.request.urlopen(url + "/static/sandbox.js", timeout=5) as script:
            assert script.headers["Content-Type"].startswith("text/javascript")
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def no_slack_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    names = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET")
    yield {k: v for k, v in os.environ.items() if k not in names and k != "DATABASE_URL"}


def test_the_sandbox_command_prints_where_to_go_and_serves_the_page(tmp_path: Path, no_slack_env: dict) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "sandbox", "--port", "0", "--dir", str(tmp_path / "sandbox")],
        cwd=tmp_path, env=no_slack_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("onboarding-bot sandbox: open http://127.0.0.1:"), line
        assert "SLACK_BOT_TOKEN" in line  # how to connect a real workspace instead
        address = line.split("open ", 1)[1].split(" ", 1)[0]
        with urllib.request.urlopen(address, timeout=10) as page:
            assert "onboarding-bot sandbox" in page.read().decode()
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    assert (tmp_path / "sandbox" / "onboarding-bot.db").exists()
    assert not (tmp_path / "onboarding-bot.db").exists(), "never the production database"
