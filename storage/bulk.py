"""Bulk writes for the scheduler: executemany straight to the driver.

At 100,000 customers SQLAlchemy's per-row parameter handling costs more than the database does. Here
the statement is compiled once, a column type's bind processor runs once per row only for the values
that need one, and a value shared by every row is converted once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import ClauseElement
from sqlalchemy.types import TypeEngine


def execute_many(
    session: Session,
    statement: ClauseElement,
    rows: Sequence[dict[str, Any]],
    *,
    types: Mapping[str, TypeEngine[Any]],
    shared: Mapping[str, Any] | None = None,
) -> None:
    """Run ``statement`` once per row; its bind names are the rows' keys plus ``shared``'s.

    ``types`` names the SQL type of every value that needs converting (datetimes, JSON), so values are
    stored exactly as the ORM would store them.
    """
    if not rows:
        return
    shared = shared or {}
    connection = session.connection()
    dialect = connection.dialect
    compiled = statement.compile(dialect=dialect, column_keys=[*rows[0], *shared])

    def convert(name: str) -> Any:
        type_ = types.get(name)
        return type_._cached_bind_processor(dialect) if type_ is not None else None

    fixed = {name: (convert(name) or (lambda v: v))(value) for name, value in shared.items()}
    per_row = [(name, fn) for name in rows[0] if (fn := convert(name)) is not None]
    converted = []
    for row in rows:
        values = {**row, **fixed}
        for name, fn in per_row:
            values[name] = fn(values[name])
        converted.append(values)
    if compiled.positional:
        order = compiled.positiontup or []
        connection.exec_driver_sql(compiled.string, [tuple(row[name] for name in order) for row in converted])
    else:
        connection.exec_driver_sql(compiled.string, converted)
