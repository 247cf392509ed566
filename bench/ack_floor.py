"""The floor ``bench.ack_latency --concurrency`` compares the bot with: a bare async Bolt app on uvicorn.

It answers the same three requests as the bot, with the same signing secret, and does nothing else:
``/onboarding help`` and ``/onboarding status`` ack with a static ephemeral text (so status reads nothing); the
hub's ``menu_help`` button acks empty and then, as the bot does, posts the same help message to the request's
response_url. Slack shows nothing for a click until a reply arrives, so a floor that only acked would be a bot
that answers no click; the post is part of the work in both (in the floor, a task on its event loop after the ack).
Bolt's defaults otherwise (signature check, its middleware, listeners run as tasks while the request
waits for the ack). Uvicorn with h11 and the asyncio loop, named rather than left to what is installed: with
httptools and uvloop present (``uvicorn[standard]``) uvicorn picks them by itself, and the floor then costs half the
CPU per request (bench/README.md), so the same command would measure a different floor on another machine. No access
log: the bot logs no line per request either. Started as its own process::

    python -m bench.ack_floor --port PORT --api-url http://127.0.0.1:NNNN/api/
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import uvicorn
from slack_bolt.adapter.asgi.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.help import menu_help_message
from bot.ids import COMMAND, MENU_HELP
from sandbox.payloads import SIGNING_SECRET

TOKEN = "xoxb-test-token"
HELP_TEXT = "Static help: /onboarding step3 starts Step 3."
STATUS_TEXT = "Static status: nothing to report."


def floor_app(api_url: str) -> AsyncApp:
    # The client only answers Bolt's one auth.test (on the first request) from the fake Slack.
    app = AsyncApp(name="ack-floor", signing_secret=SIGNING_SECRET, client=AsyncWebClient(TOKEN, base_url=api_url))

    @app.command(COMMAND)
    async def command(ack: AsyncAck, command: dict[str, Any]) -> None:
        text = STATUS_TEXT if command.get("text", "").startswith("status") else HELP_TEXT
        await ack(response_type="ephemeral", text=text)

    @app.action(MENU_HELP)
    async def menu_help(ack: AsyncAck, respond: AsyncRespond) -> None:
        await ack()
        await respond(response_type="ephemeral", replace_original=False, **menu_help_message())

    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--api-url", required=True, help="the fake Slack Web API the app's client talks to")
    args = parser.parse_args(argv)
    handler = AsyncSlackRequestHandler(floor_app(args.api_url))
    uvicorn.run(
        handler, host="127.0.0.1", port=args.port, http="h11", loop="asyncio", log_level="warning", access_log=False
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
