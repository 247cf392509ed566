"""Engine, sessions and migrations."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
from alembic import command
from alembic.config import Config
from sqlalchemy import CursorResult, Engine, Result, create_engine, event, text
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session, sessionmaker

# Session and Engine are re-exported: the rest of the application types its parameters without importing SQLAlchemy.
__all__ = [
    "MIGRATIONS",
    "DatabaseError",
    "Engine",
    "Session",
    "Sessions",
    "alembic_config",
    "make_engine",
    "make_session_factory",
    "ping",
    "read_only",
    "rowcount",
    "transaction",
    "upgrade",
]

MIGRATIONS = Path(__file__).with_name("migrations")
# Execution option marking a connection whose transaction only reads (see ``read_only``).
READ_ONLY = "onboarding_read_only"


def _to_json(value: Any) -> str:
    return orjson.dumps(value).decode()


def make_engine(url: str, **kwargs: Any) -> Engine:
    # Every score keeps its breakdown as JSON: at 100,000 customers per tick the stdlib encoder alone took seconds.
    kwargs = {"json_serializer": _to_json, "json_deserializer": orjson.loads, **kwargs}
    if url.startswith("sqlite"):
        # Listener threads share the file: wait for locks instead of failing with "database is locked".
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # pysqlite's own transaction handling breaks savepoints (a savepoint as the first write commits
            # for good); SQLAlchemy's documented recipe takes it over: no implicit BEGIN here...
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            if ":memory:" not in url:
                cursor.execute("PRAGMA journal_mode=WAL")
                # In WAL mode this still never corrupts the database; a power cut can lose only the last
                # commits, and since every post is committed with its cause, never one without the other.
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(connection: Any) -> None:
            # ...and an explicit one here. IMMEDIATE takes the write lock up front, so a transaction that
            # reads then writes waits its turn instead of failing when another thread wrote in between.
            # A read-only transaction (``read_only``) begins DEFERRED: in WAL mode it reads its snapshot
            # while a writer holds the lock, instead of queueing behind every write. query_only makes a
            # write in it fail at once, rather than take the lock late and risk SQLITE_BUSY.
            reading = bool(connection.get_execution_options().get(READ_ONLY))
            info = connection.connection.info
            if info.get(READ_ONLY, False) != reading:
                connection.exec_driver_sql(f"PRAGMA query_only={'ON' if reading else 'OFF'}")
                info[READ_ONLY] = reading
            connection.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any exception."""
    with factory() as session, session.begin():
        yield session


@contextmanager
def read_only(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A unit of work that only reads: on SQLite it does not take the write lock, and any write in it fails.

    For what runs before an ack (a plan looked up, a status report): concurrent requests then read side by side
    instead of waiting for each other's lock. On PostgreSQL it is an ordinary transaction (reads never lock there).
    """
    with factory() as session, session.begin():
        # Options apply when the session first takes its connection, before the transaction begins.
        session.connection(execution_options={READ_ONLY: True})
        yield session


def rowcount(result: Result[Any]) -> int:
    """Rows an UPDATE or DELETE matched.

    ``Session.execute`` is typed to return a plain ``Result``; for DML without RETURNING it is a ``CursorResult``,
    which alone knows the count.
    """
    if not isinstance(result, CursorResult):
        raise TypeError(f"no row count on {type(result).__name__}: execute an UPDATE or DELETE without RETURNING")
    return int(result.rowcount)


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


# What the rest of the application needs to hold and check a database without importing SQLAlchemy itself.
Sessions = sessionmaker[Session]
DatabaseError = (OperationalError, ProgrammingError)  # unreachable, or not migrated: the CLI explains either


def ping(engine: Engine) -> None:
    """A round trip to the database (the health check); raises when it cannot be reached."""
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
