"""``steps/`` is pure domain code: no Slack, no database, no reaching into the other layers."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

STEPS_DIR = Path(__file__).resolve().parent.parent / "steps"
FORBIDDEN = {"slack_bolt", "slack_sdk", "sqlalchemy", "alembic", "bot", "storage"}
MODULES = sorted(STEPS_DIR.rglob("*.py"))


def imported_modules(tree: ast.AST) -> list[str]:
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module:
                names.append(node.module)
            elif node.level > 1:
                # "from ..bot import x" climbs out of the steps package.
                names.append(".." + (node.module or ""))
        elif (
            isinstance(node, ast.Call)
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and (
                (isinstance(node.func, ast.Name) and node.func.id == "__import__")
                or (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
            )
        ):
            names.append(node.args[0].value)
    return names


def offending(names: list[str]) -> list[str]:
    return [name for name in names if name.startswith("..") or name.split(".")[0] in FORBIDDEN]


def test_steps_package_has_modules() -> None:
    assert Path(STEPS_DIR / "__init__.py") in MODULES
    assert len(MODULES) > 1


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(STEPS_DIR)))
def test_step_module_imports_no_slack_or_database(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    assert offending(imported_modules(tree)) == []


@pytest.mark.parametrize(
    "source",
    [
        "import slack_sdk",
        "import sqlalchemy.orm as orm",
        "from slack_bolt import App",
        "from storage.models import Plan",
        "from bot import app",
        "from ..bot import app",
        "import alembic",
        "def f():\n    import slack_sdk.web",
        "importlib.import_module('sqlalchemy')",
    ],
)
def test_checker_catches_forbidden_imports(source: str) -> None:
    assert offending(imported_modules(ast.parse(source))) != []


@pytest.mark.parametrize(
    "source", ["import yaml", "from steps.step3 import STEP_ID", "from . import step3", "import botocore"]
)
def test_checker_allows_other_imports(source: str) -> None:
    assert offending(imported_modules(ast.parse(source))) == []
