"""`/onboarding <subcommand>`."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot import plans
from bot.blocks.help import help_message, notice, status_message
from bot.blocks.hub import hub_message
from bot.documents import upload_document
from bot.ids import COMMAND
from bot.services import Services
from steps.step3 import Section
from storage import repo
from storage.db import transaction

Handler = Callable[[Ack, dict[str, Any], Respond, WebClient, list[str]], None]


def register(app: App, services: Services) -> None:
    def step3(ack: Ack, command: dict[str, Any], respond: Respond, client: WebClient, args: list[str]) -> None:
        ack()
        with transaction(services.sessions) as session:
            state = plans.open_plan(
                session,
                team_id=command["team_id"],
                channel_id=command["channel_id"],
                channel_name=command.get("channel_name") or command["channel_id"],
                user_id=command["user_id"],
            )
            message = hub_message(state.plan.name, state.statuses, state.plan.steps_completed)
            plan_id = state.plan.id
        posted = client.chat_postMessage(channel=command["channel_id"], **message)
        with transaction(services.sessions) as session:
            repo.set_hub_ts(session, plan_id, posted["ts"])

    def status(ack: Ack, command: dict[str, Any], respond: Respond, client: WebClient, args: list[str]) -> None:
        with transaction(services.sessions) as session:
            state = plans.load(session, command["team_id"], command["channel_id"])
            if state is None:
                ack(**notice(f"This channel has no onboarding plan yet. Start one with `{COMMAND} step3`."))
                return
            editors = {s: (state.rows[s.value].updated_by if s.value in state.rows else None) for s in Section}
            versions = repo.document_count(session, state.plan)
            ack(**status_message(state.plan.name, state.plan.steps_completed, editors, versions))

    def doc(ack: Ack, command: dict[str, Any], respond: Respond, client: WebClient, args: list[str]) -> None:
        with transaction(services.sessions) as session:
            state = plans.load(session, command["team_id"], command["channel_id"])
            document = repo.latest_document(session, state.plan) if state is not None else None
            if state is None or document is None:
                ack(**notice(f"No plan document yet. Complete Step 3 with `{COMMAND} step3`, then press *[C]*."))
                return
            name, steps = state.plan.name, list(state.plan.steps_completed)
        ack()
        upload_document(client, command["channel_id"], name, document, steps)

    handlers: dict[str, Handler] = {"step3": step3, "status": status, "doc": doc}

    @app.command(COMMAND)
    def onboarding(ack: Ack, command: dict[str, Any], respond: Respond, client: WebClient) -> None:
        try:
            words = shlex.split(command.get("text") or "")
        except ValueError:
            ack(**notice('I could not read that: a quote is not closed. Quote names with spaces like `"Acme Corp"`.'))
            return
        if not words or words[0].lower() == "help":
            ack(**help_message())
            return
        handler = handlers.get(words[0].lower())
        if handler is None:
            ack(**help_message(unknown=words[0]))
            return
        handler(ack, command, respond, client, words[1:])
