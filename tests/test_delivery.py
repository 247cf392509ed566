"""The outbox and its deliverer against the fake Slack, on SQLite and PostgreSQL, with a fake clock (no real sleeps)."""

from __future__ import annotations

import socket
import threading
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest

from bot.delivery import DeliveryReport, backoff
from bot.slack_api import make_client
from sandbox.slack_api import FakeSlack, Queued, audit
from storage import outbox
from storage.db import transaction
from storage.outbox import Claimed
from tests.support.delivery import CHANNEL, LEASE, NOW, TEAM, Crash, Env, FakeClock


def crash_on(key: str) -> Any:
    def after_send(claimed: Claimed) -> None:
        if claimed.key == key:
            raise Crash(key)

    return after_send


# -- enqueue -------------------------------------------------------------------------------------------------------


def test_rolled_back_enqueue_is_never_delivered_and_keys_are_idempotent(env: Env) -> None:
    with pytest.raises(RuntimeError), transaction(env.sessions) as session:
        outbox.enqueue(session, team_id=TEAM, channel_id=CHANNEL, key="gone", message={"text": "x"}, now=NOW)
        raise RuntimeError("the change that caused the post failed")

    with transaction(env.sessions) as session:
        first = outbox.enqueue(session, team_id=TEAM, channel_id=CHANNEL, key="once", message={"text": "1"}, now=NOW)
        again = outbox.enqueue(session, team_id=TEAM, channel_id=CHANNEL, key="once", message={"text": "2"}, now=NOW)
        assert again is first
    assert env.enqueue("once", text="3") == first.id  # and from another transaction
    with transaction(env.sessions) as session:  # the same key in another workspace is another post
        outbox.enqueue(session, team_id="T0OTHER", channel_id=CHANNEL, key="once", message={"text": "4"}, now=NOW)

    assert env.deliverer().deliver_due() == DeliveryReport(sent=2)
    assert [m["text"] for m in env.fake.messages(CHANNEL)] == ["1", "4"]
    assert env.posts("once")[0]["metadata"] == {"event_type": "onboarding_outbox", "event_payload": {"key": "once"}}
    item = env.item("once")
    assert (item.status, item.attempts, item.sent_at) == ("sent", 1, NOW)
    assert item.ts == env.fake.messages(CHANNEL)[0]["ts"]
    with env.sessions() as session:
        assert outbox.pending_count(session, TEAM) == 0


def test_enqueue_refuses_arguments_the_deliverer_sets(env: Env) -> None:
    with pytest.raises(ValueError, match="channel"), transaction(env.sessions) as session:
        outbox.enqueue(session, team_id=TEAM, channel_id=CHANNEL, key="k", message={"channel": "C2"}, now=NOW)


# -- transient errors ------------------------------------------------------------------------------------------------


def test_429_is_retried_by_the_sdk_after_retry_after(env: Env) -> None:
    env.enqueue("a")
    env.fake.fail("chat.postMessage", "ratelimited", status=429, headers={"Retry-After": "0"})

    assert env.deliverer().deliver_due() == DeliveryReport(sent=1)

    assert len(env.posts("a")) == 2
    assert env.posted() == ["a"]
    # RateLimitErrorRetryHandler sleeps Retry-After plus up to one second of jitter, even for "Retry-After: 0".
    assert len(env.sdk_sleeps) == 1
    assert 0 <= env.sdk_sleeps[0] < 1


def test_429_beyond_the_sdk_retries_waits_for_a_later_run(env: Env) -> None:
    env.enqueue("a")
    env.fake.fail("chat.postMessage", "ratelimited", status=429, times=4, headers={"Retry-After": "2"})
    deliverer = env.deliverer()

    assert deliverer.deliver_due() == DeliveryReport(retried=1)
    assert len(env.posts("a")) == 4  # the first try and the SDK's 3 retries
    assert [int(s) for s in env.sdk_sleeps] == [2, 2, 2]
    item = env.item("a")
    assert (item.status, item.attempts, item.error, item.next_attempt_at) == (  # as Slack said: not done, retry in 2 s
        "pending",
        1,
        "ratelimited",
        NOW + timedelta(seconds=2),
    )

    env.clock.advance(seconds=1)
    assert deliverer.deliver_due() == DeliveryReport()
    env.clock.advance(seconds=1)
    assert deliverer.deliver_due() == DeliveryReport(sent=1)
    assert env.posted() == ["a"]
    assert env.item("a").attempts == 2
    assert env.fake.calls_to("conversations.history") == []  # a 429 is "not posted": nothing to look up


