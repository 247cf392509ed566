"""Help, status and history are answered even when every listener worker is busy (issue 12).

Bolt runs listeners in a pool of 5 threads, which also runs each listener's work after its ack (posting the hub,
opening a form, answering through response_url). A read-only subcommand handed to that pool waited for a free
worker, and with Slack's real latency the after-ack work of a few clicks can hold every worker for a while.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from sandbox import payloads as sr
from tests.support.answers import complete_step3
from tests.support.harness import BotHarness

# Bolt gives up waiting for an ack after 3 s; a request that queued for a worker takes at least that.
QUICK_S = 1.5


@pytest.fixture
def busy_workers(bot: BotHarness) -> Iterator[None]:
    release = threading.Event()
    for _ in range(bot.executor._max_workers):
        bot.executor.submit(release.wait, 10)
    try:
        yield
    finally:
        release.set()


def ask(bot: BotHarness, text: str) -> tuple[int, str, float]:
    body = sr.form_body(sr.slash_command(text, response_url=bot.response_url))
    headers = {"Content-Type": "application/x-www-form-urlencoded", **sr.sign(body)}
    started = time.monotonic()
    status, answer = bot.call_front_door(body.encode(), headers)
    return status, answer.decode(), time.monotonic() - started


@pytest.mark.parametrize(("text", "expected"), [("help", "/onboarding step3"), ("status", "onboarding-acme"),
                                                ("history", "onboarding-acme"), ("", "/onboarding step3")])  # fmt: skip
def test_read_only_subcommands_answer_while_every_worker_is_busy(
    bot: BotHarness, text: str, expected: str, request: pytest.FixtureRequest
) -> None:
    complete_step3(bot)
    request.getfixturevalue("busy_workers")
    status, answer, elapsed = ask(bot, text)
    assert status == 200 and expected in answer, answer
    assert elapsed < QUICK_S


def test_a_refusal_is_answered_the_same_way(bot: BotHarness, busy_workers: None) -> None:
    status, answer, elapsed = ask(bot, "status")  # no plan in this channel yet
    assert status == 200 and "step3" in answer, answer
    assert elapsed < QUICK_S
