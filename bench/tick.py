"""How long one scheduler tick takes over many customers, and how much memory and Slack traffic it costs.

Generates N plans (one per channel) and many customers straight into the database with bulk
inserts, then runs ``bot.scheduler.tick`` for one instant (a Monday after the plans' weekly 09:00 UTC
health update is due, with a share of customers owing newly overdue milestones), delivering to the
fake Slack Web API (``sandbox.slack_api.FakeSlack``) on loopback. It then ticks again for the
same instant, which must post nothing new.

Each tick runs in a fresh child process, so its peak RSS is the tick's (plus the interpreter, the
imports and the engine), not the data generation's or the fake Slack's. Run from the repository root::

    .venv/bin/python -m bench.tick [--customers N] [--plans N] [--database-url URL] [--profile FILE]

Exits 1 when a tick made more than ``plans x 25`` Slack calls, when the second tick posted anything,
when a delivery failed, or when the fake Slack saw a call real Slack would reject.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from bench.measure import cpu_s, peak_rss_mib
from bench.tick_floor import FLOORS
from sandbox.payloads import ALICE, BOB
from sandbox.slack_api import FakeSlack
from steps.deadlines import deadline
from steps.health import MilestoneState, ScoreBreakdown, compute_score, freshness_at
from steps.step3 import STEP_ID, HealthModel, MilestonesSection, TrainingPlan
from storage.db import make_engine, make_session_factory, transaction, upgrade
from storage.models import (
    Alert,
    Customer,
    CustomerMilestone,
    HealthScore,
    JobRun,
    OutboxMessage,
    Plan,
    PlanSection,
)

TEAM_ID = "T0BENCH"
BOT_TOKEN = "xoxb-bench-tick"
# A Monday, after the plans' weekly 09:00 UTC health update; fixed so that runs are comparable.
NOW = datetime(2026, 11, 30, 9, 30, tzinfo=UTC)
PREVIOUS_UPDATE = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # the update before: customers' reported bands
SECTIONS_SAVED = datetime(2026, 11, 2, 14, 0, tzinfo=UTC)  # well before PREVIOUS_UPDATE
CHUNK = 10_000  # rows per bulk insert
CUSTOMER_BATCH = 2_000  # customers generated at a time (x5 milestones, x1 score history row)
MAX_START_AGE_DAYS = 120  # customers started up to this many days before NOW
# Per channel at most: a missed-milestone digest with 10 thread parts, a health update with 10 thread parts.
SLACK_CALLS_PER_PLAN = 25
TARGET_SECONDS = 10.0
TARGET_MIB = 500.0
TARGET_CUSTOMERS = 100_000

MILESTONES = MilestonesSection.model_validate(
    {
        "milestones": [
            {"name": "Kickoff held", "timeline_days": 7, "definition_of_done": "Kickoff call held with the sponsor",
             "points_on_time": 10, "points_missed": 15},
            {"name": "First integration live", "timeline_days": 30,
             "definition_of_done": "Production data flows through the API", "points_on_time": 5, "points_missed": 10},
            {"name": "Team trained", "timeline_days": 45,
             "definition_of_done": "Every seat holder finished the basics course", "points_missed": 5},
            {"name": "First report shared", "timeline_days": 60,
             "definition_of_done": "A report went to the sponsor", "points_on_time": 5},
            {"name": "Onboarding review", "timeline_days": 90,
             "definition_of_done": "Review call held; success plan signed off", "points_on_time": 10,
             "points_missed": 10},
        ],
        "retention_correlation": "Customers reaching all milestones renew at 92%",
        "missed_deadline_policy": "CSM calls the sponsor within two business days",
    }
)  # fmt: skip
HEALTH = HealthModel.model_validate(
    {
        "weights": {"adoption": 40, "engagement": 25, "tickets": 15, "milestones": 20},
        "calculation_notes": "Weighted mean of the factors",
        "critical_below": 40,
        "healthy_from": 70,
        "cadence": "weekly",
        "update_time": "09:00",
        "timezone": "UTC",
        "monitors": [ALICE, BOB],
        "protocols": {"healthy": "Ask for a referral", "at_risk": "CSM check-in within a week",
                      "critical": "Escalate to the CS manager the same day"},
    }
)  # fmt: skip
TRAINING = TrainingPlan.model_validate(
    {
        "documentation": "Getting-started guide and FAQ in the help centre",
        "video_tutorials": "Five-minute walkthrough videos per feature",
        "session_types": ["one_on_one", "webinar"],
        "schedule_curriculum": "Weekly webinar on Tuesdays covering admin basics",
        "certification": "yes",
        "certification_levels": "Bronze, Silver, Gold badges",
    }
)
SIGNALLED = ("adoption", "engagement", "tickets")
OWNERS = (ALICE, BOB, None)
SEGMENTS = ("SMB", "Mid-market", "Enterprise")
COUNTED_TABLES: dict[str, Any] = {
    "health_scores": HealthScore,
    "alerts": Alert,
    "outbox": OutboxMessage,
    "job_runs": JobRun,
}


# --- data generation ---------------------------------------------------------------------------


@dataclass
class Generated:
    customers: int = 0
    milestones: int = 0
    newly_overdue_customers: int = 0  # customers with at least one overdue, un-alerted, open milestone
    newly_overdue_milestones: int = 0
    seconds: float = 0.0


def _insert_chunked(session: Session, model: Any, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), CHUNK):
        session.execute(insert(model), rows[start : start + CHUNK])


def _create_plans(session: Session, plans: int) -> list[int]:
    plan_rows = [
        {"id": i + 1, "team_id": TEAM_ID, "channel_id": channel_id(i), "name": f"Bench plan {i + 1:03d}",
         "created_by": ALICE, "created_at": SECTIONS_SAVED, "steps_completed": [STEP_ID]}
        for i in range(plans)
    ]  # fmt: skip
    _insert_chunked(session, Plan, plan_rows)
    answers = {
        "milestones": MILESTONES.model_dump(mode="json"),
        "health": HEALTH.model_dump(mode="json"),
        "training": TRAINING.model_dump(mode="json"),
    }
    # The bot validates what it stored; fail here rather than in the tick.
    MilestonesSection.model_validate(answers["milestones"])
    HealthModel.model_validate(answers["health"])
    TrainingPlan.model_validate(answers["training"])
    section_rows = [
        {"team_id": TEAM_ID, "plan_id": row["id"], "section": section, "answers": values, "version": 1,
         "updated_by": ALICE, "updated_at": SECTIONS_SAVED}
        for row in plan_rows
        for section, values in answers.items()
    ]  # fmt: skip
    _insert_chunked(session, PlanSection, section_rows)
    # What the bot recorded as done for each plan before the tick, as in steady state: its customers' deadlines
    # follow the saved milestones (version 1), and the previous weekly update ran (it scored every customer).
    job_rows = [
        run
        for row in plan_rows
        for run in (
            {"team_id": TEAM_ID, "job": f"reschedule:{row['id']}", "period": "1", "ran_at": SECTIONS_SAVED},
            {"team_id": TEAM_ID, "job": f"health:{row['id']}", "period": PREVIOUS_UPDATE.isoformat(),
             "ran_at": PREVIOUS_UPDATE},
        )
    ]  # fmt: skip
    _insert_chunked(session, JobRun, job_rows)
    return [row["id"] for row in plan_rows]


def _alerted_at(due: date) -> datetime:
    """When an earlier check alerted a milestone due on ``due``: just after midnight UTC the day after."""
    return datetime.combine(due + timedelta(days=1), clock_time(0, 5), tzinfo=UTC)


def _customer_milestones(rng: random.Random, newly_overdue: bool, today: date) -> tuple[date, list[dict[str, Any]]]:
    """A start date and the five milestone rows (without ids) of one customer, as of ``today``.

    With ``newly_overdue``, one milestone became overdue 1-3 days ago and no check has alerted it yet. Every other
    milestone that is past due was either completed or already alerted by an earlier check.
    """
    specs = MILESTONES.milestones
    if newly_overdue:
        k = rng.randrange(len(specs))
        start = today - timedelta(days=specs[k].timeline_days + rng.randint(1, 3))
    else:
        k = -1
        start = today - timedelta(days=rng.randint(0, MAX_START_AGE_DAYS))
    rows: list[dict[str, Any]] = []
    for position, spec in enumerate(specs):
        due = deadline(start, spec.timeline_days)
        completed_on: date | None = None
        alerted_at: datetime | None = None
        if position == k:
            pass  # overdue, open, not alerted: this tick alerts it
        elif due < today:
            roll = rng.random()
            if roll < 0.6:
                completed_on = due - timedelta(days=rng.randint(0, min(5, spec.timeline_days - 1)))
            elif roll < 0.7:  # completed late, after its alert
                completed_on = min(due + timedelta(days=rng.randint(1, 10)), today)
                alerted_at = _alerted_at(due)
            else:
                alerted_at = _alerted_at(due)
        elif rng.random() < 0.15:  # done early
            completed_on = min(start + timedelta(days=rng.randint(1, spec.timeline_days)), today)
        rows.append({
            "position": position, "name": spec.name, "due_date": due, "completed_on": completed_on,
            "completed_by": ALICE if completed_on else None, "alerted_at": alerted_at,
        })  # fmt: skip
    return start, rows


def _score_at(signals: dict[str, float], times: dict[str, str], rows: list[dict[str, Any]], at: datetime) -> Any:
    """The score the bot computed at ``at``, from the state back then (what the team was told, at an update)."""
    day = at.date()
    states = []
    for row in rows:
        spec = MILESTONES.milestones[row["position"]]
        done = row["completed_on"] if row["completed_on"] is not None and row["completed_on"] <= day else None
        states.append(
            MilestoneState(row["position"], row["name"], row["due_date"], done, spec.points_on_time, spec.points_missed)
        )
    return compute_score(HEALTH, signals, states, day, observed=times, freshness=freshness_at(HEALTH, {}, None, at))


def generate(
    sessions: sessionmaker[Session],
    *,
    plans: int,
    customers: int,
    overdue_share: float,
    seed: int,
    layout: str = "interleaved",
) -> Generated:
    started = time.perf_counter()
    rng = random.Random(seed)
    # Observation times from their own generator, so the rest of the data is what it was before they existed: up to
    # 20 days old, so at NOW about 30% of the values are past the weekly plans' 14-day window (stale).
    ages = random.Random(seed + 1)
    today = NOW.date()
    stats = Generated()
    with transaction(sessions) as session:
        plan_ids = _create_plans(session, plans)
    milestone_id = 0
    for batch_start in range(0, customers, CUSTOMER_BATCH):
        customer_rows: list[dict[str, Any]] = []
        milestone_rows: list[dict[str, Any]] = []
        score_rows: list[dict[str, Any]] = []
        for n in range(batch_start, min(batch_start + CUSTOMER_BATCH, customers)):
            customer_id = n + 1
            # Spread evenly over the plans: one after another (a customer added to each plan in turn, the worst case
            # for one plan's writes), or each plan's customers in one run of ids (each plan imported at once).
            plan_id = plan_ids[n % plans] if layout == "interleaved" else plan_ids[n * plans // customers]
            newly_overdue = rng.random() < overdue_share
            start, rows = _customer_milestones(rng, newly_overdue, today)
            signals = {key: float(rng.randint(0, 100)) for key in SIGNALLED}
            times = {key: (NOW - timedelta(days=ages.uniform(0, 20))).isoformat() for key in signals}
            reported = _score_at(signals, times, rows, PREVIOUS_UPDATE)
            band = reported.band.value if reported.band else None
            score_rows.append({
                "team_id": TEAM_ID, "plan_id": plan_id, "customer_id": customer_id, "computed_at": PREVIOUS_UPDATE,
                "score": reported.score, "band": band, "breakdown": reported.to_dict(),
            })  # fmt: skip
            # A milestone completed since that update rescored the customer then (the band as heard stays).
            current, scored_at = reported, PREVIOUS_UPDATE
            since = [r["completed_on"] for r in rows
                     if r["completed_on"] and r["completed_on"] > PREVIOUS_UPDATE.date()]  # fmt: skip
            if since:
                scored_at = datetime.combine(max(since), clock_time(8), tzinfo=UTC)  # before NOW on its day too
                current = _score_at(signals, times, rows, scored_at)
                score_rows.append({
                    "team_id": TEAM_ID, "plan_id": plan_id, "customer_id": customer_id, "computed_at": scored_at,
                    "score": current.score, "band": current.band.value if current.band else None,
                    "breakdown": current.to_dict(),
                })  # fmt: skip
            name = f"Bench Customer {customer_id:06d}"
            customer_rows.append({
                "id": customer_id, "team_id": TEAM_ID, "plan_id": plan_id, "name": name, "name_key": name.casefold(),
                "external_id": f"bench-{customer_id:06d}", "signal_times": times,
                "segment": SEGMENTS[n % len(SEGMENTS)], "owner_id": OWNERS[n % len(OWNERS)], "start_date": start,
                "created_by": ALICE, "created_at": datetime.combine(start, clock_time(10), tzinfo=UTC),
                "signals": signals, "score": current.score, "band": current.band.value if current.band else None,
                "scored_at": scored_at, "reported_band": band, "reported_score": reported.score,
            })  # fmt: skip
            for row in rows:
                milestone_id += 1
                milestone_rows.append(
                    row | {"id": milestone_id, "team_id": TEAM_ID, "plan_id": plan_id, "customer_id": customer_id}
                )
            overdue = sum(
                1 for r in rows if r["due_date"] < today and r["completed_on"] is None and not r["alerted_at"]
            )
            stats.newly_overdue_customers += overdue > 0
            stats.newly_overdue_milestones += overdue
        with transaction(sessions) as session:
            _insert_chunked(session, Customer, customer_rows)
            _insert_chunked(session, CustomerMilestone, milestone_rows)
            _insert_chunked(session, HealthScore, score_rows)
        stats.customers += len(customer_rows)
        stats.milestones += len(milestone_rows)
    stats.seconds = time.perf_counter() - started
    return stats


def channel_id(index: int) -> str:
    return f"C0BENCH{index + 1:03d}"


def row_counts(sessions: sessionmaker[Session]) -> dict[str, int]:
    with transaction(sessions) as session:
        counts = {name: session.scalar(select(func.count()).select_from(model)) or 0
                  for name, model in COUNTED_TABLES.items()}  # fmt: skip
        counts["outbox pending"] = (
            session.scalar(
                select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status.in_(("pending", "sending")))
            )
            or 0
        )
    return counts


def verify_scores(sessions: sessionmaker[Session]) -> tuple[int, list[str]]:
    """Every customer's stored score, band and newest breakdown against ``compute_score`` at the tick's instant (the
    reference path, from scratch): (customers compared, differences found, the first few)."""
    from bot.customers import runnable
    from storage import repo

    differences: list[str] = []
    compared = 0
    with transaction(sessions) as session:
        for plan in repo.all_plans(session):
            ready = runnable(session, plan)
            assert ready is not None
            fresh, today = ready.freshness(NOW), ready.today(NOW)
            points = [(m.points_on_time, m.points_missed) for m in ready.milestones.milestones]
            latest: dict[int, Any] = {}
            for customer_id, breakdown in session.execute(
                select(HealthScore.customer_id, HealthScore.breakdown)
                .where(HealthScore.plan_id == plan.id)
                .order_by(HealthScore.customer_id, HealthScore.computed_at, HealthScore.id)
            ):  # fmt: skip
                latest[customer_id] = breakdown
            milestones: dict[int, list[MilestoneState]] = {}
            for row in session.execute(
                select(CustomerMilestone).where(CustomerMilestone.plan_id == plan.id)
                .order_by(CustomerMilestone.customer_id, CustomerMilestone.position)
            ).scalars():  # fmt: skip
                on_time, missed = points[row.position] if row.position < len(points) else (None, None)
                milestones.setdefault(row.customer_id, []).append(
                    MilestoneState(row.position, row.name, row.due_date, row.completed_on, on_time, missed)
                )
            for customer in session.execute(select(Customer).where(Customer.plan_id == plan.id)).scalars():
                compared += 1
                expected = compute_score(ready.health, customer.signals, milestones.get(customer.id, []), today,
                                         observed=customer.signal_times, freshness=fresh)  # fmt: skip
                band = expected.band.value if expected.band else None
                if (customer.score, customer.band) != (expected.score, band) or (
                    customer.reported_score, customer.reported_band) != (expected.score, band):  # fmt: skip
                    differences.append(f"customer {customer.id}: stored {customer.score} {customer.band} "
                                       f"(reported {customer.reported_score} {customer.reported_band}), "
                                       f"expected {expected.score} {band}")  # fmt: skip
                elif ScoreBreakdown.from_dict(latest[customer.id]) != expected:
                    differences.append(f"customer {customer.id}: newest breakdown differs from compute_score's")
    return compared, differences


# --- one tick, in a child process --------------------------------------------------------------


@dataclass
class TickResult:
    wall_s: float
    cpu_s: float  # user + system CPU of the child during the tick
    check_wall_s: float  # of which the check (bot.jobs.check); the rest is delivery
    check_cpu_s: float
    sleep_s: float  # pacing sleeps the deliverer asked for (recorded, not slept)
    sleeps: int
    rss_before_mib: float  # peak RSS of the child before the tick: interpreter, imports, engine
    rss_peak_mib: float  # peak RSS of the child after the tick
    missed: int
    band_alerts: int
    health_updates: int
    scored: int
    sent: int
    retried: int
    failed: int
    summary: str


def run_child(database_url: str, slack_base_url: str, profile: str | None) -> TickResult:
    from bot import scheduler
    from bot.services import Services
    from bot.slack_api import make_client

    checked: list[float] = []  # wall and CPU of the check, to report it apart from delivery
    check = scheduler.check

    def timed_check(*args: Any, **kwargs: Any) -> Any:
        wall, cpu = time.perf_counter(), cpu_s()
        try:
            return check(*args, **kwargs)
        finally:
            checked.extend((time.perf_counter() - wall, cpu_s() - cpu))

    scheduler.check = timed_check  # type: ignore[assignment]

    services = Services(make_session_factory(make_engine(database_url)), clock=lambda: NOW)
    client = make_client(BOT_TOKEN, slack_base_url)
    sleeps: list[float] = []
    profiler = cProfile.Profile() if profile else None
    rss_before, cpu_before = peak_rss_mib(), cpu_s()
    started = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    report = scheduler.tick(services, client, NOW, sleep=sleeps.append)
    if profiler is not None:
        profiler.disable()
    wall = time.perf_counter() - started
    cpu = cpu_s() - cpu_before
    if profiler is not None and profile:
        profiler.dump_stats(profile)
    c, d = report.check, report.delivery
    return TickResult(
        wall_s=wall, cpu_s=cpu, check_wall_s=checked[0], check_cpu_s=checked[1], sleep_s=sum(sleeps),
        sleeps=len(sleeps), rss_before_mib=rss_before,
        rss_peak_mib=peak_rss_mib(), missed=c.missed, band_alerts=c.band_alerts, health_updates=c.health_updates,
        scored=c.scored, sent=d.sent, retried=d.retried, failed=d.failed, summary=report.summary(),
    )  # fmt: skip


def tick_in_child(database_url: str, fake: FakeSlack, profile: str | None = None, replicas: int = 1) -> TickResult:
    """One tick in a fresh child process; with ``replicas`` > 1, that many children tick at once, like replicas of
    the bot on one database (they split the plans: each check locks a plan's row and skips locked ones). Their
    figures add up, except wall time: the slowest child's."""
    command = [sys.executable, "-m", "bench.tick", "--child", "--database-url", database_url,
               "--slack-base-url", fake.base_url]  # fmt: skip
    if profile:
        command += ["--profile", profile]
    children = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for _ in range(replicas)]  # fmt: skip
    results = []
    for child in children:
        out, err = child.communicate()
        if child.returncode != 0:
            raise RuntimeError(f"tick child failed ({child.returncode}):\n{err}")
        results.append(TickResult(**json.loads(out.strip().splitlines()[-1])))
    if len(results) == 1:
        return results[0]
    total: dict[str, Any] = {}
    for name in asdict(results[0]):
        values = [getattr(r, name) for r in results]
        if name in ("wall_s", "check_wall_s", "rss_before_mib", "rss_peak_mib"):
            total[name] = max(values)
        elif name == "summary":
            total[name] = "\n               ".join(f"replica {n + 1}: {v}" for n, v in enumerate(values))
        else:
            total[name] = sum(values)
    return TickResult(**total)