def test_a_rate_limited_channel_holds_its_later_posts_in_order(env: Env) -> None:
    for key in ("a", "b"):
        env.enqueue(key)
    env.enqueue("elsewhere", channel="C0OTHER01")
    env.fake.fail("chat.postMessage", "ratelimited", status=429, times=4, headers={"Retry-After": "0"})
    deliverer = env.deliverer()

    assert deliverer.deliver_due() == DeliveryReport(sent=1, retried=1)
    assert env.posted("C0OTHER01") == ["elsewhere"]
    assert (env.item("a").status, env.item("a").next_attempt_at) == ("pending", NOW + timedelta(seconds=1))
    b = env.item("b")
    assert (b.status, b.attempts) == ("pending", 0)  # never tried: "a" is still ahead of it

    env.clock.advance(seconds=1)
    assert deliverer.deliver_due() == DeliveryReport(sent=2)
    assert env.posted() == ["a", "b"]


@pytest.mark.parametrize("status", [500, 503])
def test_server_error_is_looked_up_then_posted(env: Env, status: int) -> None:
    env.enqueue("a")
    env.fake.fail("chat.postMessage", "internal_error", status=status)
    deliverer = env.deliverer()

    assert deliverer.deliver_due() == DeliveryReport(retried=1)  # not repeated blindly: Slack may have stored it
    env.clock.advance(seconds=30)
    assert deliverer.deliver_due() == DeliveryReport(sent=1)
    assert len(env.fake.calls_to("conversations.history")) == 1
    assert len(env.posts("a")) == 2
    assert env.posted() == ["a"]


def test_transient_errors_back_off_up_to_a_cap_and_never_give_up(env: Env) -> None:
    env.enqueue("a")
    # 200 + fatal_error ("some aspect of the operation may have succeeded"): our own backoff, looking up first.
    env.fake.fail("chat.postMessage", "fatal_error", times=12)
    deliverer = env.deliverer()

    waits = []
    for _ in range(12):
        assert deliverer.deliver_due() == DeliveryReport(retried=1)
        item = env.item("a")
        waits.append((item.next_attempt_at - env.clock()).total_seconds())
        env.clock.now = item.next_attempt_at
    assert deliverer.deliver_due() == DeliveryReport(sent=1)

    assert waits == [30, 60, 120, 240, 480, 900, 900, 900, 900, 900, 900, 900]
    item = env.item("a")
    assert (item.status, item.error, item.attempts) == ("sent", None, 13)
    assert len(env.posts("a")) == 13 and env.posted() == ["a"]
    assert [backoff(n).total_seconds() for n in (1, 2, 3, 6, 7, 50)] == [30, 60, 120, 900, 900, 900]


# -- permanent errors ------------------------------------------------------------------------------------------------


def test_channel_not_found_fails_at_once_and_is_listed(env: Env) -> None:
    env.enqueue("lost")
    env.enqueue("fine", channel="C0OTHER01")
    env.fake.fail("chat.postMessage", "channel_not_found")
    deliverer = env.deliverer()

    assert deliverer.deliver_due() == DeliveryReport(sent=1, failed=1)
    env.clock.advance(hours=2)
    assert deliverer.deliver_due() == DeliveryReport()

    assert len(env.posts("lost")) == 1
    item = env.item("lost")
    assert (item.status, item.error, item.attempts) == ("failed", "channel_not_found", 1)
    with env.sessions() as session:
        assert [i.key for i in outbox.failed_items(session, TEAM)] == ["lost"]
        assert outbox.failed_items(session, "T0OTHER") == []
        assert outbox.pending_count(session, TEAM) == 0


def test_invalid_blocks_are_permanent(env: Env) -> None:
    with transaction(env.sessions) as session:
        outbox.enqueue(
            session,
            team_id=TEAM,
            channel_id=CHANNEL,
            key="bad",
            message={"text": "x", "blocks": [{"type": "no_such_block"}]},
            now=NOW,
        )
    assert env.deliverer().deliver_due() == DeliveryReport(failed=1)
    assert env.item("bad").error == "invalid_blocks"
    assert env.fake.take_problems()  # the fake records what Slack rejected


# -- crashes -------------------------------------------------------------------------------------------------------


def test_crash_after_commit_before_any_send(env: Env) -> None:
    env.enqueue("a")  # committed; the process that did it dies before delivering
    assert env.fake.calls_to("chat.postMessage") == []

    assert env.deliverer("worker-2").deliver_due() == DeliveryReport(sent=1)
    assert env.posted() == ["a"]


