"""Outbox delivery against a misbehaving Slack: are posts lost, duplicated or reordered?

Each scenario queues a few hundred posts over several channels (in threes: a post, then two replies in its thread,
like a digest and its details), delivers them to the fake Slack Web API (``sandbox.slack_api.FakeSlack``) while
it misbehaves, and then counts what Slack holds (``sandbox.slack_api.audit``, by the outbox key in each
message's metadata):

- ``store-then-500``: Slack stores each post, then answers HTTP 500 ``internal_error`` (first attempt of every post);
- ``store-then-drop``: Slack stores each post, then closes the connection without an answer;
- ``outage-3h``: every method answers HTTP 503 ``service_unavailable`` for three hours (a fake clock; the
  deliverer runs once a minute of it), then Slack recovers;
- ``kill-9``: a real ``onboarding-bot run`` process is killed with SIGKILL while it delivers, one post stored in
  Slack but not yet recorded, then started again (real time).

``--claims`` also times the claim query over 10,000 waiting posts (and 100,000 sent ones) in 1,000 channels.
Run from the repository root::

    .venv/bin/python -m bench.delivery_faults [--posts N] [--channels N] [--database-url URL] [--claims]
        [--kill-wait SECONDS] [--only SCENARIO ...]

Exits 1 when a scenario lost, duplicated or reordered a post. A script, not a test: pytest does not collect it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import random
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

from slack_sdk.http_retry import builtin_handlers
from slack_sdk.http_retry import handler as retry_handler
from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session, sessionmaker

from bot.delivery import Deliverer
from bot.slack_api import make_client
from sandbox.slack_api import Audit, FakeSlack, Queued, audit
from storage import outbox
from storage.db import make_engine, make_session_factory, transaction, upgrade
from storage.models import OutboxMessage
from tests.support.databases import postgres_schema
from tests.support.process import start_bot, stop

TEAM = "T0BENCH"
NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[1]


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Outcome:
    scenario: str
    audit: Audit
    failed: int  # marked failed in the database (none of these scenarios has a permanent error)
    slack_calls: int
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.audit.perfect and self.failed == 0


def queue(sessions: sessionmaker[Session], posts: int, channels: int, now: datetime) -> list[Queued]:
    """``posts`` posts round-robin over ``channels`` channels, in threes: a post, then two replies in its thread."""
    names = [f"C0BENCH{n:03d}" for n in range(channels)]
    queued: list[Queued] = []
    with transaction(sessions) as session:
        for n in range(posts):
            channel, number = names[n % channels], n // channels
            key = f"{channel}:{number}"
            parent_key = f"{channel}:{number - number % 3}" if number % 3 else None
            parent = outbox.find(session, TEAM, parent_key) if parent_key else None
            outbox.enqueue(session, team_id=TEAM, channel_id=channel, key=key, message={"text": key}, now=now,
                           parent=parent)  # fmt: skip
            queued.append(Queued(key, channel, parent_key))
    return queued


def undelivered(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return outbox.pending_count(session, TEAM)


def failed(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        query = select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "failed")
        return int(session.scalar(query) or 0)


@contextmanager
def database(url: str | None) -> Iterator[tuple[str, sessionmaker[Session]]]:
    """A fresh database: a SQLite file in a temp dir, or a throwaway schema of the given PostgreSQL database."""
    with contextlib.ExitStack() as stack:
        if url is None:
            tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-delivery-"))
            db_url = f"sqlite:///{tmp}/bench.db"
        else:
            db_url = stack.enter_context(postgres_schema(url, prefix="bench_delivery"))
        upgrade(db_url)
        engine = make_engine(db_url)
        stack.callback(engine.dispose)
        yield db_url, make_session_factory(engine)


def no_sdk_sleeps() -> None:
    """slack_sdk's retry handlers call time.sleep (backoff, Retry-After): on the fake clock they must not wait."""
    fake_time = SimpleNamespace(sleep=lambda seconds: None)
    builtin_handlers.time = fake_time  # type: ignore[attr-defined]
    retry_handler.time = fake_time  # type: ignore[attr-defined]


def drive(
    deliverer: Deliverer,
    clock: FakeClock,
    sessions: sessionmaker[Session],
    *,
    step: timedelta,
    until: datetime,
    each: Callable[[], None] | None = None,
) -> datetime | None:
    """Deliver, then let ``step`` of fake time pass, until nothing is waiting (that instant) or ``until``."""
    while clock() < until:
        deliverer.deliver_due()
        if each is not None:
            each()
        if undelivered(sessions) == 0:
            return clock()
        clock.now += step
    return None


