"""`/onboarding <subcommand>`: one slash command, a handler per subcommand."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, BoltContext, BoltRequest
from slack_sdk import WebClient

from bot import access, customers, discussion, imports, plans, tokens
from bot import freshness as data_freshness
from bot.arguments import (
    CUSTOMER_ADD_USAGE,
    parse_alerts_here,
    parse_customer_add,
    parse_freshness,
    parse_milestone_done,
    parse_plan_name,
    parse_signal,
    split_words,
)
from bot.blocks.changes import history_message
from bot.blocks.common import esc
from bot.blocks.customers import (
    alerts_here,
    customer_added,
    customer_list,
    freshness_settings,
    milestone_done,
    signals_recorded,
)
from bot.blocks.help import help_message, notice, status_message
from bot.blocks.hub import hub_message, thread_starter
from bot.blocks.tokens import TOKEN_USAGE, token_created, token_list, token_revoked
from bot.documents import upload_document
from bot.ids import COMMAND
from bot.listeners import imports as import_listener
from bot.listeners.common import Requester, refresh_hub, requester, retire_hub
from bot.listeners.context import services_of
from bot.listeners.errors import replies_to_errors
from bot.listeners.request_thread import InRequestThread
from steps.errors import UserError, channel_ref
from steps.step3 import Section
from storage.db import read_only, transaction

Handler = Callable[[Ack, BoltContext, Requester, WebClient, list[str], dict[str, Any]], None]


def step3(ack: Ack, context: BoltContext, who: Requester, client: WebClient, args: list[str], command: dict) -> None:
    ack()
    services, channel = services_of(context), who.channel()
    with transaction(services.sessions) as session:
        state = plans.open_plan(
            session, team_id=who.team_id, channel_id=channel, channel_name=command.get("channel_name") or channel,
            user_id=who.user_id,
        )  # fmt: skip
        unsaved = plans.unsaved_changes(session, state)
    posted = client.chat_postMessage(channel=channel, **hub_message(state, unsaved))
    with transaction(services.sessions) as session:
        plans.set_hub(session, state.plan, posted["ts"])
        started = set(discussion.threads(session, state.plan))
    if state.plan.hub_ts is not None:
        retire_hub(client, channel, state.plan.hub_ts, posted["ts"])
    for number, section in enumerate(Section, start=1):
        if section in started:
            continue
        root = client.chat_postMessage(channel=channel, **thread_starter(section, number))
        with transaction(services.sessions) as session:
            discussion.add_thread(session, state.plan, section, root["ts"])


def status(ack: Ack, context: BoltContext, who: Requester, client: WebClient, args: list[str], command: dict) -> None:
    services = services_of(context)
    found = plans.status(services.sessions, who.team_id, who.channel())
    ack(**status_message(found, now=services.clock()))


def doc(ack: Ack, context: BoltContext, who: Requester, client: WebClient, args: list[str], command: dict) -> None:
    services = services_of(context)
    with read_only(services.sessions) as session:
        state = plans.load(session, who.team_id, who.channel())
        document = plans.latest_document(session, state.plan) if state is not None else None
    if state is None or document is None:
        raise UserError(f"No plan document yet. Complete Step 3 with `{COMMAND} step3`, then press *[C]*.")
    ack()
    upload_document(client, services, state.plan, document)


def customer(ack: Ack, context: BoltContext, who: Requester, client: WebClient, args: list[str], command: dict) -> None:
    action = args[0].lower() if args else ""
    services = services_of(context)
    now = services.clock()
    with transaction(services.sessions) as session:
        ready = customers.require_runnable(session, plans.require(session, who.team_id, who.channel()).plan)
        if action == "add":
            added, result = imports.add_customer(session, ready, parse_customer_add(args[1:]), who.user_id, now)
            reply = customer_added(added, customers.customer_milestones(session, added), who.user_id, result)
        elif action == "list":
            rows = customers.customers_of(session, ready.plan)
            reply = customer_list(
                ready.plan.name, rows, customers.overdue_counts(session, ready.plan, ready.today(now)),
                customers.data_notes(ready, rows, now),
            )  # fmt: skip
        else:
            raise UserError(f"Usage: {CUSTOMER_ADD_USAGE} or `{COMMAND} customer list`.")
    ack(**reply)


def milestone(
    ack: Ack, context: BoltContext, who: Requester, client: WebClient, args: list[str], command: dict
) -> None:
    request = parse_milestone_done(args)
    services = services_of(context)
    now = services.clock()
    with transaction(services.sessions) as session:
        ready = customers.require_runnable(session, plans.require(session, who.team_id, who.channel()).plan)
        found = customers.find_customer(session, ready.plan, request.customer)
        row = customers.resolve_milestone(customers.customer_milestones(session, found), request.milestone)
        on = request.on or ready.today(now)
        done, breakdown = customers.complete_milestone(session, ready, found, row, on, who.user_id, now)
    ack(**milestone_done(found, done, breakdown, who.user_id))


def signal(ack: Ack, context: BoltContext, who: Requester, client: WebClient, args: list[str], command: dict) -> None:
    name, values = parse_signal(args)
    services = services_of(context)
    now = services.clock()
    with transaction(services.sessions) as session:
        ready = customers.require_runnable(session, plans.require(session, who.team_id, who.channel()).plan)
        found = customers.find_customer(session, ready.plan, name)
        breakdown = customers.record_signals(session, ready, found, values, who.user_id, now)
    ack(**signals_recorded(found, values, breakdown, who.user_id))


def alerts(ack: Ack, context: BoltContext, who: Requester, client: WebClient, args: list[str], command: dict) -> None:
    plan_channel = parse_alerts_here(args)
    sessions, channel = services_of(context).sessions, who.channel()
    with transaction(sessions) as session:
        plan = customers.plan_for_alerts(session, who.team_id, channel, plan_channel)
    # Acked before the membership check, which asks Slack: the answer then goes to the command's response_url.
    ack()
    # Routing a plan's alerts here shows them to this channel: only someone who can see the plan may.
    if plan.channel_id != channel and not access.is_member(client, plan.channel_id, who.user_id):
        raise UserError(
            "You are not a member of {channel}, so you cannot send its plan's alerts here. "
            "Ask someone in that channel to run this command.",
            channel=channel_ref(plan.channel_id),
        )
    with transaction(sessions) as session:
        plan = customers.route_alerts(session, who.team_id, plan.id, channel)
    if context.respond is not None:
        context.respond(**alerts_here(channel, plan.name, who.user_id))


def history(ack: Ack, context: BoltContext, who: Requester, client: WebClient, args: list[str], command: dict) -> None:
    with read_only(services_of(context).sessions) as session:
        state = plans.require(session, who.team_id, who.channel())
        changes = plans.recent_changes(session, state.plan)
    ack(**history_message(state.plan.name, changes))


def rename(ack: Ack, context: BoltContext, who: Requester, client: WebClient, args: list[str], command: dict) -> None:
    name = parse_plan_name(args)
    with transaction(services_of(context).sessions) as session:
        state = plans.rename(session, plans.require(session, who.team_id, who.channel()), name)
    ack(**notice(f"The plan is now called *{esc(name)}*; the hub and the next saved document use that name."))
    refresh_hub(client, services_of(context), state)


def freshness(
    ack: Ack, context: BoltContext, who: Requester, client: WebClient, args: list[str], command: dict
) -> None:
    """Only this channel's plan: the plan is found from the envelope's team and channel, never from an argument."""
    wanted = parse_freshness(args)
    services = services_of(context)
    with read_only(services.sessions) as session:  # checked before the ack: a read, which takes no write lock
        ready = customers.require_runnable(session, plans.require(session, who.team_id, who.channel()).plan)
        data_freshness.check(ready, wanted)
    if not wanted.windows and not wanted.share_given:
        ack(**freshness_settings(data_freshness.settings(ready)))
        return
    # Rescoring every customer of a large plan may take longer than Slack waits: ack first, answer via response_url.
    ack()
    with transaction(services.sessions) as session:
        ready = customers.require_runnable(session, plans.require(session, who.team_id, who.channel()).plan)
        found = data_freshness.change(session, ready, wanted, services.clock())
    if context.respond is not None:
        context.respond(**freshness_settings(found))


def token(ack: Ack, context: BoltContext, who: Requester, client: WebClient, args: list[str], command: dict) -> None:
    """API tokens of this channel's plan; every reply is ephemeral, and a new token is shown only to its creator."""
    action = args[0].lower() if args else ""
    services = services_of(context)
    named = action in ("create", "revoke")
    if action not in ("create", "list", "revoke") or len(args) != (2 if named else 1):
        raise UserError(TOKEN_USAGE)
    with transaction(services.sessions) as session:
        if action == "create":
            new = tokens.create_in_channel(session, who.team_id, who.channel(), args[1], who.user_id, services.clock())
            reply = token_created(new.record.name, new.token, new.plan.name)
        elif action == "list":
            plan, live = tokens.list_tokens(session, who.team_id, who.channel())
            reply = token_list(plan.name, live)
        else:
            plan, revoked = tokens.revoke_token(session, who.team_id, who.channel(), args[1], services.clock())
            reply = token_revoked(revoked.name, plan.name)
    ack(**reply)


