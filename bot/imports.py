"""Customers and signals in bulk, for every way in (slash command, CSV file, Slack upload, HTTP API).

One use case per kind: validate the rows (``steps.imports``), upsert them by external id (``storage.imports``),
move deadlines and scores with them, and report what was created, updated, left alone or rejected. A dry run does
all of it inside a savepoint and rolls it back, so its report is exactly what a real run would do.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from bot.arguments import NewCustomer
from bot.customers import RunnablePlan
from bot.jobs import score_customers
from steps.errors import UserError
from steps.health import signal_factors
from steps.imports import Counts, ImportReport, Kind, assigned_id, check_rows
from storage import customers as customers_store
from storage import imports as store
from storage.db import Session
from storage.records import CustomerRecord

Rows = Iterable[tuple[int, Mapping[str, Any]]]


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
        external_id = assigned_id(new.name, customers_store.external_ids(session, ready.plan.id))
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
    checked = check_rows(Kind.CUSTOMERS, rows)
    milestones = [(m.name, m.timeline_days) for m in ready.milestones.milestones]
    with session.begin_nested() as savepoint:
        results, rejected, moved = store.upsert_customers(
            session, ready.plan, checked.valid, today=ready.today(now), milestones=milestones, user_id=user_id, now=now
        )
        if moved:  # a start date changed: its customer's open deadlines follow, by the plan's usual rule
            customers_store.reschedule(session, ready.plan.id, milestones, ready.today(now))
        created = [number for number, result in results.items() if result == store.CREATED]
        if created or moved:
            changed = _ids_of(session, ready, checked.valid, results)
            score_customers(session, ready, now, changed, reported=False)
        if dry_run:
            savepoint.rollback()
    return _report(Kind.CUSTOMERS, results, [*checked.rejected, *rejected], dry_run)


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
    checked = check_rows(Kind.SIGNALS, rows, factors=list(signal_factors(ready.health)), now=now)
    with session.begin_nested() as savepoint:
        results, rejected, changed = store.record_signals(
            session, ready.plan, checked.valid, source=source, user_id=user_id, now=now
        )
        if changed:
            score_customers(session, ready, now, changed, reported=False)
        if dry_run:
            savepoint.rollback()
    return _report(Kind.SIGNALS, results, [*checked.rejected, *rejected], dry_run)


def _ids_of(
    session: Session, ready: RunnablePlan, valid: Iterable[tuple[int, Any]], results: dict[int, str]
) -> set[int]:
    wanted = {row.id for number, row in valid if results.get(number) in (store.CREATED, store.UPDATED)}
    return {
        known.id
        for external_id, known in store.known_customers(session, ready.plan.id).items()
        if external_id in wanted
    }


def _report(kind: Kind, results: dict[int, str], rejected: list[Any], dry_run: bool) -> ImportReport:
    counts = Counts(
        created=sum(r == store.CREATED for r in results.values()),
        updated=sum(r == store.UPDATED for r in results.values()),
        unchanged=sum(r == store.UNCHANGED for r in results.values()),
    )
    report = ImportReport(kind, counts, [], dry_run, dict(sorted(results.items())))
    report.add_rejected(rejected)
    return report
