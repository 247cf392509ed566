"""Listener registration: one module per kind of Slack request, each with ``register(app, services)``."""

from __future__ import annotations

from slack_bolt import App

from bot.listeners import actions, alerts, commands, events, messages, shortcuts, views
from bot.services import Services


def register(app: App, services: Services) -> None:
    commands.register(app, services)
    actions.register(app, services)
    views.register(app, services)
    alerts.register(app, services)
    events.register(app, services)
    messages.register(app, services)
    shortcuts.register(app, services)
