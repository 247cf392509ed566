"""HTTP mode: Bolt's WSGI adapter behind waitress, plus a health check."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from sqlalchemy import Engine, text

logger = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def wsgi_app(app: App, engine: Engine) -> WsgiApp:
    slack = SlackRequestHandler(app, path=EVENTS_PATH)

    def health(start_response: Callable[..., Any]) -> Iterable[bytes]:
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            status, body = "200 OK", {"status": "ok"}
        except Exception as exc:  # a health check reports failure, it does not raise
            logger.warning("health check failed: %s", exc)
            status, body = "503 Service Unavailable", {"status": "error", "database": "unreachable"}
        start_response(status, [("Content-Type", "application/json")])
        return [json.dumps(body).encode()]

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == HEALTH_PATH and environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            return health(start_response)
        return slack(environ, start_response)

    return application


def serve(application: WsgiApp, port: int, host: str = "0.0.0.0") -> None:
    from waitress import serve as waitress_serve

    logger.info("listening on http://%s:%s%s", host, port, EVENTS_PATH)
    waitress_serve(application, host=host, port=port, threads=8, ident="onboarding-bot")