def answer_fault(name: str, url: str | None, posts: int, channels: int) -> Outcome:
    with database(url) as (_, sessions), FakeSlack() as fake:
        clock = FakeClock(NOW)
        queued = queue(sessions, posts, channels, NOW)
        if name == "store-then-500":
            fake.store_then_fail(times=posts)
        else:
            fake.store_then_drop(times=posts)
        deliverer = Deliverer(sessions, make_client("xoxb-bench", fake.base_url), clock=clock, sleep=clock.sleep)
        done = drive(deliverer, clock, sessions, step=timedelta(seconds=30), until=NOW + timedelta(hours=4))
        result = Outcome(name, audit(fake, queued), failed(sessions), len(fake.calls))
        result.notes.append(
            f"all settled after {(done - NOW).total_seconds() / 60:.0f} min of fake time"
            if done
            else "not all settled after 4 h of fake time"
        )
        result.notes.append(f"faults left unused: {fake.faults_left('chat.postMessage')}")
        fake.take_problems()
        return result


def outage(url: str | None, posts: int, channels: int) -> Outcome:
    with database(url) as (_, sessions), FakeSlack() as fake:
        clock = FakeClock(NOW)
        queued = queue(sessions, posts, channels, NOW)
        ends = NOW + timedelta(hours=3)
        fake.outage(until=ends, clock=clock)
        deliverer = Deliverer(sessions, make_client("xoxb-bench", fake.base_url), clock=clock, sleep=clock.sleep)
        failed_during: list[int] = []

        def watch() -> None:
            if clock() < ends:
                failed_during.append(failed(sessions))

        done = drive(deliverer, clock, sessions, step=timedelta(minutes=1), until=ends + timedelta(hours=3), each=watch)
        result = Outcome("outage-3h", audit(fake, queued), failed(sessions), len(fake.calls))
        result.notes.append(f"failed during the outage: {max(failed_during, default=0)}")
        result.notes.append(
            f"all delivered {(done - ends).total_seconds() / 60:.0f} min after Slack recovered"
            if done
            else f"{undelivered(sessions)} still undelivered 3 h after Slack recovered"
        )
        with sessions() as session:
            errors = session.scalars(select(OutboxMessage.error).where(OutboxMessage.status == "failed").limit(1))
            for error in errors:
                result.notes.append(f"e.g. failed with: {error}")
        return result


def wait_for(condition: Callable[[], bool], timeout: float) -> float | None:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            return None
        time.sleep(0.05)
    return time.monotonic() - started


