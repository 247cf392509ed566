"""What the outbox and deliverer tests share: a fake clock, a database, a client on the fake Slack, and helpers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.http_retry import builtin_handlers
from slack_sdk.http_retry import handler as retry_handler
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot import delivery
from bot.delivery import Deliverer
from bot.slack_api import make_client
from sandbox.slack_api import FakeSlack
from storage import outbox
from storage.db import make_engine, make_session_factory, transaction
from storage.models import OutboxMessage

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
TEAM = "T0HARNESS"
CHANNEL = "C0PLAN001"
LEASE = delivery.LEASE  # 30 s: renewed while a worker is alive, so only a dead one loses its claims


class FakeClock:
    def __init__(self, now: datetime = NOW) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += timedelta(seconds=seconds)


class Crash(Exception):
    """The process dies here."""


@dataclass
class Env:
    fake: FakeSlack
    engine: Engine
    sessions: sessionmaker[Session]
    client: WebClient
    clock: FakeClock
    sdk_sleeps: list[float] = field(default_factory=list)

    def deliverer(self, worker_id: str = "worker-1", **kwargs: Any) -> Deliverer:
        kwargs.setdefault("clock", self.clock)
        kwargs.setdefault("sleep", self.clock.sleep)
        kwargs.setdefault("lease", LEASE)
        return Deliverer(self.sessions, kwargs.pop("client", self.client), worker_id=worker_id, **kwargs)

    def enqueue(self, key: str, *, channel: str = CHANNEL, text: str | None = None, parent: str | None = None) -> int:
        with transaction(self.sessions) as session:
            parent_item = outbox.find(session, TEAM, parent) if parent else None
            item = outbox.enqueue(
                session,
                team_id=TEAM,
                channel_id=channel,
                key=key,
                message={"text": text or f"message {key}"},
                now=self.clock(),
                parent=parent_item,
            )
            return item.id

    def item(self, key: str) -> OutboxMessage:
        with self.sessions() as session:
            item = outbox.find(session, TEAM, key)
            assert item is not None
            return item

    def posts(self, key: str | None = None) -> list[dict[str, Any]]:
        calls = [c.args for c in self.fake.calls_to("chat.postMessage")]
        if key is None:
            return calls
        return [args for args in calls if args.get("metadata", {}).get("event_payload", {}).get("key") == key]

    def posted(self, channel: str = CHANNEL) -> list[str]:
        """Outbox keys of the messages in ``channel``, oldest first."""
        return [m["metadata"]["event_payload"]["key"] for m in self.fake.messages(channel) if "metadata" in m]


def record_sdk_sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """slack_sdk's retry handlers call time.sleep: record the waits instead of waiting."""
    sleeps: list[float] = []
    fake_time = SimpleNamespace(sleep=sleeps.append)
    monkeypatch.setattr(builtin_handlers, "time", fake_time)
    monkeypatch.setattr(retry_handler, "time", fake_time)
    return sleeps


@contextmanager
def open_env(fake: FakeSlack, database_url: str, sdk_sleeps: list[float]) -> Iterator[Env]:
    """``database_url``: a database already migrated to head."""
    engine = make_engine(database_url)
    try:
        yield Env(
            fake=fake,
            engine=engine,
            sessions=make_session_factory(engine),
            client=make_client("xoxb-test", fake.base_url),
            clock=FakeClock(),
            sdk_sleeps=sdk_sleeps,
        )
    finally:
        engine.dispose()
