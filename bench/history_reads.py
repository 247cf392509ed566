"""How long reads made while Slack waits for an ack (or before a form opens, within its trigger's 3 seconds) take as
the history the bot keeps grows. The bot keeps every post it sent (a button is authorized against the post it is
on), every document version, every changed field, every thread reply and every customer.

    .venv/bin/python -m bench.history_reads                      # 0, 1,000, 10,000 and 100,000 rows, SQLite
    .venv/bin/python -m bench.history_reads --database-url URL   # an empty database (migrated first)
    .venv/bin/python -m bench.history_reads --history posts      # one kind of history: posts, documents,
                                                                 # changes, replies or customers

Each kind of history grows in its own run, over two plans of one workspace, half each, as a busy workspace's do:
- posts: `/onboarding status` (``storage.plan_status``) and the post an alert button is on (``outbox.find_posted``);
- documents: the plan's latest document (``repo.latest_document``: `/onboarding doc`, and the hub after a save);
- changes: the changes to a section since its form opened (``repo.changes_since``: a form submission, and the hub
  after a save, once per section) and the changes from Slack messages (``repo.sourced_changes``: the confirm button);
- replies: a section's latest replies (``discussion.latest_replies``: every form that opens);
- customers (never deleted): `/onboarding customer add` of one more (``bot.imports.add_customer``), and a value for
  the plan's first and last customer (``bot.imports.import_signals``, as `POST /api/v1/signals`), both rolled back.

SQLite gets no ANALYZE, as the bot never runs one; PostgreSQL gets one after each batch, as its autovacuum would.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session, sessionmaker

from bench.measure import cpu_s
from bench.tick import TEAM_ID, _create_plans, database
from bot.arguments import NewCustomer
from bot.customers import RunnablePlan, runnable
from bot.imports import add_customer, import_signals
from storage import discussion, outbox, repo
from storage.db import make_engine, make_session_factory, transaction, upgrade
from storage.models import Customer, DiscussionMessage, DocumentVersion, OutboxMessage, Plan, PlanChange
from storage.plan_status import plan_status
from storage.records import PlanRecord

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
TEAM = TEAM_ID
BATCH = 5000
DOCUMENT = "# Onboarding plan\n\n" + "A milestone, its deadline and what reaching it means. " * 35  # ~2 KB


def _plans(sessions: sessionmaker[Session]) -> list[PlanRecord]:
    """Two plans with Step 3 saved (``bench.tick``'s), so that customers can be added to them."""
    with transaction(sessions) as session:
        made = [plan for plan_id in (1, 2) if (plan := repo.get_plan(session, plan_id))]  # by an earlier history
        return made or [plan for plan_id in _create_plans(session, 2) if (plan := repo.get_plan(session, plan_id))]


def _ts(n: int) -> str:
    return f"{1_700_000_000 + n}.000100"


def _post(plan: PlanRecord, n: int) -> dict[str, Any]:
    return {"team_id": plan.team_id, "plan_id": plan.id, "channel_id": plan.channel_id, "key": f"bench:{n}",
            "message": {"text": f"Health update, part {n}", "blocks": []}, "status": "sent", "attempts": 1,
            "next_attempt_at": NOW, "created_at": NOW - timedelta(minutes=n), "sent_at": NOW, "ts": _ts(n)}  # fmt: skip


def _document(plan: PlanRecord, n: int) -> dict[str, Any]:
    return {"team_id": plan.team_id, "plan_id": plan.id, "version": n // 2 + 1, "markdown": DOCUMENT, "source": f"v{n}",
            "created_by": "U", "created_at": NOW}  # fmt: skip


def _change(plan: PlanRecord, n: int) -> dict[str, Any]:
    """Three sections saved in turn, each save changing one field; one save in a thousand from a Slack message."""
    sourced = n % 1000 == 0
    return {"team_id": plan.team_id, "plan_id": plan.id, "section": ("milestones", "health", "training")[n // 2 % 3],
            "path": "goal", "label": "Goal", "old_value": "before", "new_value": "after", "user_id": "U",
            "changed_at": NOW, "section_version": n // 6 + 1, "source_user_id": "U2" if sourced else None,
            "source_permalink": "https://bench.slack.com/archives/C/p1" if sourced else None}  # fmt: skip


def _reply(plan: PlanRecord, n: int) -> dict[str, Any]:
    return {"team_id": plan.team_id, "plan_id": plan.id, "section": ("milestones", "health", "training")[n // 2 % 3],
            "channel_id": plan.channel_id, "ts": _ts(n), "thread_ts": _ts(0), "user_id": "U",
            "text": f"Reply {n}: what we agreed in the call.", "permalink": None,
            "posted_at": NOW - timedelta(minutes=n)}  # fmt: skip


def _customer(plan: PlanRecord, n: int) -> dict[str, Any]:
    name = f"Customer {n:06d}"
    return {"team_id": plan.team_id, "plan_id": plan.id, "name": name, "name_key": name.casefold(),
            "external_id": f"customer-{n:06d}", "start_date": NOW.date(), "created_by": "U", "created_at": NOW,
            "signals": {}, "signal_times": {}}  # fmt: skip


@dataclass(frozen=True)
class History:
    model: Any
    row: Callable[[PlanRecord, int], dict[str, Any]]
    reads: dict[str, Callable[[sessionmaker[Session], PlanRecord, int, int], object]]  # (sessions, plan, i, rows)


def _status(sessions: sessionmaker[Session], plan: PlanRecord, _i: int, _rows: int) -> object:
    found = plan_status(sessions, TEAM, plan.channel_id)
    if found is None or found.failed:
        raise SystemExit(f"status read {found!r}")
    return found


def _button_post(sessions: sessionmaker[Session], plan: PlanRecord, i: int, rows: int) -> object:
    wanted = max((rows - 1) // 2 * 2 - 2 * i, 0)  # the first plan's posts have even numbers: its newest ones
    with sessions() as session:
        found = outbox.find_posted(session, TEAM, plan.channel_id, _ts(wanted))
    if rows and (found is None or found.key != f"bench:{wanted}"):
        raise SystemExit(f"post {wanted} not found")
    return found


def _in_session(read: Callable[[Session, PlanRecord], object]) -> Callable[..., object]:
    def run(sessions: sessionmaker[Session], plan: PlanRecord, _i: int, _rows: int) -> object:
        with sessions() as session:
            return read(session, plan)

    return run


def _changes_since(sessions: sessionmaker[Session], plan: PlanRecord, _i: int, rows: int) -> object:
    """The changes of the section's latest save: what a form opened one save ago finds."""
    with sessions() as session:
        return repo.changes_since(session, plan, "health", max((rows - 1) // 6, 0))


@contextmanager
def _rolled_back(sessions: sessionmaker[Session], plan: PlanRecord) -> Iterator[tuple[Session, RunnablePlan]]:
    """A session on ``plan`` whose writes are rolled back after, so every read finds the history as it was."""
    session = sessions()
    try:
        ready = runnable(session, plan)
        if ready is None:
            raise SystemExit("the bench plan has no Step 3")
        yield session, ready
    finally:
        session.rollback()
        session.close()


def _customer_add(sessions: sessionmaker[Session], plan: PlanRecord, i: int, _rows: int) -> object:
    """`/onboarding customer add New customer N` (an id made from the name), rolled back after."""
    with _rolled_back(sessions, plan) as (session, ready):
        return add_customer(session, ready, NewCustomer(f"New customer {i}", None, None, None), "U0BENCH", NOW)


def _signals_far_apart(sessions: sessionmaker[Session], plan: PlanRecord, i: int, rows: int) -> object:
    """A value for the plan's first and last customer (`POST /api/v1/signals` with two items), rolled back after."""
    with _rolled_back(sessions, plan) as (session, ready):
        # The first plan's customers have even numbers: its first and its last.
        named = [f"customer-{n:06d}" for n in {0, max((rows - 1) // 2 * 2, 0)}]
        values = [(n + 1, {"id": external_id, "factor": "adoption", "value": str(40 + i % 50)})
                  for n, external_id in enumerate(named)]  # fmt: skip
        report = import_signals(session, ready, values, source="api", user_id="U0BENCH", now=NOW)
        if rows and report.counts.created != len(named):
            raise SystemExit(f"signals: {report.counts}")
        return report


HISTORIES = {
    "posts": History(OutboxMessage, _post, {"`/onboarding status`": _status, "the post a button is on": _button_post}),
    "documents": History(DocumentVersion, _document, {"latest document": _in_session(repo.latest_document)}),
    "changes": History(
        PlanChange,
        _change,
        {
            "changes since a form opened": _changes_since,
            "changes from Slack messages": _in_session(repo.sourced_changes),
            "`/onboarding history`": _in_session(repo.recent_changes),
        },
    ),
    "customers": History(
        Customer,
        _customer,
        {
            "`/onboarding customer add`": _customer_add,
            "signals for the first and last customer": _signals_far_apart,
        },
    ),
    "replies": History(
        DiscussionMessage,
        _reply,
        {
            "latest replies": _in_session(lambda s, plan: discussion.latest_replies(s, plan.id, "health", 5)),
        },
    ),
}


def _add(sessions: sessionmaker[Session], history: History, plans: list[PlanRecord], numbers: range) -> None:
    """Rows ``numbers`` of one history, alternating between the plans."""
    for start in range(numbers.start, numbers.stop, BATCH):
        rows = [history.row(plans[n % len(plans)], n) for n in range(start, min(start + BATCH, numbers.stop))]
        with transaction(sessions) as session:
            session.execute(insert(history.model), rows)
    with transaction(sessions) as session:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text(f"ANALYZE {history.model.__tablename__}"))


def keep_history(url: str, name: str, rows: int) -> None:
    """Give every plan of the database at ``url`` its share of ``rows`` rows of one history (for ``bench.ack_latency
    --kept-posts``: the ack under load with a deployment's history, not a new one's)."""
    sessions = make_session_factory(make_engine(url))
    with transaction(sessions) as session:
        plans = [plan for plan_id in session.scalars(select(Plan.id).order_by(Plan.id))
                 if (plan := repo.get_plan(session, plan_id))]  # fmt: skip
    _add(sessions, HISTORIES[name], plans, range(rows))


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


def measure(url: str, name: str, sizes: list[int], repeat: int) -> None:
    history = HISTORIES[name]
    sessions = make_session_factory(make_engine(url))
    plans = _plans(sessions)
    print(f"\n{name}: ms per read, wall / CPU")
    print(f"| {name} kept | " + " | ".join(history.reads) + " |")
    print("|---|" + "---|" * len(history.reads))
    have = 0
    for rows in sizes:
        _add(sessions, history, plans, range(have, rows))
        have = rows
        cells = []
        for read in history.reads.values():
            wall, cpu = _best(lambda i, read=read, rows=rows: read(sessions, plans[0], i, rows), repeat)
            cells.append(f"{wall:.3f} / {cpu:.3f}")
        print(f"| {rows:,} | " + " | ".join(cells) + " |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, nargs="+", default=[0, 1000, 10000, 100000],
                        help="rows of history to measure at, ascending (default 0 1000 10000 100000)")  # fmt: skip
    parser.add_argument("--history", default=",".join(HISTORIES), help=f"comma-separated, of {', '.join(HISTORIES)}")
    parser.add_argument("--repeat", type=int, default=5, help="rounds of 20 reads per measurement; the best is shown")
    parser.add_argument("--database-url", help="SQLAlchemy URL of an empty database (default: SQLite in a temp dir)")
    args = parser.parse_args(argv)
    names = [name.strip() for name in args.history.split(",")]
    unknown = [name for name in names if name not in HISTORIES]
    if unknown:
        parser.error(f"unknown history {unknown[0]!r}: choose from {', '.join(HISTORIES)}")
    print(f"best of {args.repeat} rounds of 20 reads, after 20 unrecorded ones")
    with database(args.database_url) as url:
        upgrade(url)
        print(f"database: {url.split('?')[0]}")
        for name in names:  # each grows a table of its own: the others' rows are not in its reads' way
            measure(url, name, args.rows, args.repeat)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
