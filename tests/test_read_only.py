"""Reads before an ack do not wait for a writer (issue 12): on SQLite they no longer take the write lock.

Every SQLite transaction used to begin IMMEDIATE, so `/onboarding status` or a hub button (whose middleware looks
the channel's plan up) queued behind any write in progress: a form being saved, a tick, another request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy.exc import OperationalError

from sandbox.payloads import CHANNEL, TEAM
from storage import repo
from storage.db import make_engine, make_session_factory, read_only, transaction
from tests.support.answers import complete_step3
from tests.support.harness import BotHarness, Response

T = TypeVar("T")
# Well under the 30 s an SQLite connection waits for a lock: a read that queued behind the writer fails the test.
PATIENCE_S = 5


@contextmanager
def writer_holding(bot: BotHarness, name: str) -> Iterator[None]:
    """A transaction that has written (the plan renamed to ``name``) and stays open: it holds SQLite's write lock,
    and the plan's row lock on PostgreSQL."""
    with transaction(bot.sessions) as session:
        plan = repo.find_plan(session, TEAM, CHANNEL)
        assert plan is not None
        repo.rename_plan(session, plan.id, name)
        session.flush()
        yield


def while_writing(bot: BotHarness, request: Callable[[], T]) -> T:
    with ThreadPoolExecutor(max_workers=1) as pool, writer_holding(bot, "Renamed, not committed"):
        return pool.submit(request).result(timeout=PATIENCE_S)


def test_status_answers_while_a_write_is_in_progress(bot: BotHarness) -> None:
    complete_step3(bot)
    response: Response = while_writing(bot, lambda: bot.command("status"))
    assert response.status == 200
    assert "onboarding-acme" in response.body and "Renamed" not in response.body  # the committed state


def test_a_hub_button_acks_while_a_write_is_in_progress(bot: BotHarness) -> None:
    complete_step3(bot)
    response = while_writing(bot, lambda: bot.click(bot.hub(), "menu_revise"))
    assert response.status == 200
    assert bot.fake.responses, "the button's reply was not sent"


def test_a_write_inside_read_only_fails_and_the_connection_writes_again_after(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/ro.db", pool_size=1, max_overflow=0)  # one connection, reused
    sessions = make_session_factory(engine)
    with transaction(sessions) as session:
        session.connection().exec_driver_sql("CREATE TABLE t (x INTEGER)")
    with pytest.raises(OperationalError, match="readonly"), read_only(sessions) as session:
        session.connection().exec_driver_sql("INSERT INTO t VALUES (1)")
    with transaction(sessions) as session:
        session.connection().exec_driver_sql("INSERT INTO t VALUES (2)")
    with read_only(sessions) as session:
        assert session.connection().exec_driver_sql("SELECT x FROM t").scalars().all() == [2]
    engine.dispose()
