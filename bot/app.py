"""The Bolt app: client, middleware, listeners and the one error handler."""

from __future__ import annotations

import logging
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Any

from slack_bolt import App, BoltContext, BoltResponse
from slack_sdk import WebClient

from bot.listeners import register
from bot.listeners.context import ProvideServices
from bot.listeners.errors import explain, failure_reply, tell
from bot.middleware import Deduplicate, KeepFirstAck
from bot.services import Services

logger = logging.getLogger(__name__)


class BotApp(App):
    """Bolt's App, remembering its signing secret: the HTTP front door checks signatures before Bolt parses."""

    def __init__(self, *, signing_secret: str, **kwargs: Any) -> None:
        super().__init__(signing_secret=signing_secret, **kwargs)
        self.signing_secret = signing_secret


def failure_response(body: Any, error: Exception) -> BoltResponse:
    """The 200 answering a request that failed before its ack (``error`` is logged once, with a reference)."""
    return BoltResponse(status=200, body=failure_reply(body, explain(error)) or "")


def create_app(
    *,
    client: WebClient,
    services: Services,
    signing_secret: str | None,
    listener_executor: Executor | None = None,
) -> App:
    # Bolt's own default, made here so that error reports can go through the same pool.
    executor = listener_executor or ThreadPoolExecutor(max_workers=5)
    app = BotApp(
        # Named, or Bolt names the app after its caller's file with inspect.stack(): 40 ms per app for nothing.
        name="onboarding-bot",
        client=client,
        signing_secret=signing_secret or "",
        # Socket Mode has no HTTP requests to verify.
        request_verification_enabled=bool(signing_secret),
        listener_executor=executor,
        raise_error_for_unhandled_request=False,
    )
    app.use(KeepFirstAck())
    app.use(ProvideServices(services, after_ack=executor))
    app.use(Deduplicate(services))
    register(app)

    @app.error
    def on_error(
        error: Exception, body: Any, context: BoltContext, response: BoltResponse | None
    ) -> BoltResponse | None:
        """Whatever a middleware (such as the one resolving the channel's plan) or Bolt's own machinery raises ends
        here, with the replies the listeners give their own errors (``bot.listeners.errors``): never a 5xx, never
        a traceback to the person. ``response`` is what Bolt is about to answer (a 500) when the failure came
        before the ack; returning a response replaces it. After the ack it is None: the answer has gone, so the
        person hears through the request's response_url.
        """
        try:
            text = explain(error)
            reply = failure_reply(body, text) if response is not None else {}
            if not reply:
                # Off the request thread: a slow response_url must not hold the ack back.
                executor.submit(tell, context.respond, body, text)
            return BoltResponse(status=200, body=reply or "") if response is not None else None
        except Exception:
            logger.exception("the error handler failed")
            return BoltResponse(status=200, body="") if response is not None else None

    return app
