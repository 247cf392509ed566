"""`/onboarding help`, `/onboarding status` and the [MH] click are answered even when every listener worker is busy
(issue 12).

Bolt runs listeners in a pool of 5 threads, which also runs each listener's work after its ack (posting the hub,
opening a form, answering through response_url). An answer handed to that pool waited for a free worker, and with
Slack's real latency the after-ack work of a few clicks can hold every worker for a while. These three are answered
in their request's own thread (``bot.listeners.request_thread``); the click's reply still goes out from the pool.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from sandbox import payloads as sr
from tests.support.answers import complete_step3
from tests.support.harness import BotHarness

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@contextmanager
def busy_workers(bot: BotHarness) -> Iterator[threading.Event]:
    """Every listener worker blocked until the given event is set (at the latest on leaving)."""
    bot.executor.wait_idle()
    workers = bot.executor._max_workers
    release, started = threading.Event(), threading.Barrier(workers + 1)

    def hold() -> None:
        started.wait(timeout=10)
        release.wait(timeout=30)

    for _ in range(workers):
        bot.executor.submit(hold)
    started.wait(timeout=10)  # each worker holds one: nothing queued behind them can run
    try:
        yield release
    finally:
        release.set()


def ask(bot: BotHarness, text: str) -> tuple[int, str]:
    """A slash command through the front door, without waiting for the listener pool (Bolt answers 404 when its
    3 s wait for an ack runs out)."""
    body = sr.form_body(sr.slash_command(text, response_url=bot.response_url))
    status, answer = bot.call_front_door(body.encode(), {**FORM, **sr.sign(body)})
    return status, answer.decode()


@pytest.mark.parametrize("text", ["help", "HELP", ""])
def test_help_answers_while_every_worker_is_busy(bot: BotHarness, text: str) -> None:
    with busy_workers(bot):
        status, answer = ask(bot, text)
    assert status == 200 and "/onboarding step3" in answer, answer


def test_status_answers_while_every_worker_is_busy(bot: BotHarness) -> None:
    complete_step3(bot)
    with busy_workers(bot):
        status, answer = ask(bot, "status")
        assert status == 200 and "Document versions: 1" in answer, answer
        status, answer = ask(bot, "status")
        assert status == 200 and "Document versions: 1" in answer, answer


def test_a_menu_help_click_is_acked_before_its_reply_goes_out(bot: BotHarness) -> None:
    bot.command("step3")
    replies_before = len(bot.fake.responses)
    body = sr.interactive_body(sr.message_action(bot.hub(), "menu_help", response_url=bot.response_url))
    with busy_workers(bot) as release:
        assert bot.call_front_door(body.encode(), {**FORM, **sr.sign(body)}) == (200, b"")
        assert len(bot.fake.responses) == replies_before  # the reply waits for a worker; the ack did not
        release.set()
        bot.executor.wait_idle()
    reply = bot.fake.responses[-1]
    assert reply["response_type"] == "ephemeral" and "[MH] Menu Help" in reply["text"]
