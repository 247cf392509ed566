"""Hostile input at the front door: thousands of signed malformed requests, and unsigned, forged and stale ones.

The corpus and the runner are ``bench/fuzz.py`` (seeded, so every run sends the same requests). The signed
garbage is invalid by construction; it must never get a 5xx, known ids must be answered within Slack's 3 s, and
the database must not change. Every unsigned, forged, stale or oddly-timestamped request gets 401 and does
nothing. The full corpus runs on SQLite; PostgreSQL gets a smaller slice. Each database's corpus is sent in parts,
each from a seed of its own to a fresh app and database, so that xdist can run the parts side by side (in one
piece, SQLite's was the suite's longest test by far, longer than all the others on a worker).

The requests go in-process to the front door's WSGI app (``bot.server.wsgi_app``: the signature checked on the raw
bytes, then 401/400/413 or Bolt), with the environ waitress would build from the same bytes: waitress and sockets
were about 40 % of this test's CPU. ``tests/test_requests.py`` sends hostile bytes over real HTTP, and
``python -m bench.fuzz`` runs this corpus over HTTP.

The one-line summary is printed; to see it: ``.venv/bin/pytest tests/test_fuzz.py -q -rP``.
"""

from __future__ import annotations

import json

import pytest

from bench.fuzz import UNSIGNED_AUTH, Report, fuzz
from tests.support.harness import BotHarness

SEED = 7  # part n uses SEED + n
# (garbage, mutations, unsigned) per part. In all, SQLite gets 1700 + 400 + 192 requests and PostgreSQL 240 + 60 + 64;
# every part sends each unsigned variant at least once.
PART_SIZES = {"sqlite": (425, 100, len(UNSIGNED_AUTH) * 3 // 2), "postgresql": (120, 30, len(UNSIGNED_AUTH))}
PARTS = {"sqlite": 4, "postgresql": 2}


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


@pytest.mark.parametrize(
    ("database_url", "part"),
    [(database, part) for database, parts in PARTS.items() for part in range(parts)],
    ids=[f"{database}-part{part + 1}of{parts}" for database, parts in PARTS.items() for part in range(parts)],
    indirect=["database_url"],
)
def test_hostile_requests_get_no_5xx_and_change_nothing(bot: BotHarness, part: int) -> None:
    garbage, mutations, unsigned = PART_SIZES[bot.engine.dialect.name]
    report = fuzz(bot, seed=SEED + part, garbage=garbage, mutations=mutations, unsigned=unsigned, in_process=True)
    print(report.summary())
    logged = report.logged_errors()
    if logged:
        print("exceptions logged while answering (no 5xx, but worth fixing):\n" + logged)
    found = problems(report, bot)
    assert not found, report.summary() + "\n" + "\n".join(found)
