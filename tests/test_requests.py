"""Request-level guarantees: signatures, redeliveries, isolation, escaping, and Slack refusing a post."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from sandbox import payloads as sr
from tests.support.answers import MILESTONES, answer, answer_all, milestone_rows, open_section
from tests.support.harness import BotHarness, post_raw
from tests.support.messages import HUB, with_block, with_button

# The front door is the point: requests go over HTTP, through waitress and bot.server.
pytestmark = pytest.mark.http


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
    bot.click(bot.hub(), "review_save")
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
    bot.click(bot.hub(), "add_milestone", "add")
    submission = sr.view_submission(bot.last_view(), milestone_rows(MILESTONES)[0])
    assert bot.interact(submission).status == 200
    # The same "New milestone" form again adds no second copy of the milestone.
    assert bot.interact(submission, headers={"X-Slack-Retry-Num": "1"}).status == 200
    with bot.sessions() as session:
        from storage.models import PlanSection

        assert [(row.version, len(row.answers["milestones"])) for row in session.query(PlanSection)] == [(1, 1)]


def test_only_events_are_remembered_before_the_ack(bot: BotHarness) -> None:
    """Slack resends only Events API deliveries; commands, clicks and submissions are acked without a write."""
    from storage.models import ProcessedRequest

    bot.command("step3")
    bot.click(bot.hub(), "add_milestone", "add")
    bot.interact(sr.view_submission(bot.last_view(), milestone_rows(MILESTONES)[0]))
    bot.command("status")
    with bot.sessions() as session:
        assert session.query(ProcessedRequest).count() == 0
    home = {"type": "app_home_opened", "user": sr.ALICE, "channel": "D0HOME001", "tab": "home"}
    bot.event(home, event_id="Ev0ONCE01")
    with bot.sessions() as session:
        assert [row.request_key for row in session.query(ProcessedRequest)] == ["Ev0ONCE01"]


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
    bot.click(bot.hub(), "review_save")
    summary = str(bot.synthesis()["blocks"])
    bot.click(bot.synthesis(), "view_synthesis")
    synthesis = summary + str(bot.last_view()["blocks"])
    assert "<!channel>" not in synthesis and "<https://evil.example" not in synthesis
    assert "&lt;!channel&gt; launch" in summary and "&lt;!channel&gt; launch" in synthesis
    assert "&lt;https://evil.example|your bank&gt; &amp; more" in synthesis
    bot.click(bot.synthesis(), "confirm_save")
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
    bot.click(with_button(other_hub, "review_save"), "review_save", channel="C0OTHER01")
    assert "Before continuing" in bot.fake.responses[-1]["text"]


def test_another_workspace_cannot_reach_a_plan(bot: BotHarness) -> None:
    bot.command("step3")
    answer_all(bot)
    bot.click(bot.hub(), "review_save", team=sr.OTHER_TEAM)
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
    hub_posts = with_block((c.args for c in bot.fake.calls_to("chat.postMessage")), HUB)
    assert len(hub_posts) == 2  # refused with 429, then accepted
    assert bot.hub()


def test_health_check(bot: BotHarness) -> None:
    response = bot.request("GET", "/healthz")
    assert response.status == 200 and response.json() == {"status": "ok"}
    assert bot.request("GET", "/nope").status == 404


# --- hostile input at the front door (issue 7): 401 before parsing, 400 for what Bolt cannot read, never 5xx ---

FORM = "application/x-www-form-urlencoded"


def _signed(body: bytes, timestamp: int | None = None, secret: str = sr.SIGNING_SECRET) -> dict[str, str | bytes]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sr.sign_raw(body, ts, secret)}


def test_unsigned_forged_and_stale_requests_are_refused_before_their_body_is_read(bot: BotHarness) -> None:
    command = sr.form_body(sr.slash_command("step3", response_url=bot.response_url)).encode()
    for body in (b"{", b"\xff\xfe{", b"payload=%7B", b"payload=%FF", b"[]", command):
        now = int(time.time())
        attempts: dict[str, dict[str, str | bytes]] = {
            "unsigned": {},
            "wrong secret": _signed(body, secret="not-the-signing-secret"),
            "stale": _signed(body, now - 600),
            "future": _signed(body, now + 600),  # well outside the 300 s window, however slow the requests before it
            "non-ASCII signature": {**_signed(body), "X-Slack-Signature": "v0=é".encode("latin-1")},
        }
        for ts in ("abc", "", "1.5e9", "-1", "0x6a", "١٧٩٦٠٠٠٠٠٠", "１７９６"):
            # Signed over the odd timestamp exactly as sent: only the timestamp check can refuse it.
            attempts[f"timestamp {ts!r}"] = {
                "X-Slack-Request-Timestamp": ts.encode(), "X-Slack-Signature": sr.sign_raw(body, ts),
            }  # fmt: skip
        for what, headers in attempts.items():
            response = post_raw(bot, body, headers, FORM)
            assert response.status == 401, (what, body)
            assert response.json() == {"error": "invalid request"}
    assert bot.fake.calls_to("chat.postMessage") == [] and bot.fake.responses == []
    with bot.sessions() as session:
        from storage.models import Plan, ProcessedRequest

        assert session.query(ProcessedRequest).count() == 0 and session.query(Plan).count() == 0


def test_signed_bodies_bolt_cannot_read_get_400(bot: BotHarness) -> None:
    bodies = [
        (b"{", "application/json"), (b"\xff\xfe", FORM), (b"payload=%7B", FORM), (b"payload=%FF%FE", FORM),
        (b"[]", "application/json"), (b"payload=%5B1%5D", FORM), (b'"x"', "application/json"), (b"", FORM),
        (b'{"type":"event_callback","event":"x"}', "application/json"),
        (b'{"type":"event_callback","event":{"type":5}}', "application/json"),
        (b'{"type":"block_actions","actions":[]}', "application/json"),
        (b'{"type":"block_actions","actions":[{"action_id":7}]}', "application/json"),
        (b'{"type":"view_submission","view":{"callback_id":5}}', "application/json"),
        (b'{"type":"message_action","callback_id":["add_to_plan"]}', "application/json"),
    ]  # fmt: skip
    for body, content_type in bodies:
        response = post_raw(bot, body, _signed(body), content_type)
        assert response.status == 400, body
        assert "Traceback" not in response.body
    assert bot.fake.calls_to("chat.postMessage") == [] and bot.fake.responses == []


def test_slacks_unsigned_certificate_check_gets_an_empty_200_and_runs_nothing(bot: BotHarness) -> None:
    calls = len(bot.fake.calls)
    response = post_raw(bot, b"ssl_check=1&token=unused", {}, FORM)
    assert (response.status, response.body) == (200, "")
    assert len(bot.fake.calls) == calls


def _crashing_command(bot: BotHarness, name: str = "/crash") -> None:
    @bot.app.command(name)
    def crash(ack: Any) -> None:  # a listener without the listeners' own error handling
        raise RuntimeError("secret detail")


def test_a_command_failing_before_its_ack_gets_an_ephemeral_reference(bot: BotHarness) -> None:
    _crashing_command(bot)
    fields = sr.slash_command("now", response_url=bot.response_url) | {"command": "/crash"}
    response = bot.post(sr.form_body(fields))
    assert response.status == 200
    reply = response.json()
    assert reply["response_type"] == "ephemeral"
    assert "Something went wrong" in reply["text"] and "ref `" in reply["text"]
    assert "secret detail" not in response.body and "Traceback" not in response.body


def test_a_form_failing_before_its_ack_is_replaced_by_a_not_saved_notice(bot: BotHarness) -> None:
    from sandbox.blockkit import validate_view
    from steps.errors import UserError

    @bot.app.view("crash_form")
    def crash(ack: Any, view: dict[str, Any]) -> None:
        raise UserError("This form belongs to another plan.") if view["private_metadata"] else KeyError("x")

    form = {"id": "V0CRASH01", "type": "modal", "callback_id": "crash_form", "blocks": [], "hash": "1.a"}
    for metadata, shown in (("refused", "This form belongs to another plan."), ("", "Something went wrong")):
        response = bot.interact(sr.view_submission({**form, "private_metadata": metadata}, {}))
        assert response.status == 200
        answer = response.json()
        assert answer["response_action"] == "update" and validate_view(answer["view"]) == []
        assert shown in json.dumps(answer["view"]) and "Traceback" not in response.body


def test_a_button_failing_after_its_ack_is_answered_at_once(bot: BotHarness) -> None:
    """Bolt's runner drops the ack of a listener that raises after acking; the request must not wait 3 s for it."""

    @bot.app.action("crash_after_ack")
    def crash(ack: Any) -> None:
        ack()
        raise RuntimeError("secret detail")

    message = {"ts": "1796000001.000100", "blocks": [{"type": "actions", "block_id": "b", "elements": [
        {"type": "button", "action_id": "crash_after_ack", "text": {"type": "plain_text", "text": "x"}}]}]}  # fmt: skip
    for _ in range(5):  # the lost ack was a race; a few clicks would show it
        started = time.perf_counter()
        response = bot.click(message, "crash_after_ack")
        assert response.status == 200 and response.body == ""
        assert time.perf_counter() - started < 2.5
    replies = [r for r in bot.fake.responses if "Something went wrong" in r["text"]]
    assert len(replies) == 5 and all(r["response_type"] == "ephemeral" for r in replies)
    assert "secret detail" not in json.dumps(bot.fake.responses)


