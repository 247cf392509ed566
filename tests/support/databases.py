"""Throwaway databases for tests and benchmarks: a PostgreSQL schema that is dropped afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

from sqlalchemy import create_engine, text


@contextmanager
def postgres_schema(url: str, prefix: str = "t") -> Iterator[str]:
    """A URL of ``url``'s database whose search_path is a new, empty schema (dropped on exit).

    Tests, benchmarks and concurrent CI runs never see each other's rows, nor leave tables in ``public``.
    """
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        separator = "&" if "?" in url else "?"
        yield f"{url}{separator}options={quote(f'-csearch_path={schema}')}"
    finally:
        try:
            with admin.connect() as connection:
                connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        finally:
            admin.dispose()
