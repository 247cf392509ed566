"""``bot.cli.main`` called in-process, as a fresh process would see it: for CLI tests that need no process start."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import storage.db
from bot.settings import Settings
from storage.db import Engine


def _is_setting(variable: str) -> bool:
    # pydantic-settings matches variable names case-insensitively.
    return variable.startswith("SLACK_") or variable.lower() in Settings.model_fields


@contextmanager
def in_process_cli(monkeypatch: pytest.MonkeyPatch, cwd: Path, env: dict[str, str]) -> Iterator[None]:
    """Runs of ``bot.cli.main`` inside the block see what a fresh process in ``cwd`` given only ``env`` would.

    main() sets up logging for a whole process and leaves its engines open for the process's lifetime; both are
    undone on leaving the block, so no later test logs to a closed capture or shares a pool with it.
    """
    for variable in [name for name in os.environ if _is_setting(name)]:
        monkeypatch.delenv(variable)
    for variable, value in env.items():
        monkeypatch.setenv(variable, value)
    monkeypatch.chdir(cwd)  # the settings also come from a .env file in the working directory
    engines: list[Engine] = []

    def recorded_engine(url: str, **kwargs: object) -> Engine:
        engine = make_engine(url, **kwargs)
        engines.append(engine)
        return engine

    make_engine = storage.db.make_engine
    monkeypatch.setattr(storage.db, "make_engine", recorded_engine)
    root, alembic = logging.getLogger(), logging.getLogger("alembic")
    handlers, level, alembic_level = root.handlers[:], root.level, alembic.level
    try:
        yield
    finally:
        for engine in engines:
            engine.dispose()
        for handler in root.handlers:
            if handler not in handlers:
                handler.close()
        root.handlers[:] = handlers
        root.setLevel(level)
        alembic.setLevel(alembic_level)
