"""The type checker's configuration: steps/ and storage/ get every check of `mypy --strict`, and only they do.

mypy's `strict` option is global-only: set in an override it turns strict mode on for every package
(python/mypy#16387), so pyproject.toml spells the flags out. This keeps that list in step with the installed mypy.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from mypy import api

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
STRICT_PACKAGES = ["steps.*", "storage.*"]


def _mypy_config() -> dict[str, Any]:
    config: dict[str, Any] = tomllib.loads(PYPROJECT.read_text())["tool"]["mypy"]
    return config


def _strict_flags(monkeypatch: pytest.MonkeyPatch) -> dict[str, bool]:
    """The options `--strict` enables, from mypy's own help, as config keys and values (``--no-x`` is ``x = false``)."""
    monkeypatch.setenv("COLUMNS", "1000")
    help_text, _, _ = api.run(["--help"])
    entry = re.search(r"--strict\s+Strict mode; enables the following flags:(.*?)\n  -", help_text, re.S)
    assert entry is not None, "mypy --help no longer lists what --strict enables"
    text = re.sub(r"-\n\s+", "-", entry.group(1))
    flags = re.findall(r"--([a-z-]+)", text)
    assert flags, "no flag found in mypy's --strict entry"
    return {flag.removeprefix("no-").replace("-", "_"): not flag.startswith("no-") for flag in flags}


def test_strict_is_not_set_where_it_would_apply_to_every_package() -> None:
    config = _mypy_config()
    assert "strict" not in config
    assert all("strict" not in override for override in config.get("overrides", []))


def test_steps_and_storage_get_every_check_of_strict_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    config = _mypy_config()
    (override,) = [o for o in config["overrides"] if o["module"] == STRICT_PACKAGES]
    effective = {**config, **override}
    missing = {flag: value for flag, value in _strict_flags(monkeypatch).items() if effective.get(flag) != value}
    assert missing == {}, f"add these to the {STRICT_PACKAGES} override in pyproject.toml"


def test_the_checked_packages_are_the_installed_ones_not_the_tests() -> None:
    assert sorted(_mypy_config()["files"]) == ["bot", "sandbox", "steps", "storage"]
