"""Throwaway databases for tests and benchmarks.

Migrating costs about half a second a database, so the test session migrates once per worker and hands each test
an emptied copy: a copy of a migrated SQLite file, or a migrated PostgreSQL schema whose rows are deleted and whose
sequences are restarted (far cheaper than TRUNCATE, which rewrites every table's files).
"""

from __future__ import annotations

import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import Engine, MetaData, create_engine, text

from storage.db import upgrade

MIGRATIONS_TABLE = "alembic_version"
# A test that leaves a transaction open on the shared schema fails the next test loudly instead of hanging it.
EMPTYING_LOCK_TIMEOUT = "10s"


@contextmanager
def postgres_schema(url: str, prefix: str = "t", *, wait_for_flush: bool = True) -> Iterator[str]:
    """A URL of ``url``'s database whose search_path is a new, empty schema (dropped on exit).

    Tests, benchmarks and concurrent CI runs never see each other's rows, nor leave tables in ``public``.
    ``wait_for_flush=False`` sets ``synchronous_commit=off`` for the URL's sessions: a commit no longer waits for
    its WAL to reach the disk (only a crash of the PostgreSQL server could lose it, which no test survives anyway).
    """
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    options = f"-csearch_path={schema}" + ("" if wait_for_flush else " -csynchronous_commit=off")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        separator = "&" if "?" in url else "?"
        yield f"{url}{separator}options={quote(options)}"
    finally:
        try:
            with admin.connect() as connection:
                connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        finally:
            admin.dispose()


def migrated_sqlite_template(path: Path) -> Path:
    """A SQLite file at ``path`` migrated to head, whole in that one file (so copying it copies the database)."""
    upgrade(f"sqlite:///{path}")
    with closing(sqlite3.connect(path)) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


def sqlite_copy(template: Path, target: Path) -> str:
    """A fresh migrated database: a copy of ``template`` at ``target``; returns its URL."""
    shutil.copyfile(template, target)
    return f"sqlite:///{target}"


class MigratedSchema:
    """A PostgreSQL schema migrated once, emptied before each test that uses it."""

    def __init__(self, url: str) -> None:
        self.url = url
        upgrade(url)
        self._engine: Engine = create_engine(url, pool_size=1)
        self._emptying = self._emptying_statement()

    def _emptying_statement(self) -> str:
        metadata = MetaData()
        with self._engine.connect() as connection:
            metadata.reflect(connection)
            sequences = connection.execute(
                text("SELECT sequencename FROM pg_sequences WHERE schemaname = current_schema()")
            ).scalars()
            restarts = [f"SELECT setval('\"{name}\"', 1, false)" for name in sequences]
        # Children before parents, so every DELETE satisfies the foreign keys.
        deletes = [f'DELETE FROM "{t.name}"' for t in reversed(metadata.sorted_tables) if t.name != MIGRATIONS_TABLE]
        return "; ".join([f"SET LOCAL lock_timeout = '{EMPTYING_LOCK_TIMEOUT}'", *deletes, *restarts])

    def empty(self) -> str:
        """Every table but the migrations' own as freshly migrated (no rows, ids from 1); returns the URL."""
        with self._engine.begin() as connection:
            connection.exec_driver_sql(self._emptying)
        return self.url

    def close(self) -> None:
        self._engine.dispose()


@contextmanager
def migrated_postgres_schema(url: str, prefix: str = "t") -> Iterator[MigratedSchema]:
    """A schema migrated once for many tests (commits not waiting for the disk, see ``postgres_schema``)."""
    with postgres_schema(url, prefix, wait_for_flush=False) as schema_url:
        schema = MigratedSchema(schema_url)
        try:
            yield schema
        finally:
            schema.close()
