"""Delivery when Slack misbehaves: a post stored but answered with a 500 or a dropped connection, long outages.

Each test checks what Slack ends up holding (``sandbox.slack_api.audit``): every queued post exactly once, none
missing, in queue order per channel, thread replies in their parent's thread.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from slack_sdk.errors import SlackApiError

from bot.blocks.help import ago
from bot.delivery import MAX_BACKOFF, Deliverer
from bot.slack_api import make_client
from sandbox.payloads import ALICE
from sandbox.slack_api import Audit, FakeSlack, Queued, audit
from storage import outbox
from tests.support.answers import complete_step3
from tests.support.delivery import CHANNEL, NOW, TEAM, Env
from tests.support.harness import BotHarness


def queue(env: Env, channels: int, per_channel: int) -> list[Queued]:
    """Posts queued round-robin over ``channels``; every second post of a channel replies to the one before it."""
    queued: list[Queued] = []
    names = [f"C0FAULT{n:03d}" for n in range(channels)]
    for n in range(per_channel):
        for channel in names:
            key = f"{channel}:{n}"
            parent = f"{channel}:{n - 1}" if n % 2 else None
            env.enqueue(key, channel=channel, parent=parent)
            queued.append(Queued(key, channel, parent))
    return queued


def drive(env: Env, deliverer: Deliverer, *, step: timedelta = timedelta(seconds=30), rounds: int = 60) -> int:
    """Deliver, then let ``step`` of fake time pass, until nothing is waiting; the number of rounds it took."""
    for n in range(1, rounds + 1):
        deliverer.deliver_due()
        with env.sessions() as session:
            if outbox.pending_count(session, TEAM) == 0:
                return n
        env.clock.advance(seconds=step.total_seconds())
    return rounds


def check(result: Audit, sent: int) -> None:
    assert (result.delivered, result.lost, result.duplicated, result.out_of_order, result.wrong_thread) == (
        sent,
        0,
        0,
        0,
        0,
    ), str(result)


# -- the Web API client -------------------------------------------------------------------------------------------


def test_the_client_retries_only_calls_that_are_safe_to_repeat(fake: FakeSlack, sdk_sleeps: list[float]) -> None:
    client = make_client("xoxb-test", fake.base_url)

    fake.fail("conversations.history", "internal_error", status=500)
    fake.fail("conversations.replies", drop=True)
    fake.fail("chat.update", "service_unavailable", status=503)
    ts = client.chat_postMessage(channel=CHANNEL, text="first")["ts"]
    assert client.conversations_history(channel=CHANNEL)["ok"]
    assert client.conversations_replies(channel=CHANNEL, ts=ts)["ok"]
    assert client.chat_update(channel=CHANNEL, ts=ts, text="edited")["ok"]
    assert [len(fake.calls_to(m)) for m in ("conversations.history", "conversations.replies", "chat.update")] == [
        2,
        2,
        2,
    ]

    # A post Slack may have stored is never sent again blindly: the caller decides (the outbox looks it up).
    fake.store_then_fail()
    with pytest.raises(SlackApiError) as failed:
        client.chat_postMessage(channel=CHANNEL, text="second")
    assert failed.value.response.status_code == 500
    fake.store_then_drop()
    with pytest.raises(ConnectionError):
        client.chat_postMessage(channel=CHANNEL, text="third")
    fake.fail("views.open", "internal_error", status=500)
    with pytest.raises(SlackApiError):
        client.views_open(trigger_id=fake.issue_trigger_id(), view={"type": "modal", "title": {"type": "plain_text",
                          "text": "t"}, "blocks": []})  # fmt: skip
    assert len(fake.calls_to("chat.postMessage")) == 3
    assert len(fake.calls_to("views.open")) == 1
    assert [m["text"] for m in fake.messages(CHANNEL)] == ["edited", "second", "third"]

    # 429 means "not done": retried after Retry-After, whatever the method.
    fake.fail("chat.postMessage", "ratelimited", status=429, headers={"Retry-After": "0"})
    client.chat_postMessage(channel=CHANNEL, text="fourth")
    assert len(fake.calls_to("chat.postMessage")) == 5
    assert [m["text"] for m in fake.messages(CHANNEL)][-1:] == ["fourth"]


# -- the post may be in Slack: look before posting again -------------------------------------------------------------


@pytest.mark.parametrize("fault", ["store_then_fail", "store_then_drop"])
def test_a_post_slack_stored_before_failing_is_delivered_once(env: Env, fault: str) -> None:
    queued = queue(env, channels=4, per_channel=6)
    getattr(env.fake, fault)(times=len(queued))  # every post's first attempt is stored, then the answer fails

    drive(env, env.deliverer())

    check(audit(env.fake, queued), sent=len(queued))
    assert env.fake.faults_left("chat.postMessage") == 0
    assert len(env.fake.calls_to("chat.postMessage")) == len(queued)  # each found by its metadata, never re-sent
    with env.sessions() as session:
        assert outbox.failed_items(session, TEAM) == []


def test_a_post_that_timed_out_after_slack_stored_it_is_delivered_once(env: Env) -> None:
    queued = queue(env, channels=1, per_channel=2)
    env.fake.fail("chat.postMessage", after_store=True, stall=1.5)
    impatient = make_client("xoxb-test", env.fake.base_url, timeout=1)

    drive(env, env.deliverer(client=impatient))

    check(audit(env.fake, queued), sent=2)
    assert len(env.fake.calls_to("chat.postMessage")) == 2


def test_a_dropped_connection_holds_only_its_own_channel(env: Env) -> None:
    env.enqueue("a")
    env.enqueue("b", channel="C0OTHER01")
    env.fake.store_then_drop()

    report = env.deliverer().deliver_due()

    assert (report.sent, report.retried) == (1, 1)
    assert (env.item("a").status, env.item("a").claimed_by) == ("sending", None)  # may be in Slack: looked up next
    assert env.posted("C0OTHER01") == ["b"]


def test_a_500_before_storing_is_looked_up_then_posted(env: Env) -> None:
    env.enqueue("a")
    env.fake.fail("chat.postMessage", "internal_error", status=500)
    deliverer = env.deliverer()

    report = deliverer.deliver_due()
    assert (report.sent, report.retried) == (0, 1)
    item = env.item("a")
    assert (item.status, item.claimed_by, item.error) == ("sending", None, "internal_error")  # outcome unknown
    env.clock.advance(seconds=30)
    assert deliverer.deliver_due().sent == 1

    assert len(env.fake.calls_to("conversations.history")) == 1
    assert env.posted() == ["a"]


def test_rate_limited_posts_wait_for_retry_after_and_are_not_looked_up(env: Env) -> None:
    env.enqueue("a")
    env.fake.fail("chat.postMessage", "ratelimited", status=429, times=4, headers={"Retry-After": "90"})
    deliverer = env.deliverer()

    assert deliverer.deliver_due().retried == 1
    item = env.item("a")
    assert (item.status, item.error, item.next_attempt_at) == ("pending", "ratelimited", NOW + timedelta(seconds=90))
    env.clock.advance(seconds=90)
    assert deliverer.deliver_due().sent == 1
    assert env.fake.calls_to("conversations.history") == []
    assert env.posted() == ["a"]


def test_random_faults_never_duplicate_lose_or_reorder(env: Env) -> None:
    queued = queue(env, channels=5, per_channel=8)
    rng = random.Random(7)
    for _ in range(60):
        fault = rng.choice(["store_then_fail", "store_then_drop", "drop", "503", "429", "fatal", "ok"])
        if fault in ("store_then_fail", "store_then_drop"):
            getattr(env.fake, fault)()
        elif fault == "drop":
            env.fake.fail("chat.postMessage", drop=True)
        elif fault == "503":
            env.fake.fail("chat.postMessage", "service_unavailable", status=503)
        elif fault == "429":
            env.fake.fail("chat.postMessage", "ratelimited", status=429, times=4, headers={"Retry-After": "1"})
        elif fault == "fatal":  # HTTP 200, but "it's possible some aspect of the operation succeeded"
            env.fake.fail("chat.postMessage", "fatal_error", after_store=rng.random() < 0.5)
        else:
            env.fake.succeed("chat.postMessage")

    drive(env, env.deliverer(), rounds=200)

    check(audit(env.fake, queued), sent=len(queued))


# -- outages -------------------------------------------------------------------------------------------------------


def test_a_three_hour_outage_loses_nothing_and_delivery_resumes_in_order(env: Env) -> None:
    queued = queue(env, channels=9, per_channel=3)
    outage_ends = NOW + timedelta(hours=3)
    env.fake.outage(until=outage_ends, clock=env.clock)
    deliverer = env.deliverer()
    step = timedelta(minutes=1)

    delivered_at = None
    while env.clock() < outage_ends + timedelta(hours=1):
        deliverer.deliver_due()
        with env.sessions() as session:
            assert outbox.failed_items(session, TEAM) == [], "a transient error became a permanent failure"
            if env.clock() < outage_ends:
                assert outbox.pending_count(session, TEAM) == len(queued)
            elif outbox.pending_count(session, TEAM) == 0:
                delivered_at = env.clock()
                break
        env.clock.advance(seconds=step.total_seconds())

    check(audit(env.fake, queued), sent=len(queued))
    assert delivered_at is not None
    # Within one (capped) backoff period of Slack's recovery, plus the step of this loop and the thread replies' turn.
    assert delivered_at - outage_ends <= MAX_BACKOFF + 2 * step
    assert timedelta(minutes=15) >= MAX_BACKOFF


# -- what the team sees ----------------------------------------------------------------------------------------------


def test_status_and_app_home_show_how_long_posts_have_been_waiting(bot: BotHarness) -> None:
    complete_step3(bot)
    bot.command('customer add "Acme Corp" start=2026-12-01')
    bot.tick()  # what the setup queued goes out
    assert "waiting to go out" not in bot.command("status").json()["text"]
    bot.fake.outage()
    queued_at = datetime(2026, 12, 9, 10, 0, tzinfo=UTC)
    bot.tick(queued_at)  # a missed-milestone alert and a health update, Slack down
    bot.fake.end_outage()  # (nothing delivers them before the team looks)
    bot.clock.set(queued_at + timedelta(hours=2, minutes=14, seconds=30))

    status = bot.command("status").json()["text"]
    waiting = "posts waiting to go out, oldest queued 2 h 14 min ago; Slack has been failing: `service_unavailable`."
    assert waiting in status
    with bot.sessions() as session:
        backlog = outbox.backlog(session, TEAM)
        assert backlog is not None and f"{backlog.count} {waiting}" in status
    bot.event({"type": "app_home_opened", "user": ALICE, "channel": "D0HOME001", "tab": "home"})
    assert waiting in str(bot.fake.last("views.publish").args["view"]["blocks"])

    bot.tick(queued_at + timedelta(hours=3))
    assert "waiting to go out" not in bot.command("status").json()["text"]


def test_ages_read_like_people_say_them() -> None:
    assert [ago(timedelta(seconds=s)) for s in (0, 59, 60, 3599, 3600, 8070, 86399, 90000, 2 * 86400 + 7200)] == [
        "less than a minute",
        "less than a minute",
        "1 min",
        "59 min",
        "1 h 0 min",
        "2 h 14 min",
        "23 h 59 min",
        "1 d 1 h",
        "2 d 2 h",
    ]