def test_a_middleware_failure_is_answered_not_500(bot: BotHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot import middleware

    def broken(*args: Any, **kwargs: Any) -> str:
        raise RuntimeError("database on fire")

    monkeypatch.setattr(middleware, "event_key", broken)
    response = bot.command("help")
    assert response.status == 200 and "ref `" in response.json()["text"]
    assert "database on fire" not in response.body


def test_whatever_bolt_raises_or_answers_never_reaches_waitress_as_500(
    bot: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    from slack_bolt import BoltResponse

    def raises(request: Any) -> BoltResponse:
        raise RuntimeError("secret detail")

    monkeypatch.setattr(bot.app, "dispatch", raises)
    response = bot.command("help")
    assert response.status == 200 and "ref `" in response.json()["text"]
    assert "secret detail" not in response.body
    monkeypatch.setattr(bot.app, "dispatch", lambda request: BoltResponse(status=503, body="upstream trace"))
    response = bot.event({"type": "app_home_opened", "user": sr.ALICE, "channel": "D0HOME001", "tab": "home"})
    assert (response.status, response.body) == (200, "")


def test_odd_request_ids_do_not_break_the_redelivery_guard(bot: BotHarness) -> None:
    home = {"type": "app_home_opened", "user": sr.ALICE, "channel": "D0HOME001", "tab": "home"}
    for team, event_id in (("T0HARNESS\x00", "Ev\x00" * 200), ("T" * 300, {"id": 1}), ("", 12), ("T0HARNESS", "é")):
        body = json.dumps({"type": "event_callback", "team_id": team, "event_id": event_id, "event": home}).encode()
        response = post_raw(bot, body, _signed(body), "application/json")
        assert response.status < 500, (team, event_id)
