"""Customers and signals in bulk, for every way in (slash command, CSV file, Slack upload, HTTP API).

One use case per kind: validate the rows (``steps.imports``), upsert them by external id (``storage.imports``),
move deadlines and scores with them, and report what was created, updated, left alone or rejected. A dry run does
all of it inside a savepoint and rolls it back, so its report is exactly what a real run would do.

Built for files of 100,000 customers or 500,000 signals (bench/imports.py): rows are checked a chunk at a time as
they are read, written with executemany and set-based statements, and new customers, whose scores depend only on
their start date, are scored once per start date.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import date, datetime
from itertools import islice
from typing import Any

from bot.arguments import NewCustomer
from bot.customers import RunnablePlan
from bot.jobs import rescore_between_updates
from steps.deadlines import deadline
from steps.errors import UserError
from steps.health import MilestoneState, ScoreBreakdown, compute_score, scoring_factors, signal_factors
from steps.imports import Counts, ImportReport, Kind, Rejected, RowChecker, assigned_id
from storage import customers as customers_store
from storage import health_scores
from storage import imports as store
from storage.db import Session
from storage.records import CustomerRecord

Rows = Iterable[tuple[int, Mapping[str, Any]]]
CHUNK = 20_000  # rows checked and staged at a time: the raw rows of a whole file are never all in memory


def _chunks(rows: Rows) -> Iterator[list[tuple[int, Mapping[str, Any]]]]:
    iterator = iter(rows)
    while chunk := list(islice(iterator, CHUNK)):
        yield chunk


def add_customer(
    session: Session, ready: RunnablePlan, new: NewCustomer, user_id: str, now: datetime
) -> tuple[CustomerRecord, str]:
    """A new customer, or, with the id of one the plan has, that customer updated (every write path upserts by
    external id), and which of created / updated / unchanged happened. Without an id, the bot gives one from the
    name."""
    external_id = new.external_id
    if external_id is None:
        if customers_store.find(session, ready.plan.id, new.name.casefold()) is not None:
            raise UserError("“{name}” is already a customer of this plan.", name=new.name)
        external_id = assigned_id(
            new.name, lambda candidates: customers_store.taken_external_ids(session, ready.plan.id, candidates)
        )
    row = {"id": external_id, "name": new.name, "start": new.start, "owner": new.owner, "segment": new.segment}
    report = import_customers(session, ready, [(1, row)], user_id=user_id, now=now)
    if report.rejected:
        raise UserError("{reason}", reason=report.rejected[0].reason)
    customer = customers_store.by_external_id(session, ready.plan.id, external_id)
    if customer is None:  # the import just wrote it
        raise RuntimeError(f"customer {external_id} was not saved")
    return customer, report.results[1]


def import_customers(
    session: Session, ready: RunnablePlan, rows: Rows, *, user_id: str, now: datetime, dry_run: bool = False
) -> ImportReport:
    """Create or update customers by external id; new ones get the plan's milestones from their start date."""
    checker = RowChecker(Kind.CUSTOMERS)
    valid: list[tuple[int, Any]] = []
    invalid: list[Rejected] = []
    for chunk in _chunks(rows):
        checked = checker.check(chunk)
        valid += checked.valid
        invalid += checked.rejected
    milestones = [(m.name, m.timeline_days) for m in ready.milestones.milestones]
    with session.begin_nested() as savepoint:
        results, rejected, moved = store.upsert_customers(
            session, ready.plan, valid, today=ready.today(now), milestones=milestones, user_id=user_id, now=now
        )
        if moved:  # a start date changed: its customer's open deadlines follow, by the plan's usual rule
            customers_store.reschedule(session, ready.plan.id, milestones, ready.today(now))
        created = {row.id for number, row in valid if results.get(number) == store.CREATED}
        updated = {row.id for number, row in valid if results.get(number) == store.UPDATED}
        if created:
            _score_new(session, ready, now, store.starts(session, ready.plan.id, created))
        if updated and (created or moved):
            changed = [customer_id for customer_id, _ in store.starts(session, ready.plan.id, updated)]
            rescore_between_updates(session, ready, now, changed)
        if dry_run:
            savepoint.rollback()
    return _report(Kind.CUSTOMERS, results, [*invalid, *rejected], dry_run)


def _score_new(session: Session, ready: RunnablePlan, now: datetime, new: list[tuple[int, date]]) -> None:
    """Score customers just created: no signals yet and every milestone open, so a customer's score depends only on
    its start date. The same ``compute_score`` that ``score_customers`` runs, once per start date, not per customer
    (a file of 100,000 customers has a few hundred start dates at most)."""
    today = ready.today(now)
    plan = ready.milestones.milestones
    factors = scoring_factors(ready.health)
    fresh = ready.freshness(now)
    by_start: dict[date, ScoreBreakdown] = {}
    for start in {start for _, start in new}:
        states = [
            MilestoneState(position, m.name, deadline(start, m.timeline_days), None, m.points_on_time, m.points_missed)
            for position, m in enumerate(plan)
        ]
        by_start[start] = compute_score(ready.health, {}, states, today, factors, observed={}, freshness=fresh)
    for first in range(0, len(new), health_scores.SCORE_CHUNK):  # a chunk of rows to write at a time, as rescoring
        scores = [
            (customer_id, by_start[start]) for customer_id, start in new[first : first + health_scores.SCORE_CHUNK]
        ]
        health_scores.record_scores(session, ready.plan.team_id, ready.plan.id, scores, now, reported=False)


def import_signals(
    session: Session,
    ready: RunnablePlan,
    rows: Rows,
    *,
    source: str,
    user_id: str,
    now: datetime,
    dry_run: bool = False,
) -> ImportReport:
    """Keep every observation; each customer's score moves with its newer values."""
    with session.begin_nested() as savepoint:
        batch = store.SignalBatch(session, ready.plan, source=source, user_id=user_id, now=now)
        invalid = _stage(batch, rows, RowChecker(Kind.SIGNALS, factors=list(signal_factors(ready.health)), now=now))
        results, rejected, changed = batch.finish()
        rescore_between_updates(session, ready, now, changed)
        if dry_run:
            savepoint.rollback()
    return _report(Kind.SIGNALS, results, [*invalid, *rejected], dry_run)


def _stage(batch: store.SignalBatch, rows: Rows, checker: RowChecker) -> list[Rejected]:
    """Check and stage the rows a chunk at a time; the checker (every observation seen) is let go on return."""
    invalid: list[Rejected] = []
    for chunk in _chunks(rows):
        checked = checker.check(chunk)
        invalid += checked.rejected
        batch.add(checked.valid)
    return invalid


def _report(kind: Kind, results: dict[int, str], rejected: list[Any], dry_run: bool) -> ImportReport:
    counts = Counts(
        created=sum(r == store.CREATED for r in results.values()),
        updated=sum(r == store.UPDATED for r in results.values()),
        unchanged=sum(r == store.UNCHANGED for r in results.values()),
    )
    report = ImportReport(kind, counts, [], dry_run, dict(sorted(results.items())))
    report.add_rejected(rejected)
    return report
