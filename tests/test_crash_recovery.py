"""A delivering process dies (kill -9): what it had claimed goes out within seconds, once, in each channel's order."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot import delivery
from sandbox.slack_api import FakeSlack, Queued, audit
from storage import outbox
from storage.db import make_engine, make_session_factory, transaction
from storage.models import OutboxMessage
from tests.support.databases import sqlite_copy
from tests.support.delivery import NOW, TEAM, Env
from tests.support.process import start_bot, stop

LEASE = timedelta(seconds=30)


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def queue(env: Env, channels: list[str], per_channel: int, start: int = 0) -> list[Queued]:
    queued = []
    for n in range(start, start + per_channel):
        for channel in channels:
            env.enqueue(f"{channel}:{n}", channel=channel)
            queued.append(Queued(f"{channel}:{n}", channel))
    return queued


def test_a_restart_on_the_same_host_takes_over_the_dead_process_claims_at_once(env: Env) -> None:
    channels = ["C0CRASH01", "C0CRASH02"]
    queued = queue(env, channels, per_channel=3)
    dead = f"{delivery.HOST}:{dead_pid()}:0badf00d"
    with transaction(env.sessions) as session:
        claimed = outbox.claim_due(session, worker_id=dead, now=NOW, limit=100, lease=LEASE)
    env.client.chat_postMessage(  # the dead process had posted the first one; its answer never got recorded
        channel=claimed[0].channel_id, text="x", metadata=delivery.metadata_for(claimed[0].key)
    )
    alive = f"{delivery.HOST}:{os.getppid()}:0badf00d"  # a live process of this host keeps what it claimed
    env.enqueue("C0ALIVE01:0", channel="C0ALIVE01")
    with transaction(env.sessions) as session:
        [kept] = outbox.claim_due(session, worker_id=alive, now=NOW, limit=100, lease=LEASE)

    env.clock.advance(seconds=1)  # well inside the lease
    env.deliverer(delivery.default_worker_id(), lease=LEASE).deliver_due()

    assert audit(env.fake, queued).perfect, str(audit(env.fake, queued))
    assert len(env.fake.calls_to("chat.postMessage")) == len(queued)  # the posted one was found, not re-posted
    assert (env.item(kept.key).status, env.item(kept.key).claimed_by) == ("sending", alive)


def test_later_posts_of_a_channel_wait_for_the_claims_of_a_dead_replica(env: Env) -> None:
    channels = ["C0CRASH01", "C0CRASH02", "C0CRASH03"]
    queued = queue(env, channels, per_channel=2)
    with transaction(env.sessions) as session:  # a replica on another host claims, then dies
        outbox.claim_due(session, worker_id="elsewhere:1:0badf00d", now=NOW, limit=100, lease=LEASE)
    queued += queue(env, channels, per_channel=2, start=2)
    survivor = env.deliverer("here:2:0badf00d", lease=LEASE)

    env.clock.advance(seconds=5)
    survivor.deliver_due()
    assert env.fake.calls_to("chat.postMessage") == []  # nothing may overtake the dead replica's claims
    env.clock.advance(seconds=LEASE.total_seconds())
    for _ in range(6):
        survivor.deliver_due()
        env.clock.advance(seconds=5)

    result = audit(env.fake, queued)
    assert result.perfect, str(result)


def test_a_live_worker_keeps_its_claim_while_slack_is_slow(env: Env) -> None:
    env.enqueue("slow")
    answer = threading.Event()
    env.fake.succeed("chat.postMessage", stall=answer)
    first = env.deliverer("here:1:0badf00d", lease=LEASE, heartbeat=0.02)
    worker = threading.Thread(target=first.deliver_due)
    worker.start()
    try:
        deadline = time.monotonic() + 10
        while not env.fake.calls_to("chat.postMessage") and time.monotonic() < deadline:
            time.sleep(0.01)
        env.clock.advance(seconds=LEASE.total_seconds() * 3)  # Slack takes its time
        while env.item("slow").claimed_at != env.clock() and time.monotonic() < deadline:
            time.sleep(0.01)  # the heartbeat renews the lease meanwhile
        env.deliverer("here:2:0badf00d", lease=LEASE).deliver_due()
    finally:
        answer.set()
        worker.join(timeout=30)

    assert len(env.fake.calls_to("chat.postMessage")) == 1
    assert (env.item("slow").status, env.item("slow").claimed_by) == ("sent", "here:1:0badf00d")


# -- a real `onboarding-bot run`, killed with SIGKILL ------------------------------------------------------------------


def wait_until(condition: object, timeout: float, what: str, log: Path) -> float:
    started = time.monotonic()
    while not condition():  # type: ignore[operator]
        if time.monotonic() - started > timeout:
            pytest.fail(f"{what}: not after {timeout:.0f} s\n{log.read_text()[-3000:]}")
        time.sleep(0.05)
    return time.monotonic() - started


def test_run_killed_mid_delivery_then_restarted(tmp_path: Path, sqlite_template: Path) -> None:
    database_url = sqlite_copy(sqlite_template, tmp_path / "bot.db")
    engine = make_engine(database_url)
    sessions = make_session_factory(engine)
    channels = [f"C0KILL{n:03d}" for n in range(40)]
    queued: list[Queued] = []
    now = datetime.now(UTC)
    with transaction(sessions) as session:
        for n in range(8):
            for channel in channels:
                key, parent_key = f"{channel}:{n}", (f"{channel}:{n - 1}" if n % 4 == 1 else None)
                parent = outbox.find(session, TEAM, parent_key) if parent_key else None
                outbox.enqueue(session, team_id=TEAM, channel_id=channel, key=key, message={"text": key}, now=now,
                               parent=parent)  # fmt: skip
                queued.append(Queued(key, channel, parent_key))
    log = tmp_path / "bot.log"

    def sent() -> int:
        with sessions() as session:
            return len(session.scalars(select(OutboxMessage.id).where(OutboxMessage.status == "sent")).all())

    with FakeSlack(first_ts=time.time()) as fake:
        answer = threading.Event()
        first = start_bot(fake, database_url, log)
        try:
            wait_until(lambda: len(fake.calls_to("chat.postMessage")) >= 100, 60, "first run delivering", log)
            fake.fail("chat.postMessage", after_store=True, stall=answer)  # Slack stores the next post, then hangs
            wait_until(lambda: fake.faults_left("chat.postMessage") == 0, 30, "the hanging post", log)
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
        finally:
            first.kill()
            first.wait(timeout=10)
        answer.set()
        with sessions() as session:
            orphaned = session.scalars(select(OutboxMessage.id).where(OutboxMessage.status == "sending")).all()
        assert orphaned, "the killed process held no claims: kill it earlier"
        delivered_before = sent()

        second = start_bot(fake, database_url, log)
        try:

            def orphans_sent() -> bool:
                with sessions() as session:
                    statuses = session.scalars(select(OutboxMessage.status).where(OutboxMessage.id.in_(orphaned)))
                    return all(status == "sent" for status in statuses)

            took_orphans = wait_until(orphans_sent, 60, "the dead process's claims delivered", log)
            took_all = wait_until(lambda: sent() == len(queued), 60, "everything delivered", log)
        finally:
            stop(second)
        result = audit(fake, queued)
    engine.dispose()

    print(
        f"kill -9 after {delivered_before} of {len(queued)} posts recorded sent, {len(orphaned)} claimed by the "
        f"dead process; restart delivered those in {took_orphans:.1f} s, all in {took_all:.1f} s; {result}"
    )
    assert result.perfect, str(result)
    assert took_orphans < 20  # process start included; the dead process's lease alone would be 5 minutes before