@dataclass
class FloorResult:
    wall_s: float
    cpu_s: float
    rss_peak_mib: float


FLOOR_LABELS = {"sql": "set-based SQL", "loop": "tight loop over raw sqlite3 rows"}


def run_floor_child(name: str, database_url: str) -> FloorResult:
    cpu_before, started = cpu_s(), time.perf_counter()
    FLOORS[name](database_url.removeprefix("sqlite:///"), NOW)
    return FloorResult(time.perf_counter() - started, cpu_s() - cpu_before, peak_rss_mib())


def floor_in_child(name: str, path: str) -> FloorResult:
    command = [sys.executable, "-m", "bench.tick", "--floor-child", name, "--database-url", f"sqlite:///{path}"]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"floor child failed ({done.returncode}):\n{done.stderr}")
    return FloorResult(**json.loads(done.stdout.strip().splitlines()[-1]))


# --- report ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Measured:
    label: str
    result: TickResult
    calls: Counter[str]
    written: dict[str, int]


COLUMNS = (
    ("tick", 6), ("wall s", 7), ("CPU s", 6), ("check wall s", 12), ("check CPU s", 11), ("pacing s", 8),
    ("Slack calls", 11), ("+health_scores", 14),
    ("+alerts", 7), ("+outbox", 7), ("RSS before", 10), ("peak RSS", 8),
)  # fmt: skip


