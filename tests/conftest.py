"""Fixtures: a fake Slack per test, a fresh database (SQLite and PostgreSQL), and the served app."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy.exc import OperationalError

from tests.fakes.slack_api import FakeSlack
from tests.support.databases import postgres_schema
from tests.support.delivery import Env, open_env, record_sdk_sleeps
from tests.support.harness import BotHarness, FakeClock

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as server:
        yield server
        assert server.problems == [], "Slack would have rejected these calls"


def _postgres_schema_url() -> Iterator[str]:
    """A throwaway schema per test, so tests (and concurrent CI runs) never see each other's rows."""
    try:
        with postgres_schema(TEST_DATABASE_URL) as url:
            yield url
    except OperationalError as exc:
        pytest.skip(f"PostgreSQL is not reachable at TEST_DATABASE_URL ({TEST_DATABASE_URL}): {exc.orig}")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'bot.db'}"
    else:
        yield from _postgres_schema_url()


@pytest.fixture
def bot(fake: FakeSlack, database_url: str) -> Iterator[BotHarness]:
    harness = BotHarness(fake, database_url, clock=FakeClock(NOW))
    try:
        yield harness
    finally:
        harness.close()


@pytest.fixture
def sdk_sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """slack_sdk's retry waits, recorded instead of slept."""
    return record_sdk_sleeps(monkeypatch)


@pytest.fixture
def env(fake: FakeSlack, database_url: str, sdk_sleeps: list[float]) -> Iterator[Env]:
    """The outbox and a deliverer on a fresh database, against the fake Slack, with a fake clock."""
    with open_env(fake, database_url, sdk_sleeps) as opened:
        yield opened
