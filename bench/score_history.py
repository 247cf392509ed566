"""How long the health update takes to read the newest breakdown of the customers its digest lists, as the score
history grows by one row per customer and update (``storage.health_scores.latest_breakdowns``).

    .venv/bin/python -m bench.score_history                      # 800 customers, 2 and 52 rows each, SQLite
    .venv/bin/python -m bench.score_history --database-url URL   # an empty database (migrated first)
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import insert
from sqlalchemy.orm import Session, sessionmaker

from bench.measure import cpu_s
from bench.tick import HEALTH, database
from steps.health import compute_score
from storage.db import make_engine, make_session_factory, transaction, upgrade
from storage.health_scores import latest_breakdowns
from storage.models import Customer, HealthScore, Plan

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
MODEL = HEALTH  # the tick bench's plan model


def _customers(sessions: sessionmaker[Session], count: int) -> list[int]:
    with transaction(sessions) as session:
        plan = Plan(team_id="T0BENCH", channel_id="C0BENCH001", name="bench", created_by="U0BENCH")
        session.add(plan)
        session.flush()
        rows = [
            Customer(team_id="T0BENCH", plan_id=plan.id, name=f"Customer {n:05d}", name_key=f"customer {n:05d}",
                     external_id=f"c{n}", start_date=date(2025, 11, 1), created_by="U0BENCH")
            for n in range(count)
        ]  # fmt: skip
        session.add_all(rows)
        session.flush()
        return [row.id for row in rows]


def _add_weeks(sessions: sessionmaker[Session], customer_ids: list[int], weeks: range) -> None:
    """One history row per customer and week, ``weeks`` counting back from NOW."""
    breakdown = compute_score(MODEL, {"adoption": 60.0, "engagement": 50.0, "tickets": 80.0}, [], NOW.date())
    band = breakdown.band.value if breakdown.band else None
    with transaction(sessions) as session:
        plan_id = session.get(Customer, customer_ids[0]).plan_id  # type: ignore[union-attr]
        for week in weeks:
            session.execute(
                insert(HealthScore),
                [{"team_id": "T0BENCH", "plan_id": plan_id, "customer_id": customer_id,
                  "computed_at": NOW - timedelta(weeks=week), "score": breakdown.score, "band": band,
                  "breakdown": breakdown.stored()} for customer_id in customer_ids],
            )  # fmt: skip


def _timed(sessions: sessionmaker[Session], customer_ids: list[int], repeat: int) -> tuple[float, float]:
    """Best wall and CPU ms of ``repeat`` reads, after one unrecorded (statement compiled, pages cached)."""
    best_wall = best_cpu = float("inf")
    with transaction(sessions) as session:
        latest_breakdowns(session, customer_ids)
        for _ in range(repeat):
            wall, cpu = time.perf_counter(), cpu_s()
            found = latest_breakdowns(session, customer_ids)
            best_wall = min(best_wall, time.perf_counter() - wall)
            best_cpu = min(best_cpu, cpu_s() - cpu)
            if len(found) != len(customer_ids):
                raise SystemExit(f"{len(found)} breakdowns for {len(customer_ids)} customers")
    return best_wall * 1000, best_cpu * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--customers", type=int, default=800, help="customers read at once (default 800: the most a "
                        "plan's digest lists, 400 per flagged band)")  # fmt: skip
    parser.add_argument("--weeks", type=int, nargs="+", default=[2, 52],
                        help="history rows per customer to measure at, ascending (default 2 52)")  # fmt: skip
    parser.add_argument("--repeat", type=int, default=5, help="reads per measurement; the best is shown")
    parser.add_argument("--database-url", help="SQLAlchemy URL of an empty database (default: SQLite in a temp dir)")
    args = parser.parse_args(argv)
    with database(args.database_url) as url:
        upgrade(url)
        sessions = make_session_factory(make_engine(url))
        customer_ids = _customers(sessions, args.customers)
        print(f"database: {url.split('?')[0]}; {args.customers} customers; best of {args.repeat} reads")
        print("| history rows per customer | wall ms | CPU ms |")
        print("|---|---|---|")
        have = 0
        for weeks in args.weeks:
            _add_weeks(sessions, customer_ids, range(have, weeks))
            have = weeks
            wall, cpu = _timed(sessions, customer_ids, args.repeat)
            print(f"| {weeks} | {wall:.1f} | {cpu:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
