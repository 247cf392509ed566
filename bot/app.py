"""The Bolt app: client, middleware, listeners and the one error handler."""

from __future__ import annotations

import logging
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Any

from slack_bolt import App, BoltContext, BoltResponse
from slack_bolt.request.payload_utils import is_slash_command, is_view_submission
from slack_sdk import WebClient

from bot.blocks.help import notice
from bot.blocks.refusals import refusal_modal
from bot.listeners import register
from bot.listeners.errors import explain
from bot.middleware import deduplicate, keep_first_ack
from bot.services import Services

logger = logging.getLogger(__name__)


class BotApp(App):
    """Bolt's App, remembering its signing secret: the HTTP front door checks signatures before Bolt parses."""

    def __init__(self, *, signing_secret: str, **kwargs: Any) -> None:
        super().__init__(signing_secret=signing_secret, **kwargs)
        self.signing_secret = signing_secret


def error_response(body: Any, text: str) -> BoltResponse:
    """The 200 that answers a request which failed before its ack, in the form its kind of request can show.

    A slash command gets an ephemeral reply, a modal submission has its form replaced by a "nothing was saved"
    notice; anything else (buttons, shortcuts, events) gets an empty 200, and buttons and shortcuts hear about it
    through their ``response_url`` (see ``on_error``). ``text`` is mrkdwn-safe and never a traceback.
    """
    body = body if isinstance(body, dict) else {}
    if is_slash_command(body):
        return BoltResponse(status=200, body={"response_type": "ephemeral", **notice(text)})
    if _is_view_submission(body):
        return BoltResponse(status=200, body={"response_action": "update", "view": refusal_modal(text)})
    return BoltResponse(status=200, body="")


def failure_response(body: Any, error: Exception) -> BoltResponse:
    """``error_response`` for ``error``: logged once (with its traceback and a reference, unless it is a refusal)."""
    return error_response(body, explain(error))


def _is_view_submission(body: dict[str, Any]) -> bool:
    try:
        return is_view_submission(body)
    except TypeError:  # a "view" that is not an object
        return False


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
        client=client,
        signing_secret=signing_secret or "",
        # Socket Mode has no HTTP requests to verify.
        request_verification_enabled=bool(signing_secret),
        listener_executor=executor,
        raise_error_for_unhandled_request=False,
    )
    app.use(keep_first_ack)
    app.use(deduplicate(services))
    register(app, services)

    def tell(context: BoltContext, text: str) -> None:
        try:
            respond = context.respond
            if respond is not None:
                respond(response_type="ephemeral", replace_original=False, **notice(text))
        except Exception as exc:  # the report itself must never mask the original error
            logger.warning("could not tell the person about an error: %s", exc)

    @app.error
    def on_error(
        error: Exception, body: Any, context: BoltContext, response: BoltResponse | None
    ) -> BoltResponse | None:
        """Whatever a listener or middleware lets escape ends here: never a 5xx, never a traceback to the person.

        The listeners answer their own errors (``bot.listeners.errors``); this is the net under them, for Bolt's
        own machinery and the middleware. ``response`` is what Bolt is about to answer (a 500) when the failure
        came before the ack; returning a response replaces it. After the ack it is None: the answer has gone.
        """
        try:
            text = explain(error)
            replacement = error_response(body, text) if response is not None else None
            url = context.response_url
            if (replacement is None or not replacement.body) and isinstance(url, str) and url:
                # Off the request thread: a slow response_url must not hold the ack back.
                executor.submit(tell, context, text)
            return replacement
        except Exception:
            logger.exception("the error handler failed")
            return BoltResponse(status=200, body="") if response is not None else None

    return app
