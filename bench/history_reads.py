"""How long reads made while Slack waits for an ack take as the history the bot keeps grows: `/onboarding status`
(``storage.plan_status``) and the lookup of the post an alert button was clicked on (``storage.outbox.find_posted``),
against the number of sent posts the outbox keeps (it keeps them all: a button is authorized against its post).

    .venv/bin/python -m bench.history_reads                      # 0, 1,000, 10,000 and 100,000 posts, SQLite
    .venv/bin/python -m bench.history_reads --database-url URL   # an empty database (migrated first)

The posts belong to two plans of one workspace, half each, as a busy workspace's do. SQLite gets no ANALYZE, as
the bot never runs one; PostgreSQL gets one after each batch, as its autovacuum would in time.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, text
from sqlalchemy.orm import Session, sessionmaker

from bench.measure import cpu_s
from bench.tick import database
from storage import outbox, repo
from storage.db import make_engine, make_session_factory, transaction, upgrade
from storage.models import OutboxMessage
from storage.plan_status import plan_status
from storage.records import PlanRecord

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
TEAM = "T0BENCH"
BATCH = 5000


def _plans(sessions: sessionmaker[Session]) -> list[PlanRecord]:
    with transaction(sessions) as session:
        return [
            repo.get_or_create_plan(session, team_id=TEAM, channel_id=f"C0BENCH00{n}", name=f"plan {n}", user_id="U")
            for n in (1, 2)
        ]


def _ts(n: int) -> str:
    return f"{1_700_000_000 + n}.000100"


def _add_posts(sessions: sessionmaker[Session], plans: list[PlanRecord], numbers: range) -> None:
    """Sent posts ``numbers``, alternating between the plans; post n has ts ``_ts(n)``."""
    for start in range(numbers.start, numbers.stop, BATCH):
        rows = [
            {"team_id": TEAM, "plan_id": plan.id, "channel_id": plan.channel_id, "key": f"bench:{n}",
             "message": {"text": f"Health update, part {n}", "blocks": []}, "status": "sent", "attempts": 1,
             "next_attempt_at": NOW, "created_at": NOW - timedelta(minutes=n), "sent_at": NOW, "ts": _ts(n)}
            for n in range(start, min(start + BATCH, numbers.stop))
            for plan in [plans[n % len(plans)]]
        ]  # fmt: skip
        with transaction(sessions) as session:
            session.execute(insert(OutboxMessage), rows)
    with transaction(sessions) as session:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("ANALYZE outbox"))


def _best(read: Callable[[int], object], repeat: int) -> tuple[float, float]:
    """Best wall and CPU ms per read over ``repeat`` rounds of 20 reads, after 20 unrecorded ones (statements
    compiled and, on PostgreSQL, prepared by psycopg, which does that from a statement's fifth run)."""
    for n in range(20):
        read(n)
    best_wall = best_cpu = float("inf")
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), cpu_s()
        for n in range(20):
            read(n)
        best_wall = min(best_wall, (time.perf_counter() - wall) / 20)
        best_cpu = min(best_cpu, (cpu_s() - cpu) / 20)
    return best_wall * 1000, best_cpu * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--posts", type=int, nargs="+", default=[0, 1000, 10000, 100000],
                        help="sent posts kept to measure at, ascending (default 0 1000 10000 100000)")  # fmt: skip
    parser.add_argument("--repeat", type=int, default=5, help="rounds of 20 reads per measurement; the best is shown")
    parser.add_argument("--database-url", help="SQLAlchemy URL of an empty database (default: SQLite in a temp dir)")
    args = parser.parse_args(argv)
    with database(args.database_url) as url:
        upgrade(url)
        sessions = make_session_factory(make_engine(url))
        plans = _plans(sessions)
        first = plans[0]

        def status(_: int) -> object:
            found = plan_status(sessions, TEAM, first.channel_id)
            if found is None or found.failed:
                raise SystemExit(f"status read {found!r}")
            return found

        print(f"database: {url.split('?')[0]}; best of {args.repeat} rounds of 20 reads; ms per read, wall / CPU")
        print("| sent posts kept | `/onboarding status` | the post a button is on |")
        print("|---|---|---|")
        have = 0
        for posts in args.posts:
            _add_posts(sessions, plans, range(have, posts))
            have = posts
            with sessions() as session:

                def posted(n: int, session: Session = session, posts: int = posts) -> object:
                    wanted = max((posts - 1) // 2 * 2 - 2 * n, 0)  # the first plan's (even numbers) newest posts
                    found = outbox.find_posted(session, TEAM, first.channel_id, _ts(wanted))
                    if posts and (found is None or found.key != f"bench:{wanted}"):
                        raise SystemExit(f"post {wanted} not found")
                    return found

                button = _best(posted, args.repeat)
            read = _best(status, args.repeat)
            print(f"| {posts:,} | {read[0]:.3f} / {read[1]:.3f} | {button[0]:.3f} / {button[1]:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
