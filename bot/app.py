"""The Bolt app: client, middleware, listeners and the one error handler."""

from __future__ import annotations

import logging
import uuid
from concurrent.futures import Executor
from typing import Any

from slack_bolt import App, BoltResponse
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.blocks.help import notice
from bot.ids import COMMAND
from bot.listeners import register
from bot.middleware import deduplicate
from bot.services import Services

logger = logging.getLogger(__name__)

# Errors that mean "the bot cannot post here", which the person who clicked can fix.
CHANNEL_ACCESS_ERRORS = {"not_in_channel", "channel_not_found", "is_archived", "restricted_action"}


def create_app(
    *,
    client: WebClient,
    services: Services,
    signing_secret: str | None,
    listener_executor: Executor | None = None,
) -> App:
    app = App(
        client=client,
        signing_secret=signing_secret or "",
        # Socket Mode has no HTTP requests to verify.
        request_verification_enabled=bool(signing_secret),
        listener_executor=listener_executor,
        raise_error_for_unhandled_request=False,
    )
    app.use(deduplicate(services))
    register(app, services)

    @app.error
    def on_error(error: Exception, body: dict[str, Any], respond: Any) -> BoltResponse | None:
        ref = uuid.uuid4().hex[:8]
        if isinstance(error, SlackApiError) and error.response.get("error") in CHANNEL_ACCESS_ERRORS:
            logger.warning("cannot post in the channel (%s), ref %s", error.response.get("error"), ref)
            text = (
                "I can't post in this channel yet. Invite me with `/invite @onboarding-bot` "
                f"and try again; whatever was already saved stays saved, and `{COMMAND} doc` posts the latest "
                f"document. (Slack said `{error.response.get('error')}`.)"
            )
        else:
            logger.exception("unhandled error, ref %s", ref, exc_info=error)
            text = (
                f"Something went wrong and nothing more was done. Please try again; if it persists, quote ref `{ref}`."
            )
        if respond is not None and body.get("response_url"):
            try:
                respond(response_type="ephemeral", replace_original=False, **notice(text))
            except Exception:  # the report itself must never mask the original error
                logger.exception("could not tell the user about error ref %s", ref)
        return None

    return app
