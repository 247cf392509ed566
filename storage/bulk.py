"""Bulk writes for the scheduler: executemany straight to the driver.

At 100,000 customers SQLAlchemy's per-row parameter handling costs more than the database does. Here
the statement is compiled once, a column type's bind processor runs once per row only for the values
that need one, and a value shared by every row is converted once.

Only public SQLAlchemy API is used (``TypeEngine.dialect_impl`` and ``bind_processor``,
``Dialect.positional``, ``SQLCompiler.positiontup``); tests/test_bulk.py checks that what lands in the
database is what the ORM would have stored, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement
from sqlalchemy.types import TypeEngine

from storage.db import Sessions, engine_of

BindProcessor = Callable[[Any], Any]


def execute_many(
    session: Session,
    statement: ClauseElement,
    rows: Sequence[Mapping[str, Any]],
    *,
    types: Mapping[str, TypeEngine[Any]],
    shared: Mapping[str, Any] | None = None,
    repeated: Collection[str] = (),
) -> None:
    """Run ``statement`` once per row; its bind names are the rows' keys plus ``shared``'s.

    ``types`` names the SQL type of every value that needs converting (datetimes, JSON), so values are
    stored exactly as the ORM would store them. The statement must not need per-execution rendering
    (no expanding ``IN`` parameters): its SQL string goes to the driver as compiled. The values of the
    columns named in ``repeated`` (hashable, and few distinct ones, like the instants of an import) are
    converted once per distinct value.
    """
    if not rows:
        return
    shared = shared or {}
    connection = session.connection()
    dialect = connection.dialect
    compiled = statement.compile(dialect=dialect, column_keys=[*rows[0], *shared])
    processors = {name: fn for name, type_ in types.items() if (fn := _bind_processor(type_, dialect)) is not None}

    fixed = {name: processors[name](value) if name in processors else value for name, value in shared.items()}
    # Column by column: one list per bind name, converted with map, then zipped into the driver's tuples; a dict or
    # tuple built per row in Python costs more than SQLite's own work on 100,000 rows.
    columns: dict[str, list[Any]] = {}
    for name in rows[0]:
        values = [row[name] for row in rows]
        if name in processors:
            fn = _memoized(processors[name]) if name in repeated else processors[name]
            values = list(map(fn, values))
        columns[name] = values
    columns |= {name: [value] * len(rows) for name, value in fixed.items()}  # lists: a name can bind twice
    order = _positional_names(compiled) if dialect.positional else list(columns)
    params = zip(*(columns[name] for name in order), strict=True)
    if dialect.positional:
        connection.exec_driver_sql(compiled.string, list(params))
    else:
        connection.exec_driver_sql(compiled.string, [dict(zip(order, row, strict=True)) for row in params])


def _memoized(fn: BindProcessor) -> BindProcessor:
    done: dict[Any, Any] = {}

    def convert(value: Any) -> Any:
        try:
            return done[value]
        except KeyError:
            converted = done[value] = fn(value)
            return converted

    return convert


def _bind_processor(type_: TypeEngine[Any], dialect: Dialect) -> BindProcessor | None:
    """What the ORM applies to a value of ``type_`` before handing it to the driver (None: nothing)."""
    return type_.dialect_impl(dialect).bind_processor(dialect)


def _positional_names(compiled: object) -> Sequence[str]:
    """The bind names in the order a positional paramstyle (SQLite's ``?``) expects their values."""
    if not isinstance(compiled, SQLCompiler) or compiled.positiontup is None:
        raise TypeError(f"execute_many reads the bind order from SQLCompiler.positiontup: none on {type(compiled)}")
    return compiled.positiontup


def raw_rows(session: Session, statement: ClauseElement) -> Sequence[Sequence[Any]]:
    """The rows of a SELECT as the driver returns them: no SQLAlchemy type processing.

    For reads of hundreds of thousands of rows where converting every value costs more than the query. The values
    are the driver's own: on SQLite a date is an ISO 8601 string and a JSON column its text (``json_value`` reads
    both drivers' forms). Bind values are passed to the driver unconverted, so give only ints and strings.
    """
    connection = session.connection()
    dialect = connection.dialect
    compiled = statement.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    params = compiled.construct_params() or {}
    bound: Any = tuple(params[name] for name in _positional_names(compiled)) if dialect.positional else params
    # The driver's own cursor, in the connection's transaction (``session.connection()`` has begun it): its rows are
    # plain tuples, where a SQLAlchemy result would wrap each in a Row.
    cursor = connection.connection.cursor()
    try:
        cursor.execute(compiled.string, bound)
        return cursor.fetchall()
    finally:
        cursor.close()


class DriverQuery:
    """A SELECT compiled once per dialect and run straight on a pooled driver connection, with no SQLAlchemy
    execution context, type processing or transaction of its own: for a small read on a hot path, where those cost
    several times what the database does (bench/README.md, "Under load").

    One statement reads one consistent snapshot, so no transaction is needed, and none is begun: on SQLite the
    connections already run without the driver's implicit ones (``storage.db.make_engine``); elsewhere the driver
    connection is in autocommit for the statement. On PostgreSQL that is one round trip instead of three (psycopg's
    BEGIN, the statement, and the pool's rollback when the connection goes back). Rows come as from ``raw_rows``:
    decode with ``json_value`` and ``datetime_value``.
    Parameters are passed to the driver unconverted, so give only ints and strings.
    """

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._compiled: dict[str, tuple[SQLCompiler, Sequence[str] | None]] = {}

    def rows(self, sessions: Sessions, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        engine = engine_of(sessions)
        compiled, order = self._compile(engine.dialect)
        values = compiled.construct_params(dict(params))
        bound: Any = tuple(values[name] for name in order) if order is not None else values
        dialect = engine.dialect
        # SQLite's reset to a default isolation level would give the driver its implicit transactions back.
        autocommit = dialect.name != "sqlite"
        connection = engine.raw_connection()
        driver = connection.dbapi_connection
        if driver is None:
            raise RuntimeError("the pool gave a connection without a driver connection")
        try:
            if autocommit:
                dialect.set_isolation_level(driver, "AUTOCOMMIT")
            cursor = connection.cursor()
            try:
                cursor.execute(compiled.string, bound)
                return list(cursor.fetchall())
            finally:
                cursor.close()
                if autocommit:
                    dialect.reset_isolation_level(driver)
        finally:
            connection.close()

    def _compile(self, dialect: Dialect) -> tuple[SQLCompiler, Sequence[str] | None]:
        found = self._compiled.get(dialect.name)
        if found is None:
            compiled = self.statement.compile(dialect=dialect)
            if not isinstance(compiled, SQLCompiler):
                raise TypeError(f"DriverQuery runs SELECTs: {type(compiled).__name__} is not an SQLCompiler")
            found = self._compiled[dialect.name] = (
                compiled,
                _positional_names(compiled) if dialect.positional else None,
            )
        return found


def json_value(value: Any) -> Any:
    """A JSON column's value from ``raw_rows``: SQLite's driver gives the text, psycopg the decoded value."""
    return orjson.loads(value) if isinstance(value, (str, bytes)) else value  # a tuple: faster than a union here


def datetime_value(value: Any) -> datetime | None:
    """A UTC datetime column's value from ``raw_rows``: SQLite's driver gives the text SQLAlchemy stored (naive, UTC),
    psycopg an aware datetime."""
    return None if value is None else _utc_datetime(value)


@lru_cache(maxsize=4096)
def _utc_datetime(value: str | datetime) -> datetime:
    # Cached: the customers of a plan share a few score times (every update scores them at one instant).
    at = datetime.fromisoformat(value) if isinstance(value, str) else value
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
