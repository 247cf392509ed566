"""The buttons on missed-milestone alerts: Mark done, Extend deadline (a modal), Acknowledge."""

from __future__ import annotations

from datetime import date
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot import customers
from bot.arguments import ArgumentError
from bot.blocks.alerts import extend_modal, replace_alert_buttons
from bot.blocks.common import esc, mention
from bot.blocks.customers import score_line
from bot.blocks.help import notice
from bot.ids import ALERT_ACK, ALERT_DONE, ALERT_EXTEND, EXTEND_CALLBACK, VALUE
from bot.metadata import ExtendMetadata
from bot.services import Services
from storage import outbox
from storage.db import transaction


def _ephemeral(respond: Respond, text: str) -> None:
    respond(response_type="ephemeral", replace_original=False, **notice(text))


def _update_alert_message(client: WebClient, body: dict[str, Any], alert_id: int, note: str) -> None:
    message = body["message"]
    client.chat_update(
        channel=body["channel"]["id"],
        ts=body["container"]["message_ts"],
        text=message.get("text", ""),
        blocks=replace_alert_buttons(message.get("blocks", []), alert_id, note),
    )


def register(app: App, services: Services) -> None:
    @app.action(ALERT_DONE)
    def mark_done(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, respond: Respond) -> None:
        ack()
        user_id, now = body["user"]["id"], services.clock()
        alert_id = int(action["value"])
        try:
            with transaction(services.sessions) as session:
                found = customers.load_alert(session, body["team"]["id"], alert_id)
                if found.milestone is None:
                    raise ArgumentError("This alert is not about a milestone.")
                today = found.ready.today(now)
                breakdown = customers.complete_milestone(
                    session, found.ready, found.customer, found.milestone, today, user_id, now
                )
                note = (
                    f":white_check_mark: Marked done by {mention(user_id)} on {today:%Y-%m-%d}. "
                    f"{esc(found.customer.name)}: {score_line(breakdown)}"
                )
        except ArgumentError as bad:
            _ephemeral(respond, str(bad))
            return
        _update_alert_message(client, body, alert_id, note)

    @app.action(ALERT_ACK)
    def acknowledge(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        ack()
        user_id, now = body["user"]["id"], services.clock()
        alert_id = int(action["value"])
        try:
            with transaction(services.sessions) as session:
                found = customers.load_alert(session, body["team"]["id"], alert_id)
                first = customers.acknowledge(found.alert, user_id, now)
                by, at = found.alert.acknowledged_by, found.alert.acknowledged_at
        except ArgumentError as bad:
            _ephemeral(respond, str(bad))
            return
        assert by is not None and at is not None
        note = f":eyes: Acknowledged by {mention(by)} at {at:%Y-%m-%d %H:%M} UTC."
        if not first:
            _ephemeral(respond, f"{mention(by)} had already acknowledged this alert.")
        _update_alert_message(client, body, alert_id, note)

    @app.action(ALERT_EXTEND)
    def open_extend(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        ack()
        alert_id = int(action["value"])
        try:
            with transaction(services.sessions) as session:
                found = customers.load_alert(session, body["team"]["id"], alert_id)
                if found.milestone is None or found.milestone.completed_on is not None:
                    raise ArgumentError("This milestone is already done; there is no deadline to extend.")
                metadata = ExtendMetadata(
                    alert_id=alert_id, channel_id=body["channel"]["id"], message_ts=body["container"]["message_ts"]
                ).dump()
                view = extend_modal(
                    alert_id, found.customer.name, found.milestone.position, found.milestone.name,
                    found.milestone.due_date, metadata,
                )  # fmt: skip
        except ArgumentError as bad:
            _ephemeral(respond, str(bad))
            return
        client.views_open(trigger_id=body["trigger_id"], view=view)

    @app.view(EXTEND_CALLBACK)
    def extend(ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient) -> None:
        meta = ExtendMetadata.load(view["private_metadata"])
        picked = view["state"]["values"]["new_due"][VALUE].get("selected_date")
        user_id, now = body["user"]["id"], services.clock()
        try:
            if not picked:
                raise ArgumentError("Pick the new deadline.")
            new_due = date.fromisoformat(picked)
            with transaction(services.sessions) as session:
                found = customers.load_alert(session, body["team"]["id"], meta.alert_id)
                if found.milestone is None:
                    raise ArgumentError("This alert is not about a milestone.")
                customers.extend_deadline(session, found.ready, found.milestone, new_due, user_id, now)
                text = (
                    f"{mention(user_id)} extended “{esc(found.milestone.name)}” for *{esc(found.customer.name)}* "
                    f"to {new_due:%Y-%m-%d}."
                )
                # The alert itself came from the outbox, so the note goes there too, as a reply in its thread.
                parent = outbox.find_posted(session, found.alert.team_id, meta.channel_id, meta.message_ts)
                outbox.enqueue(
                    session, team_id=found.alert.team_id, channel_id=meta.channel_id, plan_id=found.alert.plan_id,
                    key=f"extended:{found.milestone.id}:{new_due.isoformat()}:{body['trigger_id']}",
                    message=notice(text), now=now, parent=parent,
                )  # fmt: skip
        except ArgumentError as bad:
            ack(response_action="errors", errors={"new_due": str(bad)})
            return
        ack()
        services.wake_delivery()
