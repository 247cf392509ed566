"""Events API: the App Home tab."""

from __future__ import annotations

from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient

from bot import access
from bot.blocks.home import home_view
from bot.home import plan_summaries
from bot.listeners.common import is_slack_id
from bot.listeners.context import services_of
from bot.listeners.errors import replies_to_errors
from storage.db import transaction


def publish_home(event: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    user, team = event.get("user"), context.team_id
    if event.get("tab") != "home" or not is_slack_id(user) or not is_slack_id(team):
        return
    services = services_of(context)
    # The Home tab is one person's: it lists only the plans of channels they are in.
    visible = access.channels_of(client, user)
    with transaction(services.sessions) as session:
        view = home_view(plan_summaries(session, team, services.clock(), visible))
    client.views_publish(user_id=user, view=view)


def register(app: App) -> None:
    app.event("app_home_opened")(replies_to_errors(publish_home))
