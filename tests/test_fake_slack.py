"""The fake Slack must fail the way Slack fails, or tests built on it prove nothing."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.socket_mode import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from sandbox.blockkit import validate_blocks, validate_message, validate_options, validate_view
from sandbox.slack_api import FakeSlack
from sandbox.socket_mode import FakeSocketModeServer


def plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text}


def option(text: str, value: str) -> dict[str, Any]:
    return {"text": plain(text), "value": value}


def text_input_block(block_id: str = "name") -> dict[str, Any]:
    return {
        "type": "input",
        "block_id": block_id,
        "label": plain("Name"),
        "element": {"type": "plain_text_input", "action_id": "value", "max_length": 80},
    }


def modal(**overrides: Any) -> dict[str, Any]:
    view: dict[str, Any] = {
        "type": "modal",
        "callback_id": "milestones_submit",
        "title": plain("Success milestones"),
        "submit": plain("Save"),
        "close": plain("Cancel"),
        "private_metadata": json.dumps({"plan": 1}),
        "blocks": [text_input_block()],
    }
    view.update(overrides)
    return view


VALID_BLOCKS: list[dict[str, Any]] = [
    {"type": "header", "text": plain("Step 3 · Success milestones")},
    {"type": "section", "block_id": "intro", "text": {"type": "mrkdwn", "text": "*Acme Corp*"}},
    {"type": "divider"},
    {
        "type": "actions",
        "block_id": "sections",
        "elements": [
            {"type": "button", "action_id": "open_section", "value": "milestones", "text": plain("Edit")},
            {
                "type": "button",
                "action_id": "delete",
                "style": "danger",
                "text": plain("Delete"),
                "confirm": {
                    "title": plain("Sure?"),
                    "text": plain("This removes the plan."),
                    "confirm": plain("Delete"),
                    "deny": plain("Keep"),
                },
            },
        ],
    },
    {"type": "context", "elements": [{"type": "mrkdwn", "text": "Owner <@U0BOB0002>"}]},
]


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as server:
        yield server


@pytest.fixture
def client(fake: FakeSlack) -> WebClient:
    return WebClient(token="xoxb-test", base_url=fake.base_url)


# -- pure validator ------------------------------------------------------------------------------


def test_valid_message_and_modal_pass() -> None:
    assert validate_message({"channel": "C1", "text": "Step 3", "blocks": VALID_BLOCKS}) == []
    assert validate_message({"text": "x", "blocks": json.dumps(VALID_BLOCKS)}) == []
    assert validate_view(modal()) == []
    assert validate_view({"type": "home", "blocks": VALID_BLOCKS}) == []


@pytest.mark.parametrize(
    ("blocks", "surface", "expected"),
    [
        ([{"type": "header", "text": plain("x" * 151)}], "message", "at most 150"),
        ([{"type": "header", "text": {"type": "mrkdwn", "text": "*x*"}}], "message", "plain_text"),
        ([{"type": "section", "text": {"type": "mrkdwn", "text": ""}}], "message", "must not be empty"),
        ([{"type": "section", "text": {"type": "mrkdwn", "text": "x", "emoji": True}}], "message", "'emoji'"),
        ([{"type": "section", "text": plain("x"), "colour": "red"}], "message", "unknown key 'colour'"),
        ([{"type": "carousel"}], "message", "unknown or unsupported block type"),
        ([text_input_block()], "message", "not allowed in messages"),
        ([{"type": "divider", "block_id": "a"}, {"type": "divider", "block_id": "a"}], "home", "duplicate block_id"),
        (
            [
                {
                    "type": "input",
                    "block_id": "days",
                    "label": plain("Days"),
                    "element": {"type": "number_input", "action_id": "value"},
                }
            ],
            "modal",
            "is_decimal_allowed",
        ),
        (
            [
                {
                    "type": "actions",
                    "elements": [
                        {
                            "type": "static_select",
                            "action_id": "cadence",
                            "options": [option("Weekly", "weekly")],
                            "initial_option": option("Monthly", "monthly"),
                        }
                    ],
                }
            ],
            "message",
            "not one of the options",
        ),
        (
            [
                {
                    "type": "actions",
                    "elements": [
                        {
                            "type": "static_select",
                            "action_id": "cadence",
                            "options": [option("Weekly", "weekly")],
                            "initial_option": option("Every week", "weekly"),
                        }
                    ],
                }
            ],
            "message",
            "not one of the options",
        ),
        (
            [
                {
                    "type": "actions",
                    "elements": [
                        {"type": "button", "action_id": "go", "text": plain("A")},
                        {"type": "button", "action_id": "go", "text": plain("B")},
                    ],
                }
            ],
            "message",
            "duplicate action_id 'go'",
        ),
        ([{"type": "actions", "elements": [{"type": "fancy_picker"}]}], "message", "unknown or unsupported element"),
        ([{"type": "section", "text": plain("x"), "fields": [plain("f")] * 11}], "message", "at most 10 items"),
        ([{"type": "divider"}] * 51, "message", "at most 50 blocks"),
    ],
)
def test_validator_rejects(blocks: list[dict[str, Any]], surface: str, expected: str) -> None:
    problems = validate_blocks(blocks, surface)
    assert any(expected in p for p in problems), problems


@pytest.mark.parametrize(
    ("view", "expected"),
    [
        (modal(title=plain("x" * 25)), "view.title.text: must be at most 24"),
        ({k: v for k, v in modal().items() if k != "submit"}, "needs a 'submit'"),
        (modal(blocks=[{**text_input_block(), "block_id": None}]), "block_id"),
        (modal(blocks=[{k: v for k, v in text_input_block().items() if k != "block_id"}]), "has no block_id"),
        (modal(blocks=[text_input_block("a"), text_input_block("a")]), "duplicate block_id"),
        (modal(private_metadata="x" * 3001), "private_metadata"),
        (modal(blocks=[{"type": "markdown", "text": "# hi"}]), "only allowed in messages"),
        (
            modal(
                blocks=[
                    {
                        **text_input_block(),
                        "element": {"type": "plain_text_input", "max_length": 3, "initial_value": "four"},
                    }
                ]
            ),
            "longer than max_length",
        ),
        ({"type": "home", "title": plain("Home"), "blocks": []}, "unknown key 'title'"),
        (modal(blocks=[{"type": "divider"}] * 101), "at most 100 blocks"),
    ],
)
def test_view_validator_rejects(view: dict[str, Any], expected: str) -> None:
    problems = validate_view(view)
    assert any(expected in p for p in problems), problems


def zone_select(**element: Any) -> list[dict[str, Any]]:
    """An input block holding an external select (its options come from the app as the person types)."""
    select = {"type": "external_select", "action_id": "value", **element}
    return [{"type": "input", "block_id": "timezone", "label": plain("Time zone"), "element": select}]


def test_a_valid_external_select_passes() -> None:
    tokyo = option("Asia/Tokyo", "Asia/Tokyo")
    assert validate_blocks(zone_select(), "modal") == []
    full = zone_select(min_query_length=0, placeholder=plain("Search"), initial_option=tokyo, focus_on_load=True)
    assert validate_blocks(full, "modal") == []


@pytest.mark.parametrize(
    ("element", "expected"),
    [
        ({"options": [option("Asia/Tokyo", "Asia/Tokyo")]}, "unknown key 'options'"),
        ({"initial_options": [option("Asia/Tokyo", "Asia/Tokyo")]}, "unknown key 'initial_options'"),
        ({"initial_option": "Asia/Tokyo"}, "initial_option: must be an object"),
        ({"initial_option": {"value": "Asia/Tokyo"}}, "missing required key 'text'"),
        ({"initial_option": {"text": {"type": "mrkdwn", "text": "*Tokyo*"}, "value": "x"}}, "plain_text"),
        ({"initial_option": option("x" * 76, "x")}, "at most 75"),
        ({"initial_option": option("Tokyo", "x" * 151)}, "at most 150"),
        ({"min_query_length": -1}, "min_query_length: must be an integer >= 0"),
        ({"min_query_length": "2"}, "min_query_length: must be an integer >= 0"),
    ],
)
def test_an_invalid_external_select_is_rejected(element: dict[str, Any], expected: str) -> None:
    problems = validate_blocks(zone_select(**element), "modal")
    assert any(expected in p for p in problems), problems


def test_an_apps_options_answer_is_checked_as_slack_checks_it() -> None:
    assert validate_options({"options": []}) == []  # "no results"
    assert validate_options({"options": [option("Asia/Tokyo", "Asia/Tokyo")]}) == []
    assert validate_options({"option_groups": [{"label": plain("Asia"), "options": [option("Tokyo", "t")]}]}) == []
    for answer, expected in [
        (None, "must be an object"),
        ({}, "missing required key 'options'"),
        ({"options": [option(str(n), str(n)) for n in range(101)]}, "at most 100 items"),
        ({"options": [option("x" * 76, "x")]}, "at most 75"),
        ({"options": [option("a", "same"), option("b", "same")]}, "unique"),
        ({"options": [], "view": {}}, "unknown key 'view'"),
    ]:
        problems = validate_options(answer)
        assert any(expected in p for p in problems), (answer, problems)


def test_message_needs_text_or_blocks_and_limits_text() -> None:
    assert validate_message({"channel": "C1"})
    assert validate_message({"channel": "C1", "text": "x" * 40_001})
    assert validate_message({"delete_original": True}) == []


# -- HTTP: Web API -------------------------------------------------------------------------------


def test_post_update_delete_track_channel_state(fake: FakeSlack, client: WebClient) -> None:
    first = client.chat_postMessage(channel="C0PLAN001", text="Step 3", blocks=VALID_BLOCKS)
    second = client.chat_postMessage(channel="C0PLAN001", text="second", thread_ts=first["ts"])
    assert float(second["ts"]) > float(first["ts"])
    assert first["message"]["bot_id"] == "BBOTHARNS"

    client.chat_update(channel="C0PLAN001", ts=first["ts"], text="Step 3 (edited)")
    client.chat_delete(channel="C0PLAN001", ts=second["ts"])
    [message] = fake.messages("C0PLAN001")
    assert message["text"] == "Step 3 (edited)"
    assert message["blocks"][1]["block_id"] == "intro"

    link = client.chat_getPermalink(channel="C0PLAN001", message_ts=first["ts"])
    assert link["permalink"] == f"https://acme.slack.com/archives/C0PLAN001/p{first['ts'].replace('.', '')}"
    assert fake.last("chat.update").args["ts"] == first["ts"]
    assert fake.problems == []


def test_invalid_blocks_answered_like_slack_and_recorded(fake: FakeSlack, client: WebClient) -> None:
    with pytest.raises(SlackApiError) as excinfo:
        client.chat_postMessage(channel="C1", text="x", blocks=[{"type": "header", "text": plain("x" * 151)}])
    assert excinfo.value.response["error"] == "invalid_blocks"
    assert fake.problems and "at most 150" in fake.problems[0]
    assert fake.messages("C1") == []


def test_form_encoded_blocks_are_decoded(fake: FakeSlack) -> None:
    form = WebClient(token="xoxb-test", base_url=fake.base_url)
    form.api_call("chat.postMessage", data={"channel": "C1", "text": "x", "blocks": json.dumps(VALID_BLOCKS)})
    assert fake.last("chat.postMessage").args["blocks"] == VALID_BLOCKS
    assert fake.problems == []


def test_update_of_unknown_message(fake: FakeSlack, client: WebClient) -> None:
    with pytest.raises(SlackApiError, match="message_not_found"):
        client.chat_update(channel="C1", ts="1.000000", text="x")
    assert fake.take_problems() and fake.problems == []


def test_views_open_update_push(fake: FakeSlack, client: WebClient) -> None:
    opened = client.views_open(trigger_id="1.T0.abc", view=modal())["view"]
    assert opened["id"] == "V000001" and opened["state"] == {"values": {}}
    assert fake.views[opened["id"]]["callback_id"] == "milestones_submit"

    updated = client.views_update(view_id=opened["id"], hash=opened["hash"], view=modal(title=plain("Edited")))["view"]
    assert updated["hash"] != opened["hash"]
    with pytest.raises(SlackApiError, match="hash_conflict"):
        client.views_update(view_id=opened["id"], hash=opened["hash"], view=modal())
    with pytest.raises(SlackApiError, match="not_found"):
        client.views_update(view_id="V999999", view=modal())

    client.views_push(trigger_id="2.T0.abc", view=modal())
    client.views_push(trigger_id="3.T0.abc", view=modal())
    with pytest.raises(SlackApiError, match="push_limit_reached"):
        client.views_push(trigger_id="4.T0.abc", view=modal())
    assert len(fake.take_problems()) == 3


def test_reused_trigger_id_is_rejected(fake: FakeSlack, client: WebClient) -> None:
    client.views_open(trigger_id="1.T0.abc", view=modal())
    with pytest.raises(SlackApiError, match="exchanged_trigger_id"):
        client.views_open(trigger_id="1.T0.abc", view=modal())
    assert any("exchanged_trigger_id" in p for p in fake.problems)


def test_invalid_view_over_http(fake: FakeSlack, client: WebClient) -> None:
    with pytest.raises(SlackApiError) as excinfo:
        client.views_open(trigger_id="1.T0.abc", view=modal(title=plain("x" * 25)))
    assert excinfo.value.response["error"] == "invalid_arguments"
    assert "title" in excinfo.value.response["response_metadata"]["messages"][0]
    assert any("view.title" in p for p in fake.problems)


def test_views_publish_home(fake: FakeSlack, client: WebClient) -> None:
    first = client.views_publish(user_id="U0ALICE01", view={"type": "home", "blocks": VALID_BLOCKS})["view"]
    again = client.views_publish(user_id="U0ALICE01", view={"type": "home", "blocks": []})["view"]
    assert first["id"] == again["id"] and fake.views[first["id"]]["blocks"] == []
    with pytest.raises(SlackApiError, match="invalid_arguments"):
        client.views_publish(user_id="U0ALICE01", view=modal())
    assert len(fake.take_problems()) == 1


def test_unknown_method_and_token_checks(fake: FakeSlack, client: WebClient) -> None:
    with pytest.raises(SlackApiError, match="unknown_method"):
        client.api_call("chat.teleport", json={"channel": "C1"})
    with pytest.raises(SlackApiError, match="not_authed"):
        WebClient(base_url=fake.base_url).chat_postMessage(channel="C1", text="x")
    with pytest.raises(SlackApiError, match="not_allowed_token_type"):
        WebClient(token="xapp-1-test", base_url=fake.base_url).chat_postMessage(channel="C1", text="x")
    with pytest.raises(SlackApiError, match="not_allowed_token_type"):
        client.apps_connections_open(app_token="xoxb-test")
    problems = fake.take_problems()
    assert [p.split(":")[0] for p in problems] == [
        "chat.teleport",
        "chat.postMessage",
        "chat.postMessage",
        "apps.connections.open",
    ]
    assert len(fake.calls) == 4


def test_fault_injection_and_retry(fake: FakeSlack, client: WebClient) -> None:
    fake.fail("chat.postMessage", status=429, headers={"Retry-After": "0"})
    with pytest.raises(SlackApiError) as excinfo:
        client.chat_postMessage(channel="C1", text="x")
    assert excinfo.value.response.status_code == 429
    assert excinfo.value.response.headers["Retry-After"] == "0"

    fake.fail("chat.postMessage", status=429, headers={"Retry-After": "0"})
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=1))
    assert client.chat_postMessage(channel="C1", text="x")["ok"]
    assert len(fake.calls_to("chat.postMessage")) == 3
    assert fake.problems == []


def test_files_upload_v2_round_trip(fake: FakeSlack, client: WebClient) -> None:
    result = client.files_upload_v2(channel="C0PLAN001", content="# doc", filename="plan.md", initial_comment="hi")
    file_id = result["file"]["id"]
    upload = fake.uploads[file_id]
    assert upload["content"] == b"# doc"
    assert upload["completed"] and upload["channel_id"] == "C0PLAN001" and upload["initial_comment"] == "hi"
    assert upload["filename"] == "plan.md"
    assert fake.messages("C0PLAN001")[-1]["files"][0]["id"] == file_id
    assert fake.problems == []


def test_complete_upload_without_upload_fails(fake: FakeSlack, client: WebClient) -> None:
    file_id = client.files_getUploadURLExternal(filename="plan.md", length=5)["file_id"]
    with pytest.raises(SlackApiError, match="invalid_arguments"):
        client.files_completeUploadExternal(files=[{"id": file_id, "title": "Plan"}], channel_id="C1")
    assert fake.take_problems()


def test_response_url_records_and_validates(fake: FakeSlack) -> None:
    def post(body: dict[str, Any]) -> int:
        request = urllib.request.Request(
            fake.url + "/response/x",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return exc.code

    assert post({"text": "Saved", "response_type": "ephemeral"}) == 200
    assert post({"blocks": [{"type": "header", "text": plain("x" * 151)}]}) == 400
    assert fake.responses[0] == {"text": "Saved", "response_type": "ephemeral"}
    assert len(fake.take_problems()) == 1


# -- Socket Mode ---------------------------------------------------------------------------------

Listener = Callable[[SocketModeClient, SocketModeRequest], None]


@contextmanager
def socket_mode_app(listener: Listener) -> Iterator[tuple[FakeSocketModeServer, FakeSlack]]:
    """A connected slack_sdk builtin SocketModeClient running ``listener``."""
    with FakeSocketModeServer() as socket_server, FakeSlack(socket_mode=socket_server) as fake:
        client = SocketModeClient(
            app_token="xapp-1-test",
            web_client=WebClient(base_url=fake.base_url),
            auto_reconnect_enabled=False,
        )
        client.socket_mode_request_listeners.append(listener)  # type: ignore[arg-type]
        try:
            client.connect()
            yield socket_server, fake
        finally:
            # The builtin client's receive loop only notices close() after its 3 s socket timeout;
            # a close frame from the server ends it at once.
            socket_server.close_connections()
            client.close()


def test_socket_mode_connects_and_acks() -> None:
    seen: list[SocketModeRequest] = []

    def listener(client: SocketModeClient, request: SocketModeRequest) -> None:
        seen.append(request)
        client.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id))

    with socket_mode_app(listener) as (socket_server, fake):
        envelope_id = socket_server.send_envelope({"command": "/onboarding", "text": "help"})
        assert socket_server.wait_for_ack(envelope_id) == {"envelope_id": envelope_id}
        assert seen[0].type == "slash_commands" and seen[0].payload["command"] == "/onboarding"
        assert fake.last("apps.connections.open").token == "xapp-1-test"
        assert socket_server.connection_count == 1
        assert fake.problems == [] and socket_server.problems == []


def test_socket_mode_checks_view_submission_error_keys() -> None:
    def listener(client: SocketModeClient, request: SocketModeRequest) -> None:
        payload = {"response_action": "errors", "errors": {"no_such_block": "bad"}}
        client.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id, payload=payload))

    with socket_mode_app(listener) as (socket_server, _fake):
        envelope_id = socket_server.send_envelope({"type": "view_submission", "view": modal()}, "interactive")
        socket_server.wait_for_ack(envelope_id)
        assert any("no_such_block" in p for p in socket_server.problems), socket_server.problems


def test_apps_connections_open_without_socket_server(fake: FakeSlack) -> None:
    with pytest.raises(SlackApiError):
        WebClient(base_url=fake.base_url).apps_connections_open(app_token="xapp-1-test")
    assert fake.take_problems()


def test_saved_state_is_everything_reset_creates() -> None:
    fake = FakeSlack()
    plumbing = {"_lock", "_server", "_thread", "_socket_mode", "_valid_tokens", "_first_micros"}
    assert set(vars(fake)) - plumbing == set(FakeSlack.STATE)
    fake.post_as_user("C0PLAN001", "U0ALICE01", "hello")
    copy = FakeSlack()
    copy.load_state(fake.save_state())
    assert [m["text"] for m in copy.messages("C0PLAN001")] == ["hello"]


def test_unescaped_mrkdwn_is_a_problem_slack_would_not_report() -> None:
    """Every test ends with fake.problems == [], so every text the bot sends in any test is checked this way."""
    from sandbox.blockkit import escaping_problems

    fine = {
        "text": "Tom &amp; Jerry &lt;3 <@U0ALICE01> <#C0PLAN001|plan> <!here> <https://example.com|site>",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "> quoted\n>>> more"},
                    "fields": [{"type": "plain_text", "text": "a < b & c"}]}],  # plain text shows as typed
    }  # fmt: skip
    assert escaping_problems(fine) == []
    bad = {"text": "fine", "blocks": [{"type": "context", "elements": [{"type": "mrkdwn", "text": "use <name> & co"}]}]}
    (problem,) = escaping_problems(bad)
    assert problem.startswith("blocks[0].elements[0].text: unescaped '<'")
    fake = FakeSlack()
    fake._handle_api("chat.postMessage", {"channel": "C0PLAN001", **bad}, "xoxb-test")
    assert len(fake.messages("C0PLAN001")) == 1, "Slack accepts it (and shows it wrongly)"
    assert fake.take_problems() == [f"chat.postMessage: {problem}"]
