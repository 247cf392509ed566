"""manifest.yml is a valid Slack app manifest and declares exactly what the app handles."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from bot.ids import COMMAND
from bot.listeners.commands import HANDLERS
from sandbox import payloads as sr
from tests.support.harness import BotHarness

ROOT = Path(__file__).resolve().parents[1]
# Slack's published schema (slackapi/manifest-schema, MIT), copied from the project's shared/slack/.
SCHEMA = Path(__file__).with_name("fixtures") / "manifest.schema.1.0.0.json"


def _manifest() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "manifest.yml").read_text())


def test_manifest_is_valid_against_slacks_schema() -> None:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.validate(_manifest(), schema)


def test_manifest_settings() -> None:
    manifest = _manifest()
    assert manifest["settings"]["socket_mode_enabled"] is True
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert [c["command"] for c in manifest["features"]["slash_commands"]] == [COMMAND]
    hint = manifest["features"]["slash_commands"][0]["usage_hint"]
    assert {word for part in hint.split(" | ") for word in part.split()[:1]} == {*HANDLERS, "help"}
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == {
        "commands",
        "chat:write",
        "chat:write.public",
        "files:write",
        "channels:history",
        "groups:history",
        "canvases:write",
        "channels:read",
        "groups:read",
        "users:read",
        "files:read",
        "im:write",
    }


def _event(name: str) -> dict[str, Any]:
    """The event Slack sends for a manifest subscription: message.channels is a message in a channel."""
    kind, _, where = name.partition(".")
    channel_type = {"channels": "channel", "groups": "group", "im": "im", "mpim": "mpim"}.get(where)
    return {"type": kind, "channel_type": channel_type, "channel": sr.CHANNEL} if channel_type else {"type": kind}


def test_every_declared_command_shortcut_and_event_is_handled(bot: BotHarness) -> None:
    manifest = _manifest()
    for command in manifest["features"]["slash_commands"]:
        fields = sr.slash_command("help", response_url=bot.response_url) | {"command": command["command"]}
        assert bot.post(sr.form_body(fields)).status == 200, command["command"]
    for event in manifest.get("settings", {}).get("event_subscriptions", {}).get("bot_events", []):
        body = {"type": "event_callback", "team_id": sr.TEAM, "event_id": sr.next_id("Ev"), "event": _event(event)}
        assert bot.post(json.dumps(body), content_type="application/json").status == 200, event


def test_nothing_undeclared_is_handled(bot: BotHarness) -> None:
    """Bolt answers 404 to requests no listener matched, so the app registers nothing the manifest omits."""
    fields = sr.slash_command("help", response_url=bot.response_url) | {"command": "/not-declared"}
    assert bot.post(sr.form_body(fields)).status == 404
    declared = {e.partition(".")[0] for e in _manifest()["settings"]["event_subscriptions"]["bot_events"]}
    for event in {"app_home_opened", "message", "app_uninstalled", "reaction_added"} - declared:
        body = {"type": "event_callback", "team_id": sr.TEAM, "event_id": sr.next_id("Ev"), "event": {"type": event}}
        assert bot.post(json.dumps(body), content_type="application/json").status == 404, event
    shortcuts = {s["callback_id"] for s in _manifest()["features"].get("shortcuts", [])}
    if "add_to_plan" not in shortcuts:
        payload = {"type": "message_action", "callback_id": "add_to_plan", "trigger_id": sr.next_id("5."),
                   "team": {"id": sr.TEAM}, "user": {"id": sr.ALICE}, "channel": {"id": sr.CHANNEL},
                   "message": {"ts": "1.2", "text": "x"}}  # fmt: skip
        assert bot.interact(payload).status == 404


def test_the_readme_links_only_to_files_in_the_repository() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "../" not in readme
    for target in re.findall(r"\]\(([^)#]+)\)", readme):
        if not target.startswith(("http://", "https://", "mailto:")):
            assert (ROOT / target).is_file(), target
