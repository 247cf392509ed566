"""A saved Step 3, driven through Slack once per worker and database, then restored wherever a test needs one.

Driving Step 3 takes a dozen signed requests (the hub, three forms, the synthesis, the confirmation); a hundred
tests start from it. The first time, it is driven for real and what it left behind is kept: every database row and
the fake Slack's whole state (messages, views, uploads, calls). Later tests that start from a fresh bot get exactly
that state back, as if they had driven it themselves. A bot that has done anything else drives it for real.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select, text

from sandbox.payloads import ALICE, BOB, CHANNEL
from sandbox.slack_api import BOT_USER_ID
from storage.models import Base, Plan
from tests.support.harness import BotHarness


@dataclass(frozen=True)
class Snapshot:
    rows: dict[str, list[dict[str, Any]]]
    fake: bytes  # pickled: loading a fresh copy is many times faster than deep-copying the calls and views


_saved: dict[str, Snapshot] = {}
# What FakeSlack starts with (FakeSlack._seed_directory).
PRISTINE_CHANNELS = {CHANNEL}
PRISTINE_USERS = {ALICE, BOB, BOT_USER_ID}


def _fresh(bot: BotHarness) -> bool:
    with bot.engine.connect() as connection:
        plans = connection.execute(select(func.count()).select_from(Plan)).scalar()
    fake = bot.fake
    return (
        plans == 0
        # Building the app asks Slack who the bot is (auth.test); any other call means the test has begun.
        and all(call.method == "auth.test" for call in fake.calls)
        # A test that set up faults, an outage, channels or people first wants them to act on the drive.
        and not any(fake._faults.values())
        and fake._outage is None
        and set(fake.channels) == PRISTINE_CHANNELS
        and set(fake.users) == PRISTINE_USERS
    )


def _capture(bot: BotHarness) -> Snapshot:
    bot.executor.wait_idle()
    with bot.engine.connect() as connection:
        rows = {
            t.name: [dict(r) for r in connection.execute(select(t)).mappings()] for t in Base.metadata.sorted_tables
        }
    return Snapshot(rows, bot.fake.save_state())


def _restore(bot: BotHarness, snapshot: Snapshot) -> None:
    with bot.engine.begin() as connection:
        for table in Base.metadata.sorted_tables:
            if snapshot.rows[table.name]:
                connection.execute(insert(table), snapshot.rows[table.name])
                if connection.dialect.name == "postgresql" and "id" in table.c:
                    # The rows keep their ids: the next insert must not collide with them.
                    sequence = f"pg_get_serial_sequence('{table.name}', 'id')"
                    connection.execute(text(f"SELECT setval({sequence}, (SELECT max(id) FROM {table.name}))"))
    bot.fake.load_state(snapshot.fake)


def replay(bot: BotHarness, key: str, drive: Callable[[], None]) -> None:
    """``drive()`` on ``bot``, or, for a fresh bot, the state it left the first time (per database and clock)."""
    # The clock is part of the state: rows carry their times, and the scheduler reads them.
    saved_key = f"{key}:{bot.engine.dialect.name}:{bot.clock.now.isoformat()}"
    fresh = _fresh(bot)
    if fresh and saved_key in _saved:
        _restore(bot, _saved[saved_key])
        return
    drive()
    if fresh:
        _saved[saved_key] = _capture(bot)
