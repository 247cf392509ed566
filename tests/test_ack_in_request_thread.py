"""`/onboarding help`, `/onboarding status` and the [MH] click are answered in their request's own thread.

Bolt's listener pool (5 workers) is where every other listener does its work after the ack: hub posts, forms,
uploads, response_url posts. These three used to wait there for a free worker, so a pool busy with slow Slack calls
held back answers that need none. Here the pool is kept busy on purpose, and they still answer at once.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sandbox import payloads as sr
from tests.support.answers import complete_step3
from tests.support.harness import BotHarness

POOL_WORKERS = 5


@contextmanager
def busy_pool(bot: BotHarness) -> Iterator[threading.Event]:
    """Every worker of the listener pool blocked until the given event is set (at the latest on leaving)."""
    bot.executor.wait_idle()
    release = threading.Event()
    started = threading.Barrier(POOL_WORKERS + 1)

    def hold() -> None:
        started.wait(timeout=10)
        release.wait(timeout=30)

    for _ in range(POOL_WORKERS):
        bot.executor.submit(hold)
    started.wait(timeout=10)
    try:
        yield release
    finally:
        release.set()


def _signed(body: str) -> dict[str, str]:
    return {"Content-Type": "application/x-www-form-urlencoded", **sr.sign(body)}


def _command(bot: BotHarness, text: str) -> tuple[int, bytes]:
    body = sr.form_body(sr.slash_command(text, response_url=bot.response_url))
    return bot.call_front_door(body.encode(), _signed(body))


def test_help_and_status_answer_while_every_listener_worker_is_busy(bot: BotHarness) -> None:
    complete_step3(bot)
    with busy_pool(bot):
        status, answer = _command(bot, "help")
        assert status == 200 and b"/onboarding step3" in answer
        status, answer = _command(bot, "status")
        assert status == 200 and b"Document versions: 1" in answer


def test_a_menu_help_click_is_acked_before_its_reply_is_posted(bot: BotHarness) -> None:
    bot.command("step3")
    hub = bot.hub()
    posts_before = len(bot.fake.responses)
    with busy_pool(bot) as release:
        body = sr.interactive_body(sr.message_action(hub, "menu_help", response_url=bot.response_url))
        status, answer = bot.call_front_door(body.encode(), _signed(body))
        assert (status, answer) == (200, b"")
        assert len(bot.fake.responses) == posts_before  # the reply waits for a worker; the ack did not
        release.set()
        bot.executor.wait_idle()
    reply = bot.fake.responses[-1]
    assert reply["response_type"] == "ephemeral" and "[MH] Menu Help" in reply["text"]
