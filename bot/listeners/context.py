"""What the listeners find in Bolt's context: the services, and the plan of the channel a request came from.

Middleware puts them there, so each listener is a plain module-level function that can be imported and called
alone, with a context holding whatever it needs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from slack_bolt import BoltContext, BoltRequest, BoltResponse
from slack_bolt.middleware import Middleware

from bot import plans
from bot.listeners.common import requester
from bot.plans import PlanState
from bot.services import Services
from storage.db import read_only

logger = logging.getLogger(__name__)

SERVICES = "services"
AFTER_ACK = "after_ack"
PLAN = "plan"


class ProvideServices(Middleware):
    """Puts the services in every request's context, and ``after_ack``, Bolt's listener pool: where a listener
    answered in its request's thread does its slower work once the ack has gone (``later``). Like all the bot's
    middleware, a ``Middleware`` class, not a function, for the reason given on ``bot.middleware.KeepFirstAck``."""

    def __init__(self, services: Services, after_ack: Executor) -> None:
        self.services = services
        self.after_ack = after_ack

    def process(self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]) -> BoltResponse:
        req.context[SERVICES] = self.services
        req.context[AFTER_ACK] = self.after_ack
        return next()


def services_of(context: BoltContext) -> Services:
    services = context.get(SERVICES)
    if not isinstance(services, Services):
        raise RuntimeError("no services in the context: the app was built without ProvideServices")
    return services


def later(context: BoltContext, work: Callable[..., None], *args: Any) -> None:
    """Run ``work`` in the listener pool, after the ack: a failure there is logged, since nobody waits for it."""
    executor = context.get(AFTER_ACK)
    if not isinstance(executor, Executor):
        raise RuntimeError("no listener pool in the context: the app was built without ProvideServices")

    def run() -> None:
        try:
            work(*args)
        except Exception:
            logger.exception("work after the ack failed")

    executor.submit(run)


class ChannelPlan(Middleware):
    """Listener middleware: the plan of the channel the request came from, or the one "no plan here" refusal."""

    def process(self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]) -> BoltResponse:
        context = req.context
        who = requester(context)
        with read_only(services_of(context).sessions) as session:
            context[PLAN] = plans.require(session, who.team_id, who.channel())
        return next()


channel_plan = ChannelPlan()


def plan_of(context: BoltContext) -> PlanState:
    state = context.get(PLAN)
    if not isinstance(state, PlanState):
        raise RuntimeError("no plan in the context: the listener was registered without channel_plan")
    return state
