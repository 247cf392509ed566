"""`/onboarding import`: a CSV file of customers or signals uploaded in a form, imported after the form closes."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import customers, imports, plans
from bot.blocks.common import user_message
from bot.blocks.imports import import_modal, import_refused, import_report
from bot.files import SLACK_FILE_LIMIT, fetch_upload
from bot.ids import IMPORT_CALLBACK, IMPORT_FILE, IMPORT_KIND, VALUE
from bot.listeners.common import Requester, client_key, requester, state_values, trigger_id
from bot.listeners.context import services_of
from bot.listeners.errors import replies_to_errors
from bot.metadata import ImportMetadata
from steps.csv_rows import read_csv, rejected_csv
from steps.errors import UserError
from steps.imports import ImportReport, Kind
from storage.db import read_only, transaction

logger = logging.getLogger(__name__)


def open_import(
    ack: Ack, context: BoltContext, who: Requester, client: WebClient, args: list[str], command: dict
) -> None:
    """The upload form, for a plan whose Step 3 is saved (customers follow its milestones)."""
    with read_only(services_of(context).sessions) as session:  # before the ack: a read takes no write lock
        state = plans.require(session, who.team_id, who.channel())
        customers.require_runnable(session, state.plan)
    ack()
    meta = ImportMetadata(
        team_id=who.team_id, user_id=who.user_id, plan_id=state.plan.id, channel_id=state.plan.channel_id
    )
    view = import_modal(meta.dump(client_key(client)), state.plan.name, SLACK_FILE_LIMIT // 1_048_576)
    client.views_open(trigger_id=trigger_id(command), view=view)


def _picked(values: Any) -> tuple[Kind | None, str | None]:
    """The kind and the uploaded file's id, as the form can send them (None for anything else)."""

    def element(block_id: str) -> dict[str, Any]:
        entry = values.get(block_id) if isinstance(values, dict) else None
        found = entry.get(VALUE) if isinstance(entry, dict) else None
        return found if isinstance(found, dict) else {}

    option = element(IMPORT_KIND).get("selected_option")
    value = option.get("value") if isinstance(option, dict) else None
    kind = Kind(value) if value in {k.value for k in Kind} else None
    files = element(IMPORT_FILE).get("files")
    ids = [f.get("id") for f in files if isinstance(f, dict)] if isinstance(files, list) else []
    file_id = ids[0] if len(ids) == 1 and isinstance(ids[0], str) and ids[0].isascii() and ids[0].isalnum() else None
    return kind, file_id


def submit_import(ack: Ack, context: BoltContext, view: dict[str, Any], client: WebClient) -> None:
    services, who = services_of(context), requester(context)
    meta = ImportMetadata.load(
        view.get("private_metadata"), client_key(client), team_id=who.team_id, user_id=who.user_id
    )
    kind, file_id = _picked(state_values(view))
    if kind is None or file_id is None:
        errors = {}
        if kind is None:
            errors[IMPORT_KIND] = "Pick what the file holds."
        if file_id is None:
            errors[IMPORT_FILE] = "Upload one CSV file."
        ack(response_action="errors", errors=errors)
        return
    ack()  # downloading and importing take longer than the 3 s Slack waits for an answer
    name = "the file"
    try:
        name, content = fetch_upload(client, file_id, user_id=meta.user_id)
        rows = read_csv(kind, content).rows
        with transaction(services.sessions) as session:
            ready = customers.require_runnable(session, plans.in_team(session, meta.team_id, meta.plan_id))
            now = services.clock()
            if kind is Kind.CUSTOMERS:
                report = imports.import_customers(session, ready, rows, user_id=meta.user_id, now=now)
            else:
                report = imports.import_signals(session, ready, rows, source="csv", user_id=meta.user_id, now=now)
    except UserError as refused:
        client.chat_postEphemeral(
            channel=meta.channel_id, user=meta.user_id, **import_refused(name, user_message(refused))
        )
        return
    sent = _send_rejected(client, meta.user_id, name, report)
    client.chat_postEphemeral(
        channel=meta.channel_id, user=meta.user_id, **import_report(report, name, rejected_file=sent)
    )
    services.wake_delivery()


def _send_rejected(client: WebClient, user_id: str, name: str, report: ImportReport) -> bool:
    """The rejected rows as a CSV file in the person's DM with the app (an ephemeral message holds no file)."""
    if not report.rejected:
        return False
    try:
        dm = client.conversations_open(users=user_id)["channel"]["id"]
        client.files_upload_v2(
            channel=dm,
            content=rejected_csv([(r.row, r.column, r.reason) for r in report.rejected]),
            filename=f"rejected-rows-{name}",
            title=f"Rows not imported from {name}",
            initial_comment=f"The rows of {name} that were not imported, with the reason for each.",
        )
    except SlackApiError as exc:  # the report itself still reaches the person, with the first rows listed
        logger.warning("rejected rows of %s not sent to %s: %s", name, user_id, exc.response.get("error"))
        return False
    return True


def register(app: App) -> None:
    app.view(IMPORT_CALLBACK)(replies_to_errors(submit_import))
