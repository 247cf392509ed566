"""The buttons on missed-milestone alerts: Mark done, Extend deadline (a modal), Acknowledge."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot import announcements, customers
from bot.blocks.alerts import AlertStatus, MissedMilestone, alert_ids, done_modal, extend_modal, refreshed_alerts
from bot.blocks.common import esc, mention
from bot.blocks.customers import score_line
from bot.blocks.help import notice
from bot.blocks.inputs import read_state
from bot.ids import ALERT_ACK, ALERT_DONE, ALERT_EXTEND, DONE_CALLBACK, EXTEND_CALLBACK
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
from storage.db import Session, transaction


def _clicked(context: BoltContext, body: dict[str, Any], action: dict[str, Any]) -> tuple[Requester, int, str]:
    """Who clicked, which alert the button names, and the message it was clicked on (Slack's envelope)."""
    return requester(context), id_value(action), clicked_message_ts(body)


def _current(found: customers.AlertContext, today: date, note: str = "") -> tuple[MissedMilestone, AlertStatus]:
    """One milestone alert as it stands now: its current due date and what has been done about it."""
    milestone = found.milestone
    if milestone is None:
        raise UserError("This alert is not about a milestone.")
    item = MissedMilestone(
        found.alert.id, found.customer.name, milestone.position, milestone.name, milestone.due_date,
        (today - milestone.due_date).days, found.customer.owner_id, tuple(found.ready.health.monitors),
    )  # fmt: skip
    status = AlertStatus(
        acknowledged_by=found.alert.acknowledged_by, acknowledged_at=found.alert.acknowledged_at,
        completed_on=milestone.completed_on, completed_by=milestone.completed_by, extended_by=milestone.extended_by,
        note=note,
    )  # fmt: skip
    return item, status


def _refreshed(session: Session, found: customers.AlertContext, now: datetime, note: str = "") -> dict[str, Any]:
    """The post ``found`` is in, with every alert in it as it stands now (the others may have changed too)."""
    message = found.message
    blocks = message.get("blocks")
    blocks = blocks if isinstance(blocks, list) else []
    today = found.ready.today(now)
    current = {
        alert_id: _current(alert, today, note if alert_id == found.alert.id else "")
        for alert_id, alert in customers.alerts_in_post(session, found, alert_ids(blocks)).items()
        if alert.milestone is not None
    }
    return {"text": str(message.get("text") or ""), "blocks": refreshed_alerts(blocks, current)}


def open_done(ack: Ack, context: BoltContext, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
    """Mark done opens a form asking on which day the milestone was reached (today by default)."""
    ack()
    who, alert_id, message_ts = _clicked(context, body, action)
    services = services_of(context)
    with transaction(services.sessions) as session:
        found = customers.load_alert(session, who.team_id, alert_id, who.channel(), message_ts)
        if found.milestone is None:
            raise UserError("This alert is not about a milestone.")
        if found.milestone.completed_on is not None:
            raise UserError("This milestone is already done (on {day}).", day=f"{found.milestone.completed_on}")
        metadata = ExtendMetadata(
            team_id=who.team_id, user_id=who.user_id, alert_id=alert_id, channel_id=who.channel(),
            message_ts=message_ts,
        ).dump(client_key(client))  # fmt: skip
        today = found.ready.today(services.clock())
        view = done_modal(found.customer.name, found.milestone.position, found.milestone.name, today, metadata)
    client.views_open(trigger_id=trigger_id(body), view=view)


def mark_done(ack: Ack, context: BoltContext, body: dict[str, Any], view: dict[str, Any], client: WebClient) -> None:
    who, key = requester(context), client_key(client)
    meta = ExtendMetadata.load(view.get("private_metadata"), key, team_id=who.team_id, user_id=who.user_id)
    services = services_of(context)
    now = services.clock()
    try:
        on = _picked_date(read_state(state_values(view)).get("done_on"), "Pick the day it was reached.")
        with transaction(services.sessions) as session:
            found = customers.load_alert(session, meta.team_id, meta.alert_id, meta.channel_id, meta.message_ts)
            if found.milestone is None:
                raise UserError("This alert is not about a milestone.")
            done, breakdown = customers.complete_milestone(
                session, found.ready, found.customer, found.milestone, on, who.user_id, now
            )
            score = f"{esc(found.customer.name)}: {score_line(breakdown)}"
            updated = _refreshed(session, replace(found, milestone=done), now, score)
    except UserError as bad:
        ack(response_action="errors", errors={"done_on": bad.plain()})
        return
    ack()
    client.chat_update(channel=meta.channel_id, ts=meta.message_ts, **updated)


def acknowledge(
    ack: Ack, context: BoltContext, body: dict[str, Any], action: dict[str, Any], client: WebClient,
    respond: Respond,
) -> None:  # fmt: skip
    ack()
    who, alert_id, message_ts = _clicked(context, body, action)
    services = services_of(context)
    now = services.clock()
    with transaction(services.sessions) as session:
        found = customers.load_alert(session, who.team_id, alert_id, who.channel(), message_ts)
        alert, first = customers.acknowledge(session, found.alert, who.user_id, now)
        updated = _refreshed(session, replace(found, alert=alert), now) if found.milestone is not None else None
    if not first and alert.acknowledged_by is not None:
        ephemeral(respond, body, notice(f"{mention(alert.acknowledged_by)} had already acknowledged this alert."))
    if updated is not None:
        client.chat_update(channel=who.channel(), ts=message_ts, **updated)


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
            found.customer.name, found.milestone.position, found.milestone.name, found.milestone.due_date, metadata
        )
    client.views_open(trigger_id=trigger_id(body), view=view)


def extend(ack: Ack, context: BoltContext, body: dict[str, Any], view: dict[str, Any], client: WebClient) -> None:
    who, key = requester(context), client_key(client)
    meta = ExtendMetadata.load(view.get("private_metadata"), key, team_id=who.team_id, user_id=who.user_id)
    picked = read_state(state_values(view)).get("new_due")
    services = services_of(context)
    now = services.clock()
    try:
        new_due = _picked_date(picked, "Pick the new deadline.")
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
    # The alert itself now says the new date: it never shows a stale deadline.
    with transaction(services.sessions) as session:
        found = customers.load_alert(session, meta.team_id, meta.alert_id, meta.channel_id, meta.message_ts)
        updated = _refreshed(session, found, now)
    client.chat_update(channel=meta.channel_id, ts=meta.message_ts, **updated)


def _picked_date(picked: object, missing: str) -> date:
    if not picked:
        raise UserError(missing)
    try:
        return date.fromisoformat(str(picked))
    except ValueError:
        raise UserError("Pick the day from the calendar.") from None


def register(app: App) -> None:
    app.action(ALERT_DONE)(replies_to_errors(open_done))
    app.view(DONE_CALLBACK)(replies_to_errors(mark_done))
    app.action(ALERT_ACK)(replies_to_errors(acknowledge))
    app.action(ALERT_EXTEND)(replies_to_errors(open_extend))
    app.view(EXTEND_CALLBACK)(replies_to_errors(extend))
