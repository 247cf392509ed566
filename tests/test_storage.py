"""Storage guarantees on both SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import select

from storage import people, repo
from storage.db import alembic_config, make_engine, make_session_factory, transaction, upgrade
from storage.models import Plan
from storage.records import PersonRecord


@pytest.fixture
def sessions(database_url: str):
    engine = make_engine(database_url)
    yield make_session_factory(engine)
    engine.dispose()


def test_migrations_match_the_models(unmigrated_database_url: str) -> None:
    upgrade(unmigrated_database_url)
    command.check(alembic_config(unmigrated_database_url))  # raises when a model change has no migration


def test_a_rolled_back_transaction_keeps_nothing_even_after_a_savepoint(sessions) -> None:
    with pytest.raises(RuntimeError), transaction(sessions) as session:
        repo.get_or_create_plan(session, team_id="T1", channel_id="C1", name="p", user_id="U1")
        assert repo.claim_request(session, "T1", "trigger-1")
        raise RuntimeError("crash before commit")
    with transaction(sessions) as session:
        assert repo.find_plan(session, "T1", "C1") is None
        assert repo.claim_request(session, "T1", "trigger-1"), "the claim was rolled back with the crash"


def test_datetimes_come_back_utc_aware(sessions) -> None:
    when = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
    with transaction(sessions) as session:
        session.add(Plan(team_id="T1", channel_id="C1", name="p", created_by="U1", created_at=when))
    with transaction(sessions) as session:
        plan = session.scalar(select(Plan).where(Plan.channel_id == "C1"))
        assert plan is not None and plan.created_at == when and plan.created_at.tzinfo is not None
    with pytest.raises(Exception, match="naive datetime"), transaction(sessions) as session:
        session.add(Plan(team_id="T1", channel_id="C2", name="q", created_by="U1", created_at=datetime(2026, 1, 1)))
        session.flush()


def test_claim_job_once_per_period(sessions) -> None:
    now = datetime(2026, 11, 27, tzinfo=UTC)
    with transaction(sessions) as session:
        assert repo.claim_job(session, "T1", "health:1", "2026-11-23T08:00:00+00:00", now)
        assert not repo.claim_job(session, "T1", "health:1", "2026-11-23T08:00:00+00:00", now)
        assert repo.claim_job(session, "T1", "health:1", "2026-11-30T08:00:00+00:00", now)


def test_a_name_is_kept_per_workspace_and_replaced_when_read_again(sessions) -> None:
    first, later = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC)
    with transaction(sessions) as session:
        people.remember(session, "T1", "U1", "Ann", first)
        people.remember(session, "T2", "U1", "Someone else", first)
    with transaction(sessions) as session:
        people.remember(session, "T1", "U1", "Ann Smith", later)
    with transaction(sessions) as session:
        assert people.known(session, "T1", ["U1", "U2"]) == {"U1": PersonRecord("U1", "Ann Smith", later)}
        assert people.known(session, "T1", []) == {}


def test_customers_from_before_external_ids_get_one_and_their_values_keep_their_time(
    unmigrated_database_url: str,
) -> None:
    from sqlalchemy import text

    upgrade(unmigrated_database_url, "0006")
    engine = make_engine(unmigrated_database_url)
    typed = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO plans (id, team_id, channel_id, name, created_by, created_at, steps_completed) "
                "VALUES (1, 'T1', 'C1', 'p', 'U1', :at, '[]')"
            ),
            {"at": typed},
        )
        for customer_id, name in ((1, "Acme Corp"), (2, "ACME  corp!"), (3, "Globex")):
            connection.execute(
                text(
                    "INSERT INTO customers (id, team_id, plan_id, name, name_key, start_date, created_by, created_at,"
                    " signals) VALUES (:id, 'T1', 1, :name, :key, '2026-11-01', 'U1', :at, '{\"adoption\": 70}')"
                ),
                {"id": customer_id, "name": name, "key": name.casefold(), "at": typed},
            )
        connection.execute(
            text(
                "INSERT INTO signal_readings (team_id, customer_id, factor, value, recorded_by, recorded_at) "
                "VALUES ('T1', 1, 'adoption', 60, 'U1', :early), ('T1', 1, 'adoption', 70, 'U1', :at)"
            ),
            {"early": datetime(2026, 10, 1, tzinfo=UTC), "at": typed},
        )
    engine.dispose()
    upgrade(unmigrated_database_url)
    sessions = make_session_factory(make_engine(unmigrated_database_url))
    with transaction(sessions) as session:
        from storage.models import Customer, SignalReading

        found = {c.id: (c.external_id, c.signal_times) for c in session.scalars(select(Customer))}
        assert found == {
            1: ("acme-corp", {"adoption": typed.isoformat()}),  # the latest reading's time
            2: ("acme-corp-2", {}),
            3: ("globex", {}),
        }
        readings = session.scalars(select(SignalReading).order_by(SignalReading.id)).all()
        assert [(r.source, r.observed_at) for r in readings] == [("slack", r.recorded_at) for r in readings]