def _cells(cells: list[str]) -> str:
    padded = [
        cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, (_, w)) in enumerate(zip(cells, COLUMNS, strict=True))
    ]
    return "| " + " | ".join(padded) + " |"


def format_table(rows: list[Measured]) -> list[str]:
    lines = [_cells([name for name, _ in COLUMNS]), "|" + "|".join("-" * (w + 2) for _, w in COLUMNS) + "|"]
    for m in rows:
        r = m.result
        lines.append(
            _cells([
                m.label, f"{r.wall_s:.2f}", f"{r.cpu_s:.2f}", f"{r.check_wall_s:.2f}", f"{r.check_cpu_s:.2f}",
                f"{r.sleep_s:.0f}", str(sum(m.calls.values())),
                str(m.written["health_scores"]), str(m.written["alerts"]), str(m.written["outbox"]),
                f"{r.rss_before_mib:.0f} MiB", f"{r.rss_peak_mib:.0f} MiB",
            ])
        )  # fmt: skip
    return lines


def profile_summary(path: str, top: int = 25) -> str:
    out = io.StringIO()
    stats = pstats.Stats(path, stream=out)
    stats.strip_dirs().sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    return out.getvalue()


@contextmanager
def database(url: str | None) -> Iterator[str]:
    if url is not None:
        yield url
        return
    with tempfile.TemporaryDirectory(prefix="bench-tick-") as tmp:
        yield f"sqlite:///{tmp}/bot.db"


