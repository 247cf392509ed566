"""Events API: the App Home tab."""

from __future__ import annotations

from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

from bot.blocks.home import home_view
from bot.home import plan_summaries
from bot.services import Services
from storage.db import transaction


def register(app: App, services: Services) -> None:
    @app.event("app_home_opened")
    def publish_home(event: dict[str, Any], body: dict[str, Any], client: WebClient) -> None:
        if event.get("tab") != "home":
            return
        with transaction(services.sessions) as session:
            view = home_view(plan_summaries(session, body["team_id"], services.clock()))
        client.views_publish(user_id=event["user"], view=view)
