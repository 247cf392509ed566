"""What SQLite does for the statements a piece of code runs: traced with their values in place, then explained.

For the reads on a request's path that must seek rather than scan the history the bot keeps. Without statistics
(the bot never runs ANALYZE), SQLite's plan does not depend on how many rows a table holds, so a small database
shows the plan a big one gets.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from storage.db import Engine


@contextmanager
def traced(engine: Engine) -> Iterator[list[str]]:
    """Every statement SQLite runs on connections ``engine`` opens from now on, with its values in place."""
    statements: list[str] = []

    def trace(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.set_trace_callback(statements.append)

    event.listen(engine, "connect", trace)
    try:
        yield statements
    finally:
        event.remove(engine, "connect", trace)


def plan_lines(engine: Engine, statements: list[str], table: str) -> list[str]:
    """The lines of SQLite's plans for the SELECTs among ``statements`` that read ``table``, and every sort they
    need (``USE TEMP B-TREE``)."""
    with engine.connect() as connection:
        driver = connection.connection.dbapi_connection
        assert driver is not None
        return [
            line
            for sql in statements
            if sql.lstrip().upper().startswith("SELECT")
            for *_, line in driver.execute(f"EXPLAIN QUERY PLAN {sql}")
            if f" {table} " in f" {line} " or "TEMP B-TREE" in line
        ]
