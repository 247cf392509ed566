"""One way for every request to fail: Slack gets its answer in time, the person gets a clear reply.

A refusal (``UserError``) is shown as written, anything else as a short apology with a reference that is logged
with the traceback; the reply takes the form its kind of request can show (``failure_reply``). Database work
happened inside ``transaction()``, which rolled back, so nothing half-done is kept.

``register()`` wraps each listener in ``replies_to_errors`` rather than letting errors reach the app's error
handler (which still catches middleware errors, with the same replies): when a listener raises just after
acking, Bolt 1.30's thread runner can briefly expose a 500 to the request thread, and over Socket Mode no
front door turns that back into a 200. The handlers themselves stay plain functions, importable and testable.
"""

from __future__ import annotations

import inspect
import logging
import uuid
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, Respond
from slack_sdk.errors import SlackApiError

from bot.blocks.common import user_message
from bot.blocks.help import notice
from bot.blocks.refusals import refusal_modal
from bot.ids import COMMAND
from bot.listeners.common import ephemeral
from steps.errors import UserError

logger = logging.getLogger(__name__)

# Errors that mean "the bot cannot post here", which the person who clicked can fix.
CHANNEL_ACCESS_ERRORS = {"not_in_channel", "channel_not_found", "is_archived", "restricted_action"}
# What the wrapper needs from Bolt besides what the listener asks for.
NEEDS = ("ack", "body", "respond")


def explain(error: Exception) -> str:
    """The message for the person; unexpected errors are logged here with the reference they are shown."""
    if isinstance(error, UserError):
        return user_message(error)
    if isinstance(error, SlackApiError) and error.response.get("error") in CHANNEL_ACCESS_ERRORS:
        slack_error = error.response.get("error")
        logger.warning("cannot post in the channel (%s)", slack_error)
        return (
            "I can't post in this channel yet. Invite me with `/invite @onboarding-bot` "
            f"and try again; whatever was already saved stays saved, and `{COMMAND} doc` posts the latest "
            f"document. (Slack said `{slack_error}`.)"
        )
    ref = uuid.uuid4().hex[:8]
    logger.error("unhandled error, ref %s", ref, exc_info=error)
    return f"Something went wrong and nothing more was done. Please try again; if it persists, quote ref `{ref}`."


def failure_reply(body: Any, text: str) -> dict[str, Any]:
    """The answer to a request that failed before its ack, in the form its kind of request can show.

    A slash command gets an ephemeral reply, a modal submission has its form replaced by a "Nothing was saved"
    notice, a search in a select finds nothing; anything else (buttons, shortcuts, events) gets an empty answer
    and hears through its response_url.
    """
    body = body if isinstance(body, dict) else {}
    if isinstance(body.get("command"), str):
        return {"response_type": "ephemeral", **notice(text)}
    if body.get("type") == "view_submission":
        return {"response_action": "update", "view": refusal_modal(text)}
    if body.get("type") == "block_suggestion":
        return {"options": []}  # the select shows "no results"; an empty answer would be an error to Slack
    return {}


def tell(respond: Respond | None, body: Any, text: str) -> None:
    """``text`` to the person through the response_url, if the request has one; never raises."""
    if respond is None:
        return
    try:
        ephemeral(respond, body, notice(text))
    except Exception as failed:  # the report itself must never mask the original error
        logger.warning("could not tell the person about an error: %s", failed)


def reply_to_error(error: Exception, ack: Ack, body: Any, respond: Respond | None) -> None:
    text = explain(error)
    if ack.response is None:  # Slack is still waiting for the answer: it carries the message
        reply = failure_reply(body, text)
        ack(**reply)
        if reply:
            return
    tell(respond, body, text)


def replies_to_errors(listener: Callable[..., None]) -> Callable[..., None]:
    """``listener``, answering Slack and the person whatever it raises (see the module's docstring)."""
    own = inspect.signature(listener)

    def guarded(**kwargs: Any) -> None:
        try:
            listener(**{name: value for name, value in kwargs.items() if name in own.parameters})
        except Exception as error:
            reply_to_error(error, kwargs["ack"], kwargs["body"], kwargs["respond"])

    # Bolt passes arguments by the names in the signature: ask for the listener's and the wrapper's.
    extra = [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in NEEDS if n not in own.parameters]
    guarded.__signature__ = own.replace(parameters=[*own.parameters.values(), *extra])  # type: ignore[attr-defined]
    guarded.__name__, guarded.__qualname__ = listener.__name__, listener.__qualname__
    guarded.__doc__ = listener.__doc__
    return guarded
