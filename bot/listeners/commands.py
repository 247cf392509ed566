"""`/onboarding <subcommand>`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot import access, customers, discussion, plans
from bot.arguments import (
    CUSTOMER_ADD_USAGE,
    ArgumentError,
    parse_alerts_here,
    parse_customer_add,
    parse_milestone_done,
    parse_signal,
    split_words,
)
from bot.blocks.changes import history_message
from bot.blocks.customers import alerts_here, customer_added, customer_list, milestone_done, signals_recorded
from bot.blocks.help import help_message, notice, status_message
from bot.blocks.hub import hub_message, thread_starter
from bot.documents import upload_document
from bot.ids import COMMAND
from bot.listeners.common import requester
from bot.listeners.errors import replies_to_errors
from bot.services import Services
from steps.step3 import Section
from storage import outbox, repo
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
            started = set(discussion.threads(session, state.plan))
        for number, section in enumerate(Section, start=1):
            if section in started:
                continue
            root = client.chat_postMessage(channel=command["channel_id"], **thread_starter(section, number))
            with transaction(services.sessions) as session:
                plan = repo.get_plan(session, plan_id)
                assert plan is not None
                discussion.add_thread(session, plan, section, root["ts"])

    def status(ack: Ack, command: dict[str, Any], respond: Respond, client: WebClient, args: list[str]) -> None:
        with transaction(services.sessions) as session:
            state = plans.load(session, command["team_id"], command["channel_id"])
            if state is None:
                ack(**notice(f"This channel has no onboarding plan yet. Start one with `{COMMAND} step3`."))
                return
            editors = {s: (state.rows[s.value].updated_by if s.value in state.rows else None) for s in Section}
            versions = repo.document_count(session, state.plan)
            failed = outbox.failed_summaries(session, state.plan.team_id, state.plan.id)
            backlog = outbox.backlog(session, state.plan.team_id, state.plan.id)
            channel = state.plan.alert_channel_id or state.plan.channel_id
            ack(**status_message(state.plan.name, state.plan.steps_completed, editors, versions, failed, channel,
                                 backlog=backlog, now=services.clock()))  # fmt: skip

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

    def customer(ack: Ack, command: dict[str, Any], respond: Respond, client: WebClient, args: list[str]) -> None:
        action = args[0].lower() if args else ""
        now = services.clock()
        with transaction(services.sessions) as session:
            ready = customers.require_runnable(session, command["team_id"], command["channel_id"])
            if action == "add":
                new = parse_customer_add(args[1:])
                added = customers.add_customer(session, ready, new, command["user_id"], now)
                reply = customer_added(added, customers.customer_milestones(session, added), command["user_id"])
            elif action == "list":
                rows = customers.customers_of(session, ready.plan)
                reply = customer_list(
                    ready.plan.name, rows, customers.overdue_counts(session, ready.plan, ready.today(now))
                )
            else:
                raise ArgumentError(f"Usage: {CUSTOMER_ADD_USAGE} or `{COMMAND} customer list`.")
        ack(**reply)

    def milestone(ack: Ack, command: dict[str, Any], respond: Respond, client: WebClient, args: list[str]) -> None:
        request = parse_milestone_done(args)
        now = services.clock()
        with transaction(services.sessions) as session:
            ready = customers.require_runnable(session, command["team_id"], command["channel_id"])
            found = customers.find_customer(session, ready.plan, request.customer)
            row = customers.resolve_milestone(customers.customer_milestones(session, found), request.milestone)
            on = request.on or ready.today(now)
            breakdown = customers.complete_milestone(session, ready, found, row, on, command["user_id"], now)
            reply = milestone_done(found, row, breakdown, command["user_id"])
        ack(**reply)

    def signal(ack: Ack, command: dict[str, Any], respond: Respond, client: WebClient, args: list[str]) -> None:
        name, values = parse_signal(args)
        now = services.clock()
        with transaction(services.sessions) as session:
            ready = customers.require_runnable(session, command["team_id"], command["channel_id"])
            found = customers.find_customer(session, ready.plan, name)
            breakdown = customers.record_signals(session, ready, found, values, command["user_id"], now)
            reply = signals_recorded(found, values, breakdown, command["user_id"])
        ack(**reply)

    def alerts(ack: Ack, command: dict[str, Any], respond: Respond, client: WebClient, args: list[str]) -> None:
        team, channel, user = command["team_id"], command["channel_id"], command["user_id"]
        plan_channel = parse_alerts_here(args)
        with transaction(services.sessions) as session:
            plan_id, plans_channel = customers.plan_for_alerts(session, team, channel, plan_channel)
        # Routing a plan's alerts here shows them to this channel: only someone who can see the plan may.
        if plans_channel != channel and not access.is_member(client, plans_channel, user):
            raise ArgumentError(
                f"You are not a member of <#{plans_channel}>, so you cannot send its plan's alerts here. "
                "Ask someone in that channel to run this command."
            )
        with transaction(services.sessions) as session:
            plan = customers.route_alerts(session, team, plan_id, channel)
            reply = alerts_here(channel, plan.name, user)
        ack(**reply)

    def history(ack: Ack, command: dict[str, Any], respond: Respond, client: WebClient, args: list[str]) -> None:
        with transaction(services.sessions) as session:
            state = plans.load(session, command["team_id"], command["channel_id"])
            if state is None:
                raise ArgumentError(f"This channel has no onboarding plan yet. Start one with `{COMMAND} step3`.")
            ack(**history_message(state.plan.name, plans.recent_changes(session, state.plan)))

    handlers: dict[str, Handler] = {
        "history": history,
        "step3": step3,
        "status": status,
        "doc": doc,
        "customer": customer,
        "milestone": milestone,
        "signal": signal,
        "alerts": alerts,
    }

    @app.command(COMMAND)
    @replies_to_errors
    def onboarding(
        ack: Ack, context: BoltContext, command: dict[str, Any], respond: Respond, client: WebClient
    ) -> None:
        requester(context).channel()  # the handlers read the team, channel and user ids from the form
        words = split_words(command.get("text") or "")
        if not words or words[0].lower() == "help":
            ack(**help_message())
            return
        handler = handlers.get(words[0].lower())
        if handler is None:
            ack(**help_message(unknown=words[0]))
            return
        handler(ack, command, respond, client, words[1:])