def kill_9(url: str | None, posts: int, channels: int, kill_wait: float) -> Outcome:
    with database(url) as (db_url, sessions), FakeSlack(first_ts=time.time()) as fake:
        queued = queue(sessions, posts, channels, datetime.now(UTC))
        log = Path(tempfile.mkdtemp(prefix="bench-kill-")) / "bot.log"
        notes: list[str] = []
        stalled = threading.Event()
        first = start_bot(fake, db_url, log)
        try:
            if wait_for(lambda: len(fake.calls_to("chat.postMessage")) >= posts // 3, 120) is None:
                raise SystemExit(f"the first run did not deliver: see {log}")
            fake.fail("chat.postMessage", after_store=True, stall=stalled)  # stored, answer never comes
            wait_for(lambda: fake.faults_left("chat.postMessage") == 0, 30)
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
        finally:
            first.kill()
            first.wait(timeout=10)
        stalled.set()
        with sessions() as session:
            orphaned = list(session.scalars(select(OutboxMessage.id).where(OutboxMessage.status == "sending")))
            sent_before = session.scalar(select(func.count()).where(OutboxMessage.status == "sent"))
        notes.append(f"killed after {sent_before} recorded sent; it held {len(orphaned)} claim(s)")

        def orphans_sent() -> bool:
            with sessions() as session:
                statuses = session.scalars(select(OutboxMessage.status).where(OutboxMessage.id.in_(orphaned)))
                return all(status == "sent" for status in statuses)

        second = start_bot(fake, db_url, log)
        try:
            took = wait_for(orphans_sent, kill_wait)
            notes.append(
                f"restart delivered the dead process's claims in {took:.1f} s (process start included)"
                if took is not None
                else f"restart had not delivered the dead process's claims after {kill_wait:.0f} s"
            )
            took_all = wait_for(lambda: undelivered(sessions) == 0, kill_wait)
            notes.append(
                f"everything delivered {took_all:.1f} s after that"
                if took_all is not None
                else f"{undelivered(sessions)} undelivered {kill_wait:.0f} s after that"
            )
        finally:
            stop(second)
        result = Outcome("kill-9", audit(fake, queued), failed(sessions), len(fake.calls), notes)
        fake.take_problems()
        return result


def claim_timing(url: str | None) -> list[str]:
    """Claims of 100 channel heads over 10,000 waiting posts (1,000 channels) and 100,000 sent ones."""
    lines = []
    with database(url) as (_, sessions):
        rng = random.Random(1)
        common = {"team_id": TEAM, "message": {"text": "x"}, "next_attempt_at": NOW, "created_at": NOW}
        sent = {"status": "sent", "attempts": 1, "ts": "1.1"}
        waiting = {"status": "pending", "attempts": 0}
        rows = [{**common, **sent, "channel_id": f"C{n % 1000:05d}", "key": f"sent{n}"} for n in range(100_000)]
        rows += [
            {**common, **waiting, "channel_id": f"C{rng.randrange(1000):05d}", "key": f"w{n}"} for n in range(10_000)
        ]
        with transaction(sessions) as session:
            for start in range(0, len(rows), 5000):
                session.execute(insert(OutboxMessage), rows[start : start + 5000])
        with transaction(sessions) as session:
            session.execute(text("ANALYZE"))
        times = []
        for _ in range(30):
            started = time.perf_counter()
            with transaction(sessions) as session:
                claimed = outbox.claim_due(session, worker_id="bench", now=NOW, limit=100, lease=timedelta(seconds=30))
            times.append(time.perf_counter() - started)
            with transaction(sessions) as session:
                for item in claimed:
                    outbox.mark_sent(session, item.item_id, "1.2", NOW)
        times.sort()
        dialect = sessions.kw["bind"].dialect.name
        lines.append(
            f"claims ({dialect}): 30 claims of up to 100 channel heads: median {times[15] * 1000:.1f} ms, "
            f"max {times[-1] * 1000:.1f} ms"
        )
        started = time.perf_counter()
        with sessions() as session:
            outbox.backlog(session, TEAM)
        lines.append(f"backlog ({dialect}): {(time.perf_counter() - started) * 1000:.1f} ms")
    return lines


SCENARIOS = ("store-then-500", "store-then-drop", "outage-3h", "kill-9")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=300, help="posts per scenario (kill-9: 432)")
    parser.add_argument("--channels", type=int, default=12, help="channels per scenario (kill-9: 48)")
    parser.add_argument("--database-url", help="PostgreSQL URL (a throwaway schema is used); default: SQLite file")
    parser.add_argument("--kill-wait", type=float, default=60, help="kill-9: seconds to wait for the restart")
    parser.add_argument("--only", nargs="*", choices=SCENARIOS, default=list(SCENARIOS))
    parser.add_argument("--claims", action="store_true", help="also time the claim query over 10k waiting posts")
    args = parser.parse_args(argv)
    no_sdk_sleeps()
    print(f"machine: {platform.machine()} {platform.system()}, cpus={os.cpu_count()}, Python "
          f"{platform.python_version()}; database: {args.database_url or 'SQLite file'}")  # fmt: skip
    outcomes = []
    for name in args.only:
        started = time.monotonic()
        if name in ("store-then-500", "store-then-drop"):
            outcome = answer_fault(name, args.database_url, args.posts, args.channels)
        elif name == "outage-3h":
            outcome = outage(args.database_url, args.posts, args.channels)
        else:
            outcome = kill_9(args.database_url, 432 if args.posts == 300 else args.posts,
                             48 if args.channels == 12 else args.channels, args.kill_wait)  # fmt: skip
        outcome.notes.append(f"{outcome.slack_calls} Slack calls, {time.monotonic() - started:.1f} s wall")
        outcomes.append(outcome)
        print(f"{outcome.scenario:16} {outcome.audit}, failed {outcome.failed}  [{'OK' if outcome.ok else 'BAD'}]")
        for note in outcome.notes:
            print(f"{'':16} {note}")
    if args.claims:
        for line in claim_timing(args.database_url):
            print(line)
    return 0 if all(o.ok for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
