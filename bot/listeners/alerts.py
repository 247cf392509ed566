"""The buttons on missed-milestone alerts: Mark done, Extend deadline (a modal), Acknowledge."""

from __future__ import annotations

from datetime import date
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot import announcements, customers
from bot.blocks.alerts import extend_modal, replace_alert_buttons
from bot.blocks.common import esc, mention
from bot.blocks.customers import score_line
from bot.blocks.help import notice
from bot.blocks.inputs import read_state
from bot.ids import ALERT_ACK, ALERT_DONE, ALERT_EXTEND, EXTEND_CALLBACK
from bot.listeners.common import (
    Requester,
    clicked_message_ts,
    client_key,
    ephemeral,
    id_value,
    requester,
    state_values,
    trigger_id,
)
from bot.listeners.context import services_of
from bot.listeners.errors import replies_to_errors
from bot.metadata import ExtendMetadata
from steps.errors import UserError
from storage.db import transaction


def _clicked(context: BoltContext, body: dict[str, Any], action: dict[str, Any]) -> tuple[Requester, int, str]:
    """Who clicked, which alert the button names, and the message it was clicked on (Slack's envelope)."""
    return requester(context), id_value(action), clicked_message_ts(body)


def _update_alert_message(
    client: WebClient, body: dict[str, Any], channel: str, ts: str, alert_id: int, note: str
) -> None:
    message = body.get("message")
    message = message if isinstance(message, dict) else {}
    blocks = message.get("blocks")
    client.chat_update(
        channel=channel,
        ts=ts,
        text=str(message.get("text") or ""),
        blocks=replace_alert_buttons(blocks if isinstance(blocks, list) else [], alert_id, note),
    )


def mark_done(ack: Ack, context: BoltContext, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
    ack()
    who, alert_id, message_ts = _clicked(context, body, action)
    services = services_of(context)
    now = services.clock()
    with transaction(services.sessions) as session:
        found = customers.load_alert(session, who.team_id, alert_id, who.channel(), message_ts)
        if found.milestone is None:
            raise UserError("This alert is not about a milestone.")
        today = found.ready.today(now)
        _, breakdown = customers.complete_milestone(
            session, found.ready, found.customer, found.milestone, today, who.user_id, now
        )
        note = (
            f":white_check_mark: Marked done by {mention(who.user_id)} on {today:%Y-%m-%d}. "
            f"{esc(found.customer.name)}: {score_line(breakdown)}"
        )
    _update_alert_message(client, body, who.channel(), message_ts, alert_id, note)


def acknowledge(
    ack: Ack, context: BoltContext, body: dict[str, Any], action: dict[str, Any], client: WebClient,
    respond: Respond,
) -> None:  # fmt: skip
    ack()
    who, alert_id, message_ts = _clicked(context, body, action)
    services = services_of(context)
    with transaction(services.sessions) as session:
        found = customers.load_alert(session, who.team_id, alert_id, who.channel(), message_ts)
        alert, first = customers.acknowledge(session, found.alert, who.user_id, services.clock())
    by, at = alert.acknowledged_by, alert.acknowledged_at
    if by is None or at is None:
        raise RuntimeError(f"alert {alert_id} has no acknowledgement after acknowledging it")
    note = f":eyes: Acknowledged by {mention(by)} at {at:%Y-%m-%d %H:%M} UTC."
    if not first:
        ephemeral(respond, body, notice(f"{mention(by)} had already acknowledged this alert."))
    _update_alert_message(client, body, who.channel(), message_ts, alert_id, note)


def open_extend(
    ack: Ack, context: BoltContext, body: dict[str, Any], action: dict[str, Any], client: WebClient
) -> None:
    ack()
    who, alert_id, message_ts = _clicked(context, body, action)
    with transaction(services_of(context).sessions) as session:
        found = customers.load_alert(session, who.team_id, alert_id, who.channel(), message_ts)
        if found.milestone is None or found.milestone.completed_on is not None:
            raise UserError("This milestone is already done; there is no deadline to extend.")
        metadata = ExtendMetadata(
            team_id=who.team_id,
            user_id=who.user_id,
            alert_id=alert_id,
            channel_id=who.channel(),
            message_ts=message_ts,
        ).dump(client_key(client))
        view = extend_modal(
            alert_id, found.customer.name, found.milestone.position, found.milestone.name,
            found.milestone.due_date, metadata,
        )  # fmt: skip
    client.views_open(trigger_id=trigger_id(body), view=view)


def extend(ack: Ack, context: BoltContext, body: dict[str, Any], view: dict[str, Any], client: WebClient) -> None:
    who, key = requester(context), client_key(client)
    meta = ExtendMetadata.load(view.get("private_metadata"), key, team_id=who.team_id, user_id=who.user_id)
    picked = read_state(state_values(view)).get("new_due")
    services = services_of(context)
    now = services.clock()
    try:
        new_due = _new_due(picked)
        with transaction(services.sessions) as session:
            found = customers.load_alert(session, meta.team_id, meta.alert_id, meta.channel_id, meta.message_ts)
            if found.milestone is None:
                raise UserError("This alert is not about a milestone.")
            customers.extend_deadline(session, found.ready, found.milestone, new_due, who.user_id, now)
            # The alert itself came from the outbox, so the note goes there too, as a reply in its thread.
            announcements.deadline_extended(
                session, found.alert, found.customer, found.milestone, new_due, who.user_id, meta.channel_id,
                meta.message_ts, now, request=str(body.get("trigger_id"))[:64],
            )  # fmt: skip
    except UserError as bad:
        ack(response_action="errors", errors={"new_due": bad.plain()})
        return
    ack()
    services.wake_delivery()


def _new_due(picked: object) -> date:
    if not picked:
        raise UserError("Pick the new deadline.")
    try:
        return date.fromisoformat(str(picked))
    except ValueError:
        raise UserError("Pick the new deadline from the calendar.") from None


def register(app: App) -> None:
    app.action(ALERT_DONE)(replies_to_errors(mark_done))
    app.action(ALERT_ACK)(replies_to_errors(acknowledge))
    app.action(ALERT_EXTEND)(replies_to_errors(open_extend))
    app.view(EXTEND_CALLBACK)(replies_to_errors(extend))
