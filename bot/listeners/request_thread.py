"""Listeners answered in their request's own thread, not in Bolt's listener pool.

Bolt runs a listener in its pool (5 workers) and has the request's thread look for the ack every 10 ms
(slack_bolt/listener/thread_runner.py). For a listener that only answers, the ack then waited for a free worker,
behind other requests' after-ack work (hub posts, forms, uploads, response_url posts), then for that next look.
A listener middleware that answers ends the request instead, with the ack as the response: the listener runs in
the request's thread, and whatever it leaves for after the ack goes to the pool (``bot.listeners.context.later``).
Measured in bench/README.md, "Under load".
"""

from __future__ import annotations

from collections.abc import Callable

from slack_bolt import BoltRequest, BoltResponse
from slack_bolt.middleware import Middleware


class InRequestThread(Middleware):
    """Listener middleware: runs ``listener`` (wrapped by ``replies_to_errors``, which passes it the arguments it
    names) here when ``applies`` to the request, and answers with its ack; otherwise the request goes on to Bolt."""

    def __init__(self, listener: Callable[..., None], applies: Callable[[BoltRequest], bool] = lambda _: True) -> None:
        self.listener = listener
        self.applies = applies

    def process(self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]) -> BoltResponse:
        if not self.applies(req):
            return next()
        context = req.context
        ack = context.ack
        self.listener(
            ack=ack, context=context, body=req.body, command=req.body, client=context.client, respond=context.respond
        )
        return ack.response or BoltResponse(status=200, body="")
