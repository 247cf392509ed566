"""The outbox keeps every post the bot sent (a button is authorized against the post it is on), so a read made while
Slack waits for an ack must find what it needs without going through that history: `/onboarding status` looking
for a plan's failed posts, and ``outbox.find_posted`` looking up the post an alert button was clicked on. Both did:
at 100,000 kept posts they took 15-20 ms instead of 0.02-0.2 (bench/history_reads.py). Here: they still find the
right rows among many sent ones (SQLite and PostgreSQL), and SQLite's plan seeks to them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert
from sqlalchemy.orm import Session, sessionmaker

from storage import outbox, repo
from storage.db import make_engine, make_session_factory, transaction
from storage.models import OutboxMessage
from storage.plan_status import plan_status
from storage.records import PlanRecord
from tests.support.databases import sqlite_copy
from tests.support.query_plans import plan_lines, traced

NOW = datetime(2026, 11, 29, 9, 30, tzinfo=UTC)
TEAM = "T0HISTORY"
SENT = 600  # per plan: enough that a scan would be obvious in a plan, few enough to insert quickly


def _plans(sessions: sessionmaker[Session]) -> tuple[PlanRecord, PlanRecord]:
    with transaction(sessions) as session:
        return (
            repo.get_or_create_plan(session, team_id=TEAM, channel_id="C0ONE", name="one", user_id="U1"),
            repo.get_or_create_plan(session, team_id=TEAM, channel_id="C0TWO", name="two", user_id="U1"),
        )


def _ts(plan: PlanRecord, n: int) -> str:
    return f"17000{plan.id:02d}{n:05d}.000100"


def _sent_posts(sessions: sessionmaker[Session], *plans: PlanRecord) -> None:
    """``SENT`` delivered posts per plan, interleaved as a busy workspace's are."""
    rows = [
        {"team_id": TEAM, "plan_id": plan.id, "channel_id": plan.channel_id, "key": f"sent:{plan.id}:{n}",
         "message": {"text": f"post {n}"}, "status": "sent", "attempts": 1, "next_attempt_at": NOW,
         "created_at": NOW - timedelta(minutes=SENT - n), "sent_at": NOW, "ts": _ts(plan, n)}
        for n in range(SENT)
        for plan in plans
    ]  # fmt: skip
    with transaction(sessions) as session:
        session.execute(insert(OutboxMessage), rows)


def _failed_post(sessions: sessionmaker[Session], plan: PlanRecord, key: str, why: str) -> None:
    with transaction(sessions) as session:
        item = outbox.enqueue(session, team_id=TEAM, channel_id=plan.channel_id, key=key,
                              message={"text": f"failed {key}"}, now=NOW, plan_id=plan.id)  # fmt: skip
        item.status = "sending"
        session.flush()
        assert outbox.mark_failed(session, item.id, why)


def test_status_lists_a_plans_failed_posts_among_many_sent_ones(sessions: sessionmaker[Session]) -> None:
    one, two = _plans(sessions)
    _sent_posts(sessions, one, two)
    assert _failed(sessions, one) == []

    _failed_post(sessions, two, "two:1", "channel_not_found")
    assert _failed(sessions, one) == []
    _failed_post(sessions, one, "one:1", "not_in_channel")
    assert _failed(sessions, one) == [("failed one:1", "not_in_channel")]
    assert _failed(sessions, two) == [("failed two:1", "channel_not_found")]


def _failed(sessions: sessionmaker[Session], plan: PlanRecord) -> list[tuple[str, str]]:
    found = plan_status(sessions, TEAM, plan.channel_id)
    assert found is not None
    return found.failed


def test_the_post_a_button_is_on_is_found_among_many_sent_ones(sessions: sessionmaker[Session]) -> None:
    one, two = _plans(sessions)
    _sent_posts(sessions, one, two)
    with sessions() as session:
        for plan in (one, two):
            for n in (0, SENT // 2, SENT - 1):
                posted = outbox.find_posted(session, TEAM, plan.channel_id, _ts(plan, n))
                assert posted is not None
                assert (posted.plan_id, posted.key) == (plan.id, f"sent:{plan.id}:{n}")
        # The same ts in another channel, or in another workspace, is another message.
        assert outbox.find_posted(session, TEAM, two.channel_id, _ts(one, 0)) is None
        assert outbox.find_posted(session, "T0OTHER", one.channel_id, _ts(one, 0)) is None


def test_neither_read_goes_through_the_sent_posts_on_sqlite(sqlite_template: Path, tmp_path: Path) -> None:
    """Each outbox lookup of theirs seeks on every column it compares, so it visits only the rows it wants: the
    plan's failed posts, the undelivered ones (a partial index holds only those), or the post with that ts."""
    engine = make_engine(sqlite_copy(sqlite_template, tmp_path / "bot.db"))
    sessions = make_session_factory(engine)
    with traced(engine) as statements:
        one, _ = _plans(sessions)
        _failed_post(sessions, one, "one:1", "not_in_channel")  # so status reads the failed posts too
        statements.clear()
        plan_status(sessions, TEAM, one.channel_id)
        status_lookups = plan_lines(engine, statements, "outbox")
        statements.clear()
        with sessions() as session:
            outbox.find_posted(session, TEAM, one.channel_id, _ts(one, 0))
        posted_lookups = plan_lines(engine, statements, "outbox")
    engine.dispose()
    # The backlog's count, oldest and error, any failed post, the failed posts. (Sorting the backlog's errors by id is
    # bounded by the backlog.)
    status_lookups = [line for line in status_lookups if "TEMP B-TREE" not in line]
    assert len(status_lookups) == 5, status_lookups
    for line in status_lookups:
        assert "USING INDEX ix_outbox_queue" in line or "status=?" in line, line
    assert posted_lookups, statements
    for line in posted_lookups:
        assert "channel_id=? AND ts=?" in line, line
