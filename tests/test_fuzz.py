"""Hostile input over HTTP: thousands of signed malformed requests, and unsigned, forged and stale ones.

The corpus and the runner are ``bench/fuzz.py`` (seeded, so every run sends the same requests). The signed
garbage is invalid by construction; it must never get a 5xx, known ids must be answered within Slack's 3 s, and
the database must not change. Every unsigned, forged, stale or oddly-timestamped request gets 401 and does
nothing. The full corpus runs on SQLite; PostgreSQL gets a smaller slice.

The one-line summary is printed; to see it: ``.venv/bin/pytest tests/test_fuzz.py -q -rP``.
"""

from __future__ import annotations

import json

import pytest

from bench.fuzz import UNSIGNED_AUTH, Report, fuzz
from tests.support.harness import BotHarness

# The front door is the point: requests go over HTTP, through waitress and bot.server.
pytestmark = pytest.mark.http

SEED = 7
# (garbage, mutations, unsigned) per database
SIZES = {"sqlite": (1700, 400, 2 * len(UNSIGNED_AUTH) * 3), "postgresql": (240, 60, 2 * len(UNSIGNED_AUTH))}


def problems(report: Report, bot: BotHarness) -> list[str]:
    found = []
    if report.server_errors():
        found.append(f"{len(report.server_errors())} requests got a 5xx:\n{report.failures()}")
    if report.slow():
        found.append(f"{len(report.slow())} known ids were answered after 3 s:\n{report.failures()}")
    if report.not_refused():
        found.append(
            "unsigned requests not answered 401: "
            + "; ".join(f"{o.status} for {o.case.mutation!r} {o.case.body[:50]!r}" for o in report.not_refused()[:10])
        )
    if report.unsigned_database_changes or report.unsigned_slack_calls:
        found.append(
            f"unsigned requests did something: database {report.unsigned_database_changes}, "
            f"{report.unsigned_slack_calls} Slack calls"
        )
    if report.database_changes:
        found.append(f"signed garbage changed the database: {report.database_changes}")
    if report.leaks():
        found.append(f"{len(report.leaks())} HTTP responses carry a traceback")
    shown = json.dumps([c.args for c in bot.fake.calls] + bot.fake.responses, ensure_ascii=False)
    if "Traceback" in shown or 'File "/' in shown:
        found.append("a message sent to Slack carries a traceback")
    return found


def test_hostile_requests_get_no_5xx_and_change_nothing(bot: BotHarness) -> None:
    garbage, mutations, unsigned = SIZES[bot.engine.dialect.name]
    report = fuzz(bot, seed=SEED, garbage=garbage, mutations=mutations, unsigned=unsigned)
    print(report.summary())
    logged = report.logged_errors()
    if logged:
        print("exceptions logged while answering (no 5xx, but worth fixing):\n" + logged)
    found = problems(report, bot)
    assert not found, report.summary() + "\n" + "\n".join(found)
