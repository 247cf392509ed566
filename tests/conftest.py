"""Fixtures: a fake Slack per test, a fresh database (SQLite and PostgreSQL), and the app.

Each worker migrates one SQLite template and one PostgreSQL schema; a test gets a copy of the template or the
schema emptied. ``unmigrated_database_url`` is the exception, for the tests about migrating.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from slack_bolt.listener import thread_runner
from sqlalchemy.exc import OperationalError

from sandbox.slack_api import FakeSlack
from storage.db import Engine, Sessions, make_engine, make_session_factory
from tests.support.databases import (
    MigratedSchema,
    migrated_postgres_schema,
    migrated_sqlite_template,
    postgres_schema,
    sqlite_copy,
)
from tests.support.delivery import Env, open_env, record_sdk_sleeps
from tests.support.harness import BotHarness, FakeClock

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
DATABASES = ["sqlite", "postgresql"]


@pytest.fixture(scope="session", autouse=True)
def quick_ack_polling() -> Iterator[None]:
    """Bolt's thread runner looks for the listener's ack every 10 ms (``slack_bolt/listener/thread_runner.py``).

    The suite sends thousands of requests, each waiting out at least one of those sleeps. Here the same loop polls
    every 0.5 ms: the same code and semantics, only the interval differs. (The benchmarks keep Bolt's 10 ms: they
    measure what Slack would see.)
    """
    original = thread_runner.time
    thread_runner.time = SimpleNamespace(time=time.time, sleep=lambda seconds: time.sleep(min(seconds, 0.0005)))
    yield
    thread_runner.time = original


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as server:
        yield server
        assert server.problems == [], "Slack would have rejected these calls"


def _skip_unreachable_postgres(exc: OperationalError) -> None:
    pytest.skip(f"PostgreSQL is not reachable at TEST_DATABASE_URL ({TEST_DATABASE_URL}): {exc.orig}")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return migrated_sqlite_template(tmp_path_factory.mktemp("template") / "bot.db")


@pytest.fixture(scope="session")
def postgres_migrated_schema() -> Iterator[MigratedSchema]:
    """One migrated schema per worker (tests on a worker run one at a time), so no two runs share rows."""
    try:
        with migrated_postgres_schema(TEST_DATABASE_URL) as schema:
            yield schema
    except OperationalError as exc:
        _skip_unreachable_postgres(exc)


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated database with no rows."""
    if request.param == "sqlite":
        return sqlite_copy(request.getfixturevalue("sqlite_template"), tmp_path / "bot.db")
    schema: MigratedSchema = request.getfixturevalue("postgres_migrated_schema")
    return schema.empty()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on the test's migrated, empty database."""
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine: Engine) -> Sessions:
    return make_session_factory(engine)


@pytest.fixture(params=DATABASES)
def unmigrated_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no tables at all (a new schema on PostgreSQL), for the tests about migrating."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'bot.db'}"
        return
    try:
        with postgres_schema(TEST_DATABASE_URL, wait_for_flush=False) as url:
            yield url
    except OperationalError as exc:
        _skip_unreachable_postgres(exc)


@pytest.fixture
def bot(request: pytest.FixtureRequest, fake: FakeSlack, database_url: str) -> Iterator[BotHarness]:
    over_http = request.node.get_closest_marker("http") is not None
    harness = BotHarness(fake, database_url, clock=FakeClock(NOW), migrate=False, over_http=over_http)
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
