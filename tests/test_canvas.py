"""The plan's channel canvas mirrors the current document (bot/canvas.py against the fake Slack)."""

from __future__ import annotations

import datetime
import json

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.canvas import (
    MAX_CANVAS_BYTES,
    TRUNCATED_NOTE,
    UNAVAILABLE_ERRORS,
    CanvasResult,
    canvas_markdown,
    mirror_document,
    unavailable_notice,
)
from bot.slack_api import make_client
from sandbox.blockkit import validate_message
from sandbox.slack_api import FakeSlack
from steps.document import compose_step3
from steps.step3 import HealthModel, MilestonesSection, TrainingPlan

CHANNEL = "C0PLAN001"

DOCUMENT = """---
document: onboarding-flow
project: Acme
stepsCompleted:
- step-03-success-milestones
---
# Onboarding Flow: Acme

## Success Milestones

### Milestone 1

- **Owner:** <@U0ALICE01>, <@U0BOB0002|bob>
- **Channel:** <#C0PLAN001|onboarding-acme>

#### Notes ##

```
<@U0ALICE01> stays as typed in code
#### not a heading in code
```
"""

SECOND = DOCUMENT.replace("Milestone 1", "Milestone 1 (revised)")


@pytest.fixture
def client(fake: FakeSlack) -> WebClient:
    return make_client("xoxb-test", fake.base_url)


def mirror(client: WebClient, canvas_id: str | None = None, unavailable: str | None = None, doc: str = DOCUMENT):
    return mirror_document(client, CHANNEL, canvas_id, unavailable, doc)


def test_canvas_markdown_drops_frontmatter_and_converts_mentions_and_deep_headings() -> None:
    markdown = canvas_markdown(DOCUMENT)
    assert markdown.startswith("# Onboarding Flow: Acme\n")
    assert "---" not in markdown
    assert "stepsCompleted" not in markdown
    assert "- **Owner:** ![](@U0ALICE01), ![](@U0BOB0002)" in markdown
    assert "- **Channel:** ![](#C0PLAN001)" in markdown
    assert "### Milestone 1" in markdown  # h1-h3 stay headings
    assert "\n**Notes**\n" in markdown  # h4+ become bold lines
    # Code is left as written.
    assert "<@U0ALICE01> stays as typed in code\n#### not a heading in code" in markdown


def test_an_answer_with_a_fence_line_does_not_stop_mentions_being_converted() -> None:
    # A multi-line answer is indented inside its bullet: a line of backticks in it is text, as the document reads it.
    document = compose_step3(
        None,
        plan_name="Acme",
        today=datetime.date(2024, 5, 1),
        milestones=MilestonesSection.model_validate(
            {
                "milestones": [
                    {"name": f"M{n}", "timeline_days": n, "definition_of_done": "Done"} for n in range(1, 4)
                ],
                "retention_correlation": "Paste of a snippet:\n```\nkept = True",
                "missed_deadline_policy": "Tell <@U123> in <#C123>.",
            }
        ),
        health=HealthModel.model_validate(
            {
                "weights": {"adoption": 40, "engagement": 30, "tickets": 20, "milestones": 10},
                "critical_below": 40,
                "healthy_from": 70,
                "cadence": "weekly",
                "update_time": "09:00",
                "timezone": "UTC",
                "monitors": ["U0ALICE01"],
            }
        ),
        training=TrainingPlan.model_validate({"documentation": "Ask <@U123>"}),
    )
    markdown = canvas_markdown(document)
    assert "  ```\n" in markdown
    assert "Tell ![](@U123) in ![](#C123)." in markdown
    assert "![](@U0ALICE01)" in markdown
    assert "Ask ![](@U123)" in markdown
    assert "<@" not in markdown and "<#" not in markdown


def test_canvas_markdown_without_frontmatter_keeps_the_text() -> None:
    assert canvas_markdown("# Title\n\nHello <@U0ALICE01>") == "# Title\n\nHello ![](@U0ALICE01)\n"


def test_canvas_markdown_is_cut_to_the_canvas_limit_with_a_note() -> None:
    line = "- " + "é" * 100
    document = "---\na: 1\n---\n```\n" + "\n".join([line] * 20_000)
    markdown = canvas_markdown(document)
    assert len(markdown.encode("utf-8")) <= MAX_CANVAS_BYTES
    assert markdown.rstrip().endswith(TRUNCATED_NOTE)
    assert "```\n\n" + TRUNCATED_NOTE in markdown  # the open code fence is closed before the note


