"""The layers own what their names say, checked on every module's imports:

- ``steps/`` is pure domain code: no Slack, no database, nothing from the other layers;
- ``storage/`` owns persistence: it knows nothing of Slack or of the bot;
- all SQL lives in ``storage/``: nothing else imports SQLAlchemy or Alembic;
- the Slack surface's views (``bot/blocks/``) and listeners (``bot/listeners/``) reach storage only for a transaction
  and its records (``storage.db``, ``storage.records``): no ORM models, no queries;
- the use cases (plans, customers, discussion, jobs, the Home tab's summary) return data: no Block Kit, no Slack;
- ``sandbox/`` (the local Slack) imports nothing of the bot, and the bot nothing of it, except the CLI's
  ``onboarding-bot sandbox`` command, which starts it.

and application code states its invariants as explicit errors, never ``assert`` (``python -O`` drops asserts).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STEPS_DIR = ROOT / "steps"
USE_CASES = (
    "bot/plans.py", "bot/customers.py", "bot/discussion.py", "bot/jobs.py", "bot/home.py", "bot/imports.py",
    "bot/tokens.py",
)  # fmt: skip

# The Slack surface may hold a transaction and read records; everything else in storage/ is the use cases' to call.
STORAGE_INSIDE = frozenset(
    {f"storage.{p.stem}" for p in (ROOT / "storage").glob("*.py") if p.stem not in ("__init__", "db", "records")}
    | {"storage.migrations"}
)

# (which modules, imports they must not make, why)
RULES: list[tuple[str, frozenset[str], str]] = [
    ("steps/**/*.py", frozenset({"slack_bolt", "slack_sdk", "sqlalchemy", "alembic", "bot", "storage"}), "pure domain"),
    ("storage/**/*.py", frozenset({"slack_bolt", "slack_sdk", "bot"}), "persistence knows no Slack"),
    ("bot/**/*.py", frozenset({"sqlalchemy", "alembic"}), "all SQL lives in storage/"),
    ("bot/blocks/**/*.py", STORAGE_INSIDE, "views take records, not ORM rows"),
    ("bot/listeners/**/*.py", STORAGE_INSIDE, "listeners call use cases, which call storage"),
    *((use_case, frozenset({"bot.blocks", "bot.listeners", "slack_bolt", "slack_sdk"}), "use cases return data")
      for use_case in USE_CASES),
    # The sandbox is Slack, not the bot: it talks to the bot over HTTP and runs its CLI, as Slack and a person would.
    ("sandbox/**/*.py", frozenset({"bot", "steps", "storage", "tests"}), "the sandbox is a Slack, not part of the bot"),
    *((str(path.relative_to(ROOT)), frozenset({"sandbox"}), "the bot does not know it runs in a sandbox")
      for layer in ("bot", "steps", "storage") for path in sorted((ROOT / layer).glob("**/*.py"))
      if path != ROOT / "bot" / "cli.py"),
]  # fmt: skip


def imported_modules(tree: ast.AST) -> list[str]:
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module:
                names.append(node.module)
                # "from storage import models" imports storage.models
                names.extend(f"{node.module}.{alias.name}" for alias in node.names)
            elif node.level > 1:
                # "from ..bot import x" climbs out of its package.
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


def offending(names: list[str], forbidden: frozenset[str] = RULES[0][1]) -> list[str]:
    def hit(name: str) -> bool:
        return name.startswith("..") or any(name == f or name.startswith(f + ".") for f in forbidden)

    return sorted({name for name in names if hit(name)})


def cases() -> list[tuple[Path, frozenset[str], str]]:
    return [(path, forbidden, why) for pattern, forbidden, why in RULES for path in sorted(ROOT.glob(pattern))]


def _id(case: tuple[Path, frozenset[str], str]) -> str:
    return f"{case[0].relative_to(ROOT)}: {case[2]}"


def _tree(path: Path) -> ast.AST:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def test_every_layer_has_modules() -> None:
    for pattern, _, _ in RULES:
        assert list(ROOT.glob(pattern)), pattern
    assert Path(STEPS_DIR / "__init__.py").exists()


@pytest.mark.parametrize("case", cases(), ids=_id)
def test_module_imports_only_what_its_layer_may(case: tuple[Path, frozenset[str], str]) -> None:
    path, forbidden, _ = case
    assert offending(imported_modules(_tree(path)), forbidden) == []


APPLICATION = sorted(p for d in ("bot", "steps", "storage") for p in (ROOT / d).rglob("*.py"))


@pytest.mark.parametrize("path", APPLICATION, ids=lambda p: str(p.relative_to(ROOT)))
def test_invariants_are_explicit_errors_not_asserts(path: Path) -> None:
    asserts = [node.lineno for node in ast.walk(_tree(path)) if isinstance(node, ast.Assert)]
    assert asserts == [], f"assert at lines {asserts}"


@pytest.mark.parametrize(
    "source",
    [
        "import slack_sdk",
        "import sqlalchemy.orm as orm",
        "from slack_bolt import App",
        "from storage.models import Plan",
        "from storage import models",
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


@pytest.mark.parametrize(
    ("source", "forbidden"),
    [
        ("from storage import models", frozenset({"storage.models"})),
        ("from bot.blocks.hub import hub_message", frozenset({"bot.blocks"})),
        ("from bot import blocks", frozenset({"bot.blocks"})),
    ],
)
def test_checker_catches_submodule_imports(source: str, forbidden: frozenset[str]) -> None:
    assert offending(imported_modules(ast.parse(source)), forbidden) != []


def test_checker_does_not_confuse_similar_names() -> None:
    assert offending(["storage.models_extra", "bot.blockshelper"], frozenset({"storage.models", "bot.blocks"})) == []