HANDLERS: dict[str, Handler] = {
    "history": history,
    "step3": step3,
    "status": status,
    "doc": doc,
    "customer": customer,
    "milestone": milestone,
    "signal": signal,
    "alerts": alerts,
    "rename": rename,
    "import": import_listener.open_import,
    "freshness": freshness,
    "token": token,
}


def onboarding(ack: Ack, context: BoltContext, command: dict[str, Any], client: WebClient) -> None:
    """Every id comes from Slack's envelope (``context``), never from the form's fields."""
    who = requester(context)
    who.channel()
    words = split_words(command.get("text") or "")
    if not words or words[0].lower() == "help":
        ack(**help_message())
        return
    handler = HANDLERS.get(words[0].lower())
    if handler is None:
        ack(**help_message(unknown=words[0]))
        return
    handler(ack, context, who, client, words[1:], command)


answer_onboarding = replies_to_errors(onboarding)
# What answers in the request's own thread: help, which reads nothing ("" is help too), and status, one statement
# on the driver (``storage.plan_status``). As five ORM reads, status measured slower there than in the pool, each
# read a wait for the GIL behind the other request threads. The other subcommands write, or post before they
# answer, and stay in the pool.
IN_REQUEST_THREAD = frozenset({"", "help", "status"})


def _answered_here(req: BoltRequest) -> bool:
    words = str(req.body.get("text") or "").split(maxsplit=1)
    return (words[0].lower() if words else "") in IN_REQUEST_THREAD


def register(app: App) -> None:
    app.command(COMMAND, middleware=[InRequestThread(answer_onboarding, _answered_here)])(answer_onboarding)