def _database_size(url: str) -> str:
    if not url.startswith("sqlite:///"):
        return "n/a"
    path = url.removeprefix("sqlite:///")
    size = sum(os.path.getsize(p) for p in (path, path + "-wal") if os.path.exists(p))
    return f"{size / 1024 / 1024:.0f} MiB"


def _data_options(args: argparse.Namespace) -> dict[str, Any]:
    options = {"plans": args.plans, "customers": args.customers, "overdue_share": args.overdue_share, "seed": args.seed}
    return options if args.layout == "interleaved" else options | {"layout": args.layout}


def _save_data(url: str, saved: Path, generated: Generated, options: dict[str, Any]) -> None:
    """A copy of the generated database and its figures, for ``--data-file`` (the backup API folds the WAL in)."""
    with closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as source, closing(sqlite3.connect(saved)) as copy:
        source.backup(copy)
    saved.with_suffix(".json").write_text(json.dumps(asdict(generated) | {"options": options}))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--customers", type=int, default=10_000, help="customers over all plans (default 10000)")
    parser.add_argument("--plans", type=int, default=10, help="plans, one per channel (default 10)")
    parser.add_argument("--database-url", help="SQLAlchemy URL of an empty database (default: SQLite in a temp dir)")
    parser.add_argument("--overdue-share", type=float, default=0.3,
                        help="share of customers with a newly overdue, un-alerted milestone (default 0.3)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=20261130, help="random seed of the generated data")
    parser.add_argument("--layout", choices=("interleaved", "clustered"), default="interleaved",
                        help="where each plan's customers sit in the tables: interleaved (customer n in plan n mod "
                             "plans, the default and the worst case) or clustered (each plan's customers in one run "
                             "of ids, as when each plan imported its customers at once)")  # fmt: skip
    parser.add_argument("--profile", metavar="FILE",
                        help="run the first tick under cProfile, save the stats to FILE and print the top functions "
                             "(the tick's figures then include the profiler's overhead)")  # fmt: skip
    parser.add_argument("--data-file", metavar="FILE",
                        help="SQLite only: reuse the data generated into FILE by an earlier run with the same options "
                             "(copied, so each run ticks over the same untouched data); generated and saved there "
                             "when FILE does not exist")  # fmt: skip
    parser.add_argument("--replicas", type=int, default=1,
                        help="run the 1st tick in this many processes at once, like replicas of the bot on one "
                             "database (PostgreSQL; wall time is the slowest one's, CPU the sum)")  # fmt: skip
    parser.add_argument("--no-floor", action="store_true",
                        help="skip the floors (same work done set-based in SQL, and in a tight loop over raw rows; "
                             "SQLite only, each on a copy of the data made before the tick)")  # fmt: skip
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--floor-child", choices=sorted(FLOORS), help=argparse.SUPPRESS)
    parser.add_argument("--slack-base-url", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        result = run_child(args.database_url, args.slack_base_url, args.profile)
        print(json.dumps(asdict(result)))
        return 0
    if args.floor_child:
        print(json.dumps(asdict(run_floor_child(args.floor_child, args.database_url))))
        return 0
    if args.plans < 1 or args.customers < 0:
        parser.error("--plans must be at least 1 and --customers at least 0")

    with FakeSlack(valid_tokens={BOT_TOKEN}) as fake, database(args.database_url) as url:
        for i in range(args.plans):
            fake.add_channel(channel_id(i), name=f"onboarding-bench-{i + 1:03d}")
        started = time.perf_counter()
        saved = Path(args.data_file) if args.data_file else None
        if saved is not None and args.database_url:
            parser.error("--data-file works with the default SQLite database only")
        reused = saved is not None and saved.exists()
        if saved is not None and saved.exists():
            kept = json.loads(saved.with_suffix(".json").read_text())
            if kept.pop("options") != _data_options(args):
                parser.error(f"{saved} holds data generated with other options: {saved.with_suffix('.json')}")
            shutil.copyfile(saved, url.removeprefix("sqlite:///"))
            generated = Generated(**kept)
        upgrade(url)
        migrate_s = time.perf_counter() - started
        engine = make_engine(url)
        sessions = make_session_factory(engine)
        if saved is None or not saved.exists():
            with transaction(sessions) as session:
                if session.scalar(select(func.count()).select_from(Plan)):
                    raise SystemExit("the database already has plans; give an empty one")
            generated = generate(
                sessions,
                plans=args.plans,
                customers=args.customers,
                overdue_share=args.overdue_share,
                seed=args.seed,
                layout=args.layout,
            )
            if saved is not None:
                _save_data(url, saved, generated, _data_options(args))
        size = _database_size(url)
        floors: dict[str, FloorResult] = {}
        if url.startswith("sqlite:///") and not args.no_floor:
            with tempfile.TemporaryDirectory(prefix="bench-floor-") as tmp:
                for name in FLOORS:
                    copy = f"{tmp}/{name}.db"
                    with closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as source, closing(
                        sqlite3.connect(copy)) as target:  # fmt: skip
                        source.backup(target)
                    floors[name] = floor_in_child(name, copy)

        measured: list[Measured] = []
        for label, profile in (("1st", args.profile), ("2nd", None)):
            before_calls = Counter(c.method for c in fake.calls)
            before_rows = row_counts(sessions)
            result = tick_in_child(url, fake, profile, args.replicas if label == "1st" else 1)
            after_rows = row_counts(sessions)
            calls = Counter(c.method for c in fake.calls) - before_calls
            written = {name: after_rows[name] - before_rows[name] for name in COUNTED_TABLES}
            measured.append(Measured(label, result, calls, written))
        pending = row_counts(sessions)["outbox pending"]
        compared, differences = verify_scores(sessions)
        problems = list(fake.problems)
        engine.dispose()

    first, second = measured
    lines = [
        f"database:      {url if args.database_url else 'sqlite (file in a temp dir)'}, {size} after generation",
        f"machine:       {platform.machine()}, os.cpu_count()={os.cpu_count()}, "
        f"Python {platform.python_version()} ({platform.python_implementation()}), {platform.system()}",
        f"data:          {args.plans} plans ({args.layout}), {generated.customers} customers, "
        f"{generated.milestones} milestones; "
        f"{generated.newly_overdue_customers} customers "
        f"({generated.newly_overdue_customers / max(generated.customers, 1):.0%}) with "
        f"{generated.newly_overdue_milestones} newly overdue milestones",
        f"setup:         migrations {migrate_s:.2f} s, data generation {generated.seconds:.1f} s"
        + (f" (an earlier run's, copied from {args.data_file})" if reused else ""),
        f"tick instant:  {NOW.isoformat()} (Monday; weekly health update due at 09:00 UTC)",
        "",
        "wall/CPU = the tick() call in a fresh child process (check = its bot.jobs.check, the rest is delivery);",
        "pacing = Slack pacing sleeps requested (not slept);",
        "RSS before = child's peak RSS before the tick (interpreter, imports, engine); peak RSS = after it",
        *format_table(measured),
        "",
    ]
    for m in measured:
        lines.append(f"{m.label} tick:      {m.result.summary}")
        methods = ", ".join(f"{method} {n}" for method, n in sorted(m.calls.items())) or "none"
        lines.append(f"               Slack calls by method: {methods}; job_runs +{m.written['job_runs']}; "
                     f"{m.result.sleeps} pacing sleeps")  # fmt: skip
    for name, floor in floors.items():
        lines.append(
            f"floor {name + ':':<8}{floor.wall_s:.2f} s wall, {floor.cpu_s:.2f} s CPU, "
            f"peak RSS {floor.rss_peak_mib:.0f} MiB ({FLOOR_LABELS[name]})"
        )
        lines.append(
            f"               1st tick / floor: {first.result.wall_s / floor.wall_s:.2f}x wall, "
            f"{first.result.cpu_s / floor.cpu_s:.2f}x CPU; its check alone: "
            f"{first.result.check_wall_s / floor.wall_s:.2f}x wall, {first.result.check_cpu_s / floor.cpu_s:.2f}x CPU"
        )
    lines.append(f"load average:  {' '.join(f'{x:.2f}' for x in os.getloadavg())} (1, 5, 15 min) at the end")
    lines.append(f"outbox:        {pending} item(s) still pending after both ticks")
    lines.append(
        f"scores:        {compared} customers' stored score, band, band as reported and newest breakdown "
        f"compared with compute_score at the tick: {len(differences)} difference(s)"
    )
    print("\n".join(lines))
    if args.profile:
        print(f"\nprofile of the 1st tick ({args.profile}):\n{profile_summary(args.profile)}")

    failures = []
    budget = args.plans * SLACK_CALLS_PER_PLAN
    for m in measured:
        if sum(m.calls.values()) > budget:
            calls = sum(m.calls.values())
            failures.append(f"{m.label} tick made {calls} Slack calls, over {budget} (plans x {SLACK_CALLS_PER_PLAN})")
        if m.result.failed:
            failures.append(f"{m.label} tick: {m.result.failed} deliveries failed")
    if second.calls["chat.postMessage"]:
        failures.append(f"2nd tick for the same instant posted {second.calls['chat.postMessage']} message(s)")
    if differences:
        failures.append(f"{len(differences)} stored score(s) differ from compute_score: {differences[:3]}")
    if problems:
        failures.append(f"the fake Slack saw {len(problems)} call(s) real Slack would reject: {problems[:3]}")

    if args.customers >= TARGET_CUSTOMERS:
        met = first.result.wall_s <= TARGET_SECONDS and first.result.rss_peak_mib <= TARGET_MIB
        verdict = "met" if met else "MISSED"
        print(f"target (100k customers: tick <= {TARGET_SECONDS:.0f} s, <= {TARGET_MIB:.0f} MB): {verdict} "
              f"({first.result.wall_s:.1f} s, {first.result.rss_peak_mib:.0f} MiB)")  # fmt: skip
    if failures:
        for failure in failures:
            print(f"FAIL: {failure}", file=sys.stderr)
        return 1
    print(f"OK: at most {budget} Slack calls per tick, nothing posted twice")
    return 0


if __name__ == "__main__":
    sys.exit(main())