def test_first_mirror_creates_the_channel_canvas(fake: FakeSlack, client: WebClient) -> None:
    result = mirror(client)

    assert result == CanvasResult(result.canvas_id, None, newly_unavailable=False)
    assert result.canvas_id is not None
    (call,) = fake.calls_to("conversations.canvases.create")
    assert call.args["channel_id"] == CHANNEL
    assert call.args["document_content"] == {"type": "markdown", "markdown": canvas_markdown(DOCUMENT)}
    assert fake.canvases[result.canvas_id]["markdown"] == canvas_markdown(DOCUMENT)
    assert fake.canvases[result.canvas_id]["channel_id"] == CHANNEL
    assert fake.calls_to("canvases.edit") == []
    info = client.conversations_info(channel=CHANNEL)
    assert info["channel"]["properties"]["canvas"]["file_id"] == result.canvas_id


def test_later_mirror_replaces_the_canvas_content(fake: FakeSlack, client: WebClient) -> None:
    canvas_id = mirror(client).canvas_id

    result = mirror(client, canvas_id, doc=SECOND)

    assert result == CanvasResult(canvas_id, None, newly_unavailable=False)
    assert len(fake.calls_to("conversations.canvases.create")) == 1
    (edit,) = fake.calls_to("canvases.edit")
    assert edit.args["canvas_id"] == canvas_id
    assert edit.args["changes"] == [
        {"operation": "replace", "document_content": {"type": "markdown", "markdown": canvas_markdown(SECOND)}}
    ]
    assert fake.canvases[canvas_id]["markdown"] == canvas_markdown(SECOND)
    assert fake.canvases[canvas_id]["edits"] == 1


def test_existing_channel_canvas_is_found_and_rewritten(fake: FakeSlack, client: WebClient) -> None:
    existing = fake.add_channel_canvas(CHANNEL, "Made by hand")

    result = mirror(client)

    assert fake.take_problems() == [
        f"conversations.canvases.create: channel_canvas_already_exists: {CHANNEL} already has channel canvas {existing}"
    ]
    assert result == CanvasResult(existing, None, newly_unavailable=False)
    assert len(fake.calls_to("conversations.info")) == 1
    assert fake.last("canvases.edit").args["canvas_id"] == existing
    assert fake.canvases[existing]["markdown"] == canvas_markdown(DOCUMENT)


def test_deleted_canvas_is_created_again(fake: FakeSlack, client: WebClient) -> None:
    old = mirror(client).canvas_id
    assert old is not None
    fake.delete_canvas(old)

    result = mirror(client, old, doc=SECOND)

    assert [p.split(":")[1].strip() for p in fake.take_problems()] == ["canvas_not_found"]
    assert result.unavailable is None and not result.newly_unavailable
    assert result.canvas_id not in (None, old)
    assert fake.canvases[result.canvas_id]["markdown"] == canvas_markdown(SECOND)
    assert len(fake.calls_to("conversations.canvases.create")) == 2


@pytest.mark.parametrize("error", ["team_tier_cannot_create_channel_canvases", "missing_scope"])
def test_workspace_without_channel_canvases_is_noted_once(fake: FakeSlack, client: WebClient, error: str) -> None:
    fake.fail("conversations.canvases.create", error)

    result = mirror(client)

    assert result == CanvasResult(None, error, newly_unavailable=True)
    assert fake.canvases == {}
    fake.take_problems()

    before = len(fake.calls)
    later = mirror(client, None, result.unavailable, doc=SECOND)

    assert later == CanvasResult(None, error, newly_unavailable=False)
    assert len(fake.calls) == before  # no Slack call at all


def test_canvas_that_becomes_unwritable_is_noted(fake: FakeSlack, client: WebClient) -> None:
    canvas_id = mirror(client).canvas_id
    fake.fail("canvases.edit", "restricted_action")

    result = mirror(client, canvas_id, doc=SECOND)

    assert result == CanvasResult(canvas_id, "restricted_action", newly_unavailable=True)


