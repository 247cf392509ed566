"""`/onboarding help` is answered even when every listener worker is busy (issue 12).

Bolt runs listeners in a pool of 5 threads, which also runs each listener's work after its ack (posting the hub,
opening a form, answering through response_url). Help handed to that pool waited for a free worker, and with
Slack's real latency the after-ack work of a few clicks can hold every worker for a while.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from sandbox import payloads as sr
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


@pytest.mark.parametrize("text", ["help", "HELP", ""])
def test_help_answers_while_every_worker_is_busy(bot: BotHarness, busy_workers: None, text: str) -> None:
    status, answer, elapsed = ask(bot, text)
    assert status == 200 and "/onboarding step3" in answer, answer
    assert elapsed < QUICK_S
