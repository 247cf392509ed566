"""storage.bulk writes straight to the driver: what it stores must be byte for byte what the ORM stores."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import Engine, bindparam, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from storage.bulk import execute_many
from storage.db import transaction
from storage.models import Customer, HealthScore, Plan

# Not UTC, so the bulk path has to apply UTCDateTime's conversion as the ORM does.
PARIS_WINTER = timezone(timedelta(hours=1))
WHEN = datetime(2026, 11, 30, 10, 30, 15, 123456, tzinfo=PARIS_WINTER)
BREAKDOWN: dict[str, Any] = {
    "score": 71.25,
    "factors": [{"label": "Adoption — usage", "weight": 40, "value": None}, {"label": "Tickets ✓", "weight": 15}],
    "note": 'quotes " and \\ backslashes, a line\nbreak',
}
HISTORY_TYPES = {
    "computed_at": HealthScore.__table__.c.computed_at.type,
    "breakdown": HealthScore.__table__.c.breakdown.type,
}
UTC_DATETIME = HealthScore.__table__.c.computed_at.type


@pytest.fixture
def customer_ids(sessions: sessionmaker[Session]) -> tuple[int, int, int]:
    """A plan with three customers: one the ORM writes, one the bulk path writes, one left alone."""
    with transaction(sessions) as session:
        plan = Plan(team_id="T1", channel_id="C1", name="p", created_by="U1")
        session.add(plan)
        session.flush()
        customers = [
            Customer(
                team_id="T1",
                plan_id=plan.id,
                name=name,
                name_key=name,
                external_id=name,
                start_date=date(2026, 11, 1),
                created_by="U1",
            )
            for name in ("orm", "bulk", "other")
        ]
        session.add_all(customers)
        session.flush()
        return customers[0].id, customers[1].id, customers[2].id


def _stored(engine: Engine, query: str, *params: int) -> list[tuple[Any, ...]]:
    """Rows as the driver returns them, with no SQLAlchemy type processing: what is really in the table."""
    marker = "?" if engine.dialect.name == "sqlite" else "%s"
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(query.replace("?", marker), tuple(params)).all()
    return [tuple(row) for row in rows]


def _history_text(engine: Engine) -> str:
    # PostgreSQL's driver parses JSON columns; compare the text the database holds.
    breakdown = "breakdown" if engine.dialect.name == "sqlite" else "CAST(breakdown AS TEXT)"
    return f"SELECT plan_id, team_id, computed_at, score, band, {breakdown} FROM health_scores WHERE customer_id = ?"


def test_both_bind_paths_are_exercised(engine: Engine) -> None:
    # SQLite's qmark style takes values in the compiled order, psycopg's pyformat takes the rows' dicts.
    assert engine.dialect.positional is (engine.dialect.name == "sqlite")


def test_an_insert_stores_what_the_orm_stores(
    engine: Engine, sessions: sessionmaker[Session], customer_ids: tuple[int, int, int]
) -> None:
    orm_id, bulk_id, _ = customer_ids
    with transaction(sessions) as session:
        plan_id = session.scalars(select(Plan.id)).one()
        session.add(
            HealthScore(
                team_id="T1", plan_id=plan_id, customer_id=orm_id, computed_at=WHEN, score=71.25, band="healthy",
                breakdown=BREAKDOWN,
            )
        )  # fmt: skip
    with transaction(sessions) as session:
        rows = [{"customer_id": bulk_id, "score": 71.25, "band": "healthy", "breakdown": BREAKDOWN}]
        shared = {"team_id": "T1", "plan_id": plan_id, "computed_at": WHEN}
        execute_many(session, insert(HealthScore.__table__), rows, types=HISTORY_TYPES, shared=shared)

    by_orm = _stored(engine, _history_text(engine), orm_id)
    by_bulk = _stored(engine, _history_text(engine), bulk_id)
    assert len(by_orm) == 1
    assert by_bulk == by_orm
    with transaction(sessions) as session:
        read = session.scalars(select(HealthScore).where(HealthScore.customer_id == bulk_id)).one()
        assert read.computed_at == WHEN and read.computed_at.tzinfo == UTC
        assert read.breakdown == BREAKDOWN


def test_per_row_values_are_converted_like_shared_ones(
    engine: Engine, sessions: sessionmaker[Session], customer_ids: tuple[int, int, int]
) -> None:
    orm_id, bulk_id, _ = customer_ids
    later = WHEN + timedelta(days=3, microseconds=1)
    with transaction(sessions) as session:
        plan_id = session.scalars(select(Plan.id)).one()
        for customer_id, computed_at, breakdown in ((orm_id, WHEN, {}), (orm_id, later, BREAKDOWN)):
            session.add(
                HealthScore(
                    team_id="T1", plan_id=plan_id, customer_id=customer_id, computed_at=computed_at, score=None,
                    band=None, breakdown=breakdown,
                )
            )  # fmt: skip
    with transaction(sessions) as session:
        rows = [
            {"customer_id": bulk_id, "computed_at": WHEN, "score": None, "band": None, "breakdown": {}},
            {"customer_id": bulk_id, "computed_at": later, "score": None, "band": None, "breakdown": BREAKDOWN},
        ]
        shared = {"team_id": "T1", "plan_id": plan_id}
        execute_many(session, insert(HealthScore.__table__), rows, types=HISTORY_TYPES, shared=shared)

    query = _history_text(engine) + " ORDER BY computed_at"
    assert _stored(engine, query, bulk_id) == _stored(engine, query, orm_id)


def test_an_update_stores_what_the_orm_stores(
    engine: Engine, sessions: sessionmaker[Session], customer_ids: tuple[int, int, int]
) -> None:
    orm_id, bulk_id, other_id = customer_ids
    with transaction(sessions) as session:
        customer = session.get_one(Customer, orm_id)
        customer.score, customer.band, customer.scored_at = 42.5, "at_risk", WHEN
    table = Customer.__table__
    statement = (
        update(table)
        .where(table.c.id == bindparam("cid"))
        .values(score=bindparam("new_score"), band=bindparam("new_band"), scored_at=bindparam("at"))
    )
    with transaction(sessions) as session:
        rows = [{"cid": bulk_id, "new_score": 42.5, "new_band": "at_risk"}]
        execute_many(session, statement, rows, types={"at": UTC_DATETIME}, shared={"at": WHEN})

    query = "SELECT score, band, scored_at FROM customers WHERE id = ?"
    assert _stored(engine, query, bulk_id) == _stored(engine, query, orm_id) != [(None, None, None)]
    assert _stored(engine, query, other_id) == [(None, None, None)]


def test_a_naive_datetime_is_refused_as_the_orm_refuses_it(
    sessions: sessionmaker[Session], customer_ids: tuple[int, int, int]
) -> None:
    _, bulk_id, _ = customer_ids
    rows = [{"customer_id": bulk_id, "score": None, "band": None, "breakdown": {}}]
    shared = {"team_id": "T1", "plan_id": 1, "computed_at": WHEN.replace(tzinfo=None)}
    with pytest.raises(ValueError, match="naive datetime"), transaction(sessions) as session:
        execute_many(session, insert(HealthScore.__table__), rows, types=HISTORY_TYPES, shared=shared)


def test_no_rows_is_no_statement(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        execute_many(session, insert(HealthScore.__table__), [], types=HISTORY_TYPES)
        assert session.scalars(select(HealthScore)).all() == []
