"""Rescheduling after a milestones edit is set-based SQL; it must follow ``steps.deadlines.recompute_due`` exactly.

Every combination that matters (deadline passed, due today, in the future; reached, extended, alerted; the new
timeline before or after today; milestones added and removed) on both databases, compared row by row with the
domain rule applied in Python.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from steps.deadlines import deadline, recompute_due
from storage import customers as store
from storage.customers import RETIRED
from storage.db import make_engine, make_session_factory, transaction
from storage.models import Customer, CustomerMilestone, Plan

TODAY = date(2026, 11, 27)
OLD = [("Kickoff", 7), ("Adopt", 30), ("Expand", 60)]
# Renamed, one timeline shortened into the past, one lengthened, one dropped, one added.
NEW = [("Kick-off call", 3), ("Adopt", 90)]
NEWER = [*NEW, ("Renew", 120)]


@pytest.fixture
def sessions(database_url: str):
    engine = make_engine(database_url)
    yield make_session_factory(engine)
    engine.dispose()


def _seed(sessions) -> list[tuple[int, int, date]]:
    """Customers starting over a range of days (some due exactly today), milestones in every state."""
    seeded = []
    with transaction(sessions) as session:
        plan = Plan(team_id="T1", channel_id="C1", name="p", created_by="U1", steps_completed=[])
        session.add(plan)
        session.flush()
        states = itertools.product([-70, -40, -30, -20, -7, -5, 0], [None, "done", "extended", "alerted"])
        for number, (offset, state) in enumerate(states):
            start = TODAY + timedelta(days=offset)
            customer = Customer(
                team_id="T1", plan_id=plan.id, name=f"c{number}", name_key=f"c{number}", external_id=f"c{number}",
                start_date=start,
                created_by="U1", signals={},
            )  # fmt: skip
            session.add(customer)
            session.flush()
            for position, (name, days) in enumerate(OLD):
                due = deadline(start, days)
                session.add(
                    CustomerMilestone(
                        team_id="T1", plan_id=plan.id, customer_id=customer.id, position=position, name=name,
                        due_date=due, completed_on=due if state == "done" else None,
                        extended_by="U2" if state == "extended" else None,
                        alerted_at=datetime(2026, 1, 1, tzinfo=UTC) if state == "alerted" else None,
                    )
                )  # fmt: skip
                seeded.append((customer.id, position, start))
    return seeded


def _plan_id(session, channel_id: str) -> int:
    return session.scalar(select(Plan.id).where(Plan.channel_id == channel_id))


def _rows(sessions) -> dict[tuple[int, int], tuple[str, date, bool, bool, bool]]:
    with transaction(sessions) as session:
        return {
            (m.customer_id, m.position): (m.name, m.due_date, m.completed_on is not None, m.extended_by is not None,
                                          m.alerted_at is not None)
            for m in session.scalars(select(CustomerMilestone))
        }  # fmt: skip


def _expected(before, starts: dict[int, date], milestones: list[tuple[str, int]]):
    """The rule as the domain states it, row by row."""
    expected = {}
    for (customer, position), (name, due, done, extended, alerted) in before.items():
        if position >= len(milestones):
            if done or alerted:  # kept, out of the plan's positions, so a milestone added later has its own row
                retired = RETIRED if position < RETIRED else position
                expected[(customer, retired)] = (name, due, done, extended, alerted)
            continue
        new_name, days = milestones[position]
        moves = not done and not extended
        new_due = recompute_due(starts[customer], due, days, TODAY) if moves else due
        expected[(customer, position)] = (new_name, new_due, done, extended, alerted)
    for customer, start in starts.items():
        for position, (name, days) in enumerate(milestones):
            if (customer, position) not in expected and (customer, position) not in before:
                expected[(customer, position)] = (name, recompute_due(start, TODAY, days, TODAY), False, False, False)
    return expected


def test_set_based_reschedule_follows_recompute_due(sessions) -> None:
    starts = {customer: start for customer, _, start in _seed(sessions)}
    for milestones in (NEW, NEWER):
        before = _rows(sessions)
        with transaction(sessions) as session:
            store.reschedule(session, plan_id=_plan_id(session, "C1"), milestones=milestones, today=TODAY)
        assert _rows(sessions) == _expected(before, starts, milestones)


def test_reschedule_touches_only_its_plan(sessions) -> None:
    _seed(sessions)
    with transaction(sessions) as session:
        other = Plan(team_id="T1", channel_id="C2", name="q", created_by="U1", steps_completed=[])
        session.add(other)
    before = _rows(sessions)
    with transaction(sessions) as session:
        store.reschedule(session, plan_id=_plan_id(session, "C2"), milestones=NEWER, today=TODAY)
    assert _rows(sessions) == before
