"""How long rescheduling every customer's milestones takes after a plan's milestones are edited.

It runs inside the milestones form's submission, before Slack gets its answer (3 s), so it must not grow with the
number of customers the way a per-row loop does. Generates one plan with N customers (``bench.tick``'s generator),
then times ``storage.customers.reschedule`` for an edit that renames a milestone, moves two timelines and adds a
milestone. Run from the repository root::

    .venv/bin/python -m bench.reschedule [--customers N] [--database-url URL]
"""

from __future__ import annotations

import argparse
import time

from bench.tick import NOW, database, generate
from storage import customers
from storage.db import make_engine, make_session_factory, transaction, upgrade
from tests.support.databases import postgres_schema

EDIT = [("Kick-off call", 10), ("First value", 25), ("Adoption", 60), ("Expansion", 90), ("Renewal", 120)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL; a throwaway schema is used")
    args = parser.parse_args(argv)
    if args.database_url:
        with postgres_schema(args.database_url) as url:
            return run(url, args.customers)
    with database(None) as url:
        return run(url, args.customers)


def run(url: str, count: int) -> int:
    upgrade(url)
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    generate(sessions, plans=1, customers=count, overdue_share=0.3, seed=7)
    started = time.perf_counter()
    with transaction(sessions) as session:
        customers.reschedule(session, 1, EDIT, NOW.date())
    elapsed = time.perf_counter() - started
    print(
        f"{engine.dialect.name}: rescheduled {count:,} customers ({count * len(EDIT):,} milestones) in {elapsed:.2f} s"
    )
    engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