def test_channel_canvas_that_cannot_be_found_is_left_alone(fake: FakeSlack, client: WebClient) -> None:
    fake.fail("conversations.canvases.create", "channel_canvas_already_exists")

    result = mirror(client)

    # conversations.info shows no canvas (e.g. the bot cannot see it): nothing is overwritten.
    assert result == CanvasResult(None, "channel_canvas_already_exists", newly_unavailable=True)
    assert fake.calls_to("canvases.edit") == []


def test_unexpected_errors_propagate(fake: FakeSlack, client: WebClient) -> None:
    fake.fail("conversations.canvases.create", "internal_error")
    with pytest.raises(SlackApiError) as caught:
        mirror(client)
    assert caught.value.response["error"] == "internal_error"

    canvas_id = mirror(client).canvas_id
    fake.fail("canvases.edit", "canvas_editing_failed")
    with pytest.raises(SlackApiError):
        mirror(client, canvas_id)


def test_unavailable_errors_cover_the_documented_ones() -> None:
    assert {
        "team_tier_cannot_create_channel_canvases",
        "canvas_disabled_user_team",
        "missing_scope",
        "not_allowed_token_type",
        "restricted_action",
    } <= UNAVAILABLE_ERRORS


def test_unavailable_notice_is_a_valid_message(fake: FakeSlack, client: WebClient) -> None:
    notice = unavailable_notice("team_tier_cannot_create_channel_canvases")

    assert "`team_tier_cannot_create_channel_canvases`" in notice["text"]
    assert "file" in notice["text"]
    assert validate_message(notice) == []
    client.chat_postMessage(channel=CHANNEL, **notice)
    assert fake.messages(CHANNEL)[-1]["text"] == notice["text"]


def test_unavailable_notice_keeps_the_reason_plain() -> None:
    assert "`bad`" in unavailable_notice("b`a<d>")["text"]


# -- the fake's canvas methods fail the way Slack does ---------------------------------------------


def test_fake_rejects_malformed_canvas_calls(fake: FakeSlack, client: WebClient) -> None:
    with pytest.raises(SlackApiError):
        client.conversations_canvases_create(channel_id=CHANNEL, document_content={"type": "html", "markdown": "x"})
    with pytest.raises(SlackApiError):
        client.api_call("conversations.canvases.create", json={"document_content": {"type": "markdown"}})
    canvas_id = client.conversations_canvases_create(
        channel_id=CHANNEL, document_content={"type": "markdown", "markdown": "a"}
    )["canvas_id"]
    with pytest.raises(SlackApiError) as exists:
        client.conversations_canvases_create(channel_id=CHANNEL, document_content={"type": "markdown", "markdown": "b"})
    assert exists.value.response["error"] == "channel_canvas_already_exists"
    replace = {"operation": "replace", "document_content": {"type": "markdown", "markdown": "c"}}
    with pytest.raises(SlackApiError):
        client.canvases_edit(canvas_id=canvas_id, changes=[replace, replace])
    with pytest.raises(SlackApiError):
        client.canvases_edit(canvas_id=canvas_id, changes=[{"operation": "explode"}])
    with pytest.raises(SlackApiError) as missing:
        client.canvases_edit(canvas_id="F0NOPE", changes=[replace])
    assert missing.value.response["error"] == "canvas_not_found"
    too_big = {"type": "markdown", "markdown": "x" * (1_048_576 + 1)}
    with pytest.raises(SlackApiError):
        client.canvases_edit(canvas_id=canvas_id, changes=[{"operation": "replace", "document_content": too_big}])
    assert len(fake.take_problems()) == 7
    assert fake.canvases[canvas_id]["markdown"] == "a"


def test_fake_accepts_form_encoded_json_arguments(fake: FakeSlack, client: WebClient) -> None:
    content = json.dumps({"type": "markdown", "markdown": "form"})
    canvas_id = client.api_call(
        "conversations.canvases.create", data={"channel_id": CHANNEL, "document_content": content}
    )["canvas_id"]
    changes = json.dumps([{"operation": "insert_at_end", "document_content": {"type": "markdown", "markdown": "more"}}])
    client.api_call("canvases.edit", data={"canvas_id": canvas_id, "changes": changes})
    assert fake.canvases[canvas_id] == {"channel_id": CHANNEL, "markdown": "form\nmore", "edits": 1}

    fake.reset()
    assert fake.canvases == {}
    assert "properties" not in fake.channels[CHANNEL]
