"""Listener registration: one module per kind of Slack request, each with module-level handlers and ``register(app)``.

The services reach the handlers through Bolt's context (``bot.listeners.context``), so registering needs only the app.
"""

from __future__ import annotations

from slack_bolt import App

from bot.listeners import actions, alerts, commands, events, imports, messages, options, shortcuts, views


def register(app: App) -> None:
    commands.register(app)
    actions.register(app)
    views.register(app)
    imports.register(app)
    options.register(app)
    alerts.register(app)
    events.register(app)
    messages.register(app)
    shortcuts.register(app)