def test_crash_after_claim_before_send_is_recovered_after_the_lease(env: Env) -> None:
    env.enqueue("a")
    with transaction(env.sessions) as session:
        [claimed] = outbox.claim_due(session, worker_id="dead", now=NOW, limit=10, lease=LEASE)
    assert not claimed.recovered

    deliverer = env.deliverer("worker-2")
    assert deliverer.deliver_due() == DeliveryReport()
    env.clock.advance(seconds=31)
    assert deliverer.deliver_due() == DeliveryReport(sent=1)

    assert len(env.fake.calls_to("conversations.history")) == 1  # looked first: not there
    assert env.posted() == ["a"]
    assert env.item("a").attempts == 2


def test_crash_after_send_is_found_by_its_metadata_not_posted_again(env: Env) -> None:
    env.enqueue("a")
    with pytest.raises(Crash):
        env.deliverer("worker-1", after_send=crash_on("a")).deliver_due()
    item = env.item("a")
    assert (item.status, item.claimed_by, item.ts) == ("sending", "worker-1", None)

    survivor = env.deliverer("worker-2")
    env.clock.advance(seconds=20)
    assert survivor.deliver_due() == DeliveryReport()  # the lease has not expired
    env.clock.advance(seconds=11)
    assert survivor.deliver_due() == DeliveryReport(sent=1)

    assert len(env.posts("a")) == 1
    [message] = env.fake.messages(CHANNEL)
    item = env.item("a")
    assert (item.status, item.ts, item.claimed_by) == ("sent", message["ts"], "worker-2")
    [lookup] = env.fake.calls_to("conversations.history")
    assert lookup.args["channel"] == CHANNEL
    assert lookup.args["include_all_metadata"] in ("1", "true", True)
    assert float(lookup.args["oldest"]) == (NOW - timedelta(seconds=60)).timestamp()


def test_crash_after_sending_a_thread_reply_is_found_in_the_thread(env: Env) -> None:
    env.enqueue("parent")
    env.enqueue("child", parent="parent")
    with pytest.raises(Crash):
        env.deliverer("worker-1", after_send=crash_on("child")).deliver_due()
    assert (env.item("parent").status, env.item("child").status) == ("sent", "sending")

    env.clock.advance(minutes=6)
    assert env.deliverer("worker-2").deliver_due() == DeliveryReport(sent=1)

    assert len(env.posts("child")) == 1
    [lookup] = env.fake.calls_to("conversations.replies")
    assert lookup.args["ts"] == env.item("parent").ts
    assert env.item("child").ts == env.fake.messages(CHANNEL)[1]["ts"]
    assert env.fake.calls_to("conversations.history") == []


def test_recovery_looks_past_the_first_page_of_history(env: Env) -> None:
    env.enqueue("a")
    with pytest.raises(Crash):
        env.deliverer(after_send=crash_on("a")).deliver_due()
    for n in range(150):  # people kept talking
        env.client.chat_postMessage(channel=CHANNEL, text=f"chatter {n}")

    env.clock.advance(minutes=6)
    assert env.deliverer("worker-2").deliver_due() == DeliveryReport(sent=1)
    assert len(env.posts("a")) == 1
    assert len(env.fake.calls_to("conversations.history")) == 2


def test_network_error_leaves_the_outcome_unknown_so_the_next_attempt_looks_first(env: Env) -> None:
    env.enqueue("a")
    env.enqueue("b", channel="C0OTHER01")
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        unreachable = make_client("xoxb-test", f"http://127.0.0.1:{closed.getsockname()[1]}/api/")

    assert env.deliverer(client=unreachable).deliver_due() == DeliveryReport(retried=2)
    a, b = env.item("a"), env.item("b")
    assert (a.status, a.claimed_by, a.attempts) == ("sending", None, 1)
    assert a.error is not None and a.error.startswith("URLError")
    assert (b.status, b.attempts) == ("pending", 0)  # Slack is unreachable: not even tried

    deliverer = env.deliverer()
    assert deliverer.deliver_due() == DeliveryReport()
    env.clock.advance(seconds=30)
    assert deliverer.deliver_due() == DeliveryReport(sent=2)
    assert len(env.fake.calls_to("conversations.history")) == 1  # only for "a"
    assert (env.posted(), env.posted("C0OTHER01")) == (["a"], ["b"])


# -- threads -------------------------------------------------------------------------------------------------------


