"""A handler is a plain function: import it, give it a context holding the services, call it.

No app, no HTTP, no signature: what the handler acks, and the refusals it raises (which ``register()``'s wrapper
and the app's error handler turn into replies), are visible directly.
"""

from __future__ import annotations

import json

import pytest
from slack_bolt import Ack, BoltContext
from slack_sdk import WebClient

from bot.listeners import actions, commands
from bot.listeners.context import PLAN, SERVICES
from bot.plans import NO_PLAN, PlanState
from bot.services import Services
from sandbox.payloads import ALICE, CHANNEL, TEAM
from steps.errors import UserError
from storage.db import make_engine, make_session_factory, transaction
from storage.records import PlanRecord


@pytest.fixture
def context(database_url: str):
    engine = make_engine(database_url)
    yield BoltContext(
        {SERVICES: Services(make_session_factory(engine)), "team_id": TEAM, "user_id": ALICE, "channel_id": CHANNEL}
    )
    engine.dispose()


def _acked(ack: Ack) -> dict:
    assert ack.response is not None
    return json.loads(ack.response.body)


def test_a_command_handler_called_alone_acks_its_answer(context: BoltContext) -> None:
    ack = Ack()
    commands.onboarding(ack=ack, context=context, command={"text": "help"}, client=WebClient(token="xoxb-x"))
    assert "onboarding-bot" in _acked(ack)["text"]


def test_a_handler_called_alone_raises_the_refusal_its_wrapper_shows(context: BoltContext) -> None:
    with pytest.raises(UserError) as refused:
        commands.onboarding(ack=Ack(), context=context, command={"text": "status"}, client=WebClient(token="x"))
    assert refused.value.plain() == NO_PLAN
    with transaction(context["services"].sessions) as session:
        assert session.connection().exec_driver_sql("SELECT count(*) FROM plans").scalar() == 0


def test_a_button_handler_reads_the_plan_its_middleware_resolved(context: BoltContext) -> None:
    plan = PlanRecord(1, TEAM, CHANNEL, "onboarding-acme", None, (), None, None, None)
    context[PLAN] = PlanState(plan, {})
    answers: list[dict] = []
    body = {"response_url": "https://hooks.slack.com/actions/T/1/x"}
    actions.revise(ack=Ack(), context=context, body=body, respond=lambda **message: answers.append(message))
    assert (
        answers
        and answers[0]["response_type"] == "ephemeral"
        and "What do you want to revise" in json.dumps(answers[0])
    )