def test_thread_replies_follow_their_parent(env: Env) -> None:
    env.enqueue("digest")
    env.enqueue("detail-1", parent="digest")
    env.enqueue("detail-2", parent="digest")

    assert env.deliverer().deliver_due() == DeliveryReport(sent=3)

    assert [p["metadata"]["event_payload"]["key"] for p in env.posts()] == ["digest", "detail-1", "detail-2"]
    parent_ts = env.item("digest").ts
    assert [p.get("thread_ts") for p in env.posts()] == [None, parent_ts, parent_ts]
    assert [m.get("thread_ts") for m in env.fake.messages(CHANNEL)] == [None, parent_ts, parent_ts]


def test_replies_to_a_parent_that_failed_for_good_fail_with_its_reason(env: Env) -> None:
    """A reply without its thread would make no sense: it fails with its parent, and says why."""
    env.enqueue("digest")
    env.enqueue("detail-1", parent="digest")
    env.enqueue("detail-2", parent="digest")
    env.enqueue("next")
    env.fake.fail("chat.postMessage", "not_in_channel")

    assert env.deliverer().deliver_due() == DeliveryReport(sent=1, failed=1)

    assert [(env.item(k).status, env.item(k).error) for k in ("digest", "detail-1", "detail-2", "next")] == [
        ("failed", "not_in_channel"),
        ("failed", "parent failed: not_in_channel"),
        ("failed", "parent failed: not_in_channel"),
        ("sent", None),
    ]
    assert len(env.posts()) == 2
    with env.sessions() as session:
        assert outbox.pending_count(session, TEAM) == 0
        assert [i.key for i in outbox.failed_items(session, TEAM)] == ["detail-2", "detail-1", "digest"]


def test_a_reply_left_waiting_behind_a_failed_parent_fails_when_its_turn_comes(env: Env) -> None:
    """Replies queued behind a parent that failed before this rule existed (or after it failed) do not block."""
    env.enqueue("digest")
    with transaction(env.sessions) as session:
        digest = outbox.find(session, TEAM, "digest")
        assert digest is not None
        digest.status, digest.error = "failed", "is_archived"
    env.enqueue("detail", parent="digest")
    env.enqueue("next")

    assert env.deliverer().deliver_due() == DeliveryReport(sent=1)
    assert (env.item("detail").status, env.item("detail").error) == ("failed", "parent failed: is_archived")
    assert env.posted() == ["next"]


# -- pacing --------------------------------------------------------------------------------------------------------


def test_one_channel_is_paced_after_a_burst(env: Env) -> None:
    for n in range(6):
        env.enqueue(f"m{n}")

    assert env.deliverer(burst=3).deliver_due() == DeliveryReport(sent=6)

    assert sum(env.clock.slept) == pytest.approx(3.0)
    assert len(env.clock.slept) == 3
    assert env.posted() == [f"m{n}" for n in range(6)]


def test_different_channels_do_not_wait(env: Env) -> None:
    for n in range(6):
        env.enqueue(f"m{n}", channel=f"C0CHAN{n:03d}")

    assert env.deliverer(burst=3).deliver_due() == DeliveryReport(sent=6)
    assert env.clock.slept == []


def test_the_bucket_refills_over_time(env: Env) -> None:
    deliverer = env.deliverer(burst=3)
    for n in range(3):
        env.enqueue(f"first{n}")
    deliverer.deliver_due()
    env.clock.advance(seconds=2)
    for n in range(3):
        env.enqueue(f"second{n}")
    deliverer.deliver_due()
    assert sum(env.clock.slept) == pytest.approx(1.0)  # two tokens came back, the third post waits a second


# -- concurrency ---------------------------------------------------------------------------------------------------


def test_two_workers_deliver_each_item_exactly_once_in_order(env: Env) -> None:
    channels = [f"C0CONC{n:03d}" for n in range(4)]
    keys = [f"k{n:02d}" for n in range(60)]
    with transaction(env.sessions) as session:
        for n, key in enumerate(keys):
            outbox.enqueue(session, team_id=TEAM, channel_id=channels[n % 4], key=key, message={"text": key}, now=NOW)
    start = threading.Barrier(2)
    reports: dict[str, DeliveryReport] = {}
    errors: list[BaseException] = []

    def work(worker_id: str) -> None:
        clock = FakeClock()
        deliverer = env.deliverer(worker_id, clock=clock, sleep=clock.sleep, per_channel_interval=0)
        start.wait()
        try:
            reports[worker_id] = deliverer.deliver_due()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(f"worker-{n}",)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert sum(r.sent for r in reports.values()) == 60
    assert all(r.retried == r.failed == 0 for r in reports.values())
    posted = Counter(p["metadata"]["event_payload"]["key"] for p in env.posts())
    assert posted == Counter(keys)
    result = audit(env.fake, [Queued(key, channels[n % 4]) for n, key in enumerate(keys)])
    assert result.perfect, str(result)
    with env.sessions() as session:
        assert outbox.pending_count(session, TEAM) == 0


def test_a_claim_skips_rows_another_worker_is_claiming(env: Env) -> None:
    if env.engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers: the second claim would wait for the first, not skip its rows")
    for n in range(5):
        env.enqueue(f"k{n}", channel=f"C0SKIP{n:03d}")
        env.enqueue(f"k{n}-later", channel=f"C0SKIP{n:03d}")
    with transaction(env.sessions) as first:
        mine = outbox.claim_due(first, worker_id="w1", now=NOW, limit=2, lease=LEASE)
        with transaction(env.sessions) as second:  # while the first claim is not committed yet
            theirs = outbox.claim_due(second, worker_id="w2", now=NOW, limit=10, lease=LEASE)
    # One post per channel in flight: the second worker takes the other channels' heads, never a later post of a
    # channel the first one is sending to.
    assert [c.key for c in mine] == ["k0", "k1"]
    assert [c.key for c in theirs] == ["k2", "k3", "k4"]
    with transaction(env.sessions) as third:
        assert outbox.claim_due(third, worker_id="w3", now=NOW, limit=10, lease=LEASE) == []


def test_only_each_channel_head_is_claimed(env: Env) -> None:
    env.enqueue("a1")
    env.enqueue("b1", channel="C0OTHER01")
    env.enqueue("a2")
    with transaction(env.sessions) as session:
        claimed = outbox.claim_due(session, worker_id="w1", now=NOW, limit=10, lease=LEASE)
    assert [c.key for c in claimed] == ["a1", "b1"]
    with transaction(env.sessions) as session:
        outbox.mark_retry(session, claimed[0].item_id, "ratelimited", NOW + timedelta(minutes=1))
        outbox.mark_sent(session, claimed[1].item_id, "1.1", NOW)
    with transaction(env.sessions) as session:  # "a1" waits for its retry: "a2" still may not overtake it
        assert outbox.claim_due(session, worker_id="w1", now=NOW, limit=10, lease=LEASE) == []
    with transaction(env.sessions) as session:
        later = NOW + timedelta(minutes=1)
        assert [c.key for c in outbox.claim_due(session, worker_id="w1", now=later, limit=10, lease=LEASE)] == ["a1"]


# -- the fake's history and replies ----------------------------------------------------------------------------------


def test_fake_history_and_replies(fake: FakeSlack) -> None:
    client = make_client("xoxb-test", fake.base_url)
    meta = {"event_type": "t", "event_payload": {"key": "p"}}
    parent = client.chat_postMessage(channel=CHANNEL, text="parent", metadata=meta)["ts"]
    reply = client.chat_postMessage(channel=CHANNEL, text="reply", thread_ts=parent, metadata=meta)["ts"]
    # slack_sdk sends a JSON body; a form-encoded call carries metadata as a JSON string.
    later = client.api_call(
        "chat.postMessage",
        data={"channel": CHANNEL, "text": "later", "metadata": '{"event_type": "t", "event_payload": {"key": "l"}}'},
    )["ts"]

    history = client.conversations_history(channel=CHANNEL)
    assert [m["ts"] for m in history["messages"]] == [later, parent]
    assert all("metadata" not in m for m in history["messages"])
    assert history["messages"][1]["reply_count"] == 1
    with_meta = client.conversations_history(channel=CHANNEL, include_all_metadata=True, oldest=parent)
    assert [m["metadata"]["event_payload"]["key"] for m in with_meta["messages"]] == ["l"]

    replies = client.conversations_replies(channel=CHANNEL, ts=parent, include_all_metadata=True)
    assert [m["ts"] for m in replies["messages"]] == [parent, reply]
    assert replies["messages"][1]["metadata"] == meta
    assert [m["ts"] for m in fake.messages(CHANNEL)] == [parent, reply, later]

    page = client.conversations_history(channel=CHANNEL, limit=1)
    assert page["has_more"] is True
    rest = client.conversations_history(channel=CHANNEL, limit=1, cursor=page["response_metadata"]["next_cursor"])
    assert [m["ts"] for m in rest["messages"]] == [parent]
