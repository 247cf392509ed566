"""How long the HTTP API takes to answer a batch of 1,000 signals (the goal: within 1 s on this machine).

The real bot behind its front door, served by waitress on loopback (``tests.support.harness.BotHarness``), a plan
whose Step 3 is saved, a token made with `/onboarding token create`, and ``--customers`` customers loaded through
``POST /api/v1/customers``. Then ``--batches`` batches of 1,000 signals go to ``POST /api/v1/signals`` one after
another, each a new day's observations, so every batch moves the latest values and rescores its customers:

* ``spread``: 1,000 customers, one factor each (1,000 customers rescored per batch: the worst case);
* ``dense``: 250 customers, four factors each (what a nightly export of a few factors looks like).

Each batch is timed from just before the request is sent until the answer has been read (what the client waits
for). The customers' history grows with every batch, so late batches show whether it slows down.

Run from the repository root::

    .venv/bin/python -m bench.api [--customers N] [--batches N] [--database-url URL]

Exits 1 if any batch took 1 s or more.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import platform
import re
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.measure import percentile
from sandbox.slack_api import FakeSlack
from tests.support.answers import complete_step3
from tests.support.harness import BotHarness, FakeClock

GOAL_MS = 1000.0
FACTORS = ("adoption", "engagement", "tickets", "nps")
START = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def post(harness: BotHarness, path: str, body: dict[str, Any], token: str) -> tuple[float, dict[str, Any]]:
    data = json.dumps(body).encode()
    connection = http.client.HTTPConnection("127.0.0.1", harness.server.effective_port, timeout=60)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    try:
        started = time.perf_counter()
        connection.request("POST", path, body=data, headers=headers)
        response = connection.getresponse()
        answer = response.read()
        elapsed = (time.perf_counter() - started) * 1000
    finally:
        connection.close()
    if response.status != 200:
        raise SystemExit(f"{path} answered {response.status}: {answer[:500]!r}")
    return elapsed, json.loads(answer)


def signals(kind: str, customers: int, batch: int, day: datetime) -> dict[str, Any]:
    """The ``batch``-th batch of 1,000 signals, observed on ``day``."""
    at = day.isoformat().replace("+00:00", "Z")
    if kind == "spread":
        items = [
            {"id": f"cust-{(batch * 1000 + n) % customers:06d}", "factor": FACTORS[batch % len(FACTORS)],
             "value": (n * 7 + batch) % 101, "observed_at": at}
            for n in range(1000)
        ]  # fmt: skip
    else:
        first = batch * 250
        items = [
            {"id": f"cust-{(first + n) % customers:06d}", "factor": factor, "value": (n * 13 + i) % 101,
             "observed_at": at}
            for n in range(250)
            for i, factor in enumerate(FACTORS)
        ]  # fmt: skip
    return {"items": items}


def run(database_url: str, customers: int, batches: int) -> int:
    clock = FakeClock(START)
    with FakeSlack() as fake:
        harness = BotHarness(fake, database_url, clock)
        try:
            complete_step3(harness)
            reply = harness.command("token create bench").json()
            found = re.search(r"obt_[A-Za-z0-9_-]+", reply["text"])
            if found is None:
                raise SystemExit(f"no token in {reply['text']!r}")
            token = found.group(0)
            load_ms = 0.0
            for first in range(0, customers, 1000):
                items = [{"id": f"cust-{n:06d}", "name": f"Customer {n}", "start": "2026-10-01"}
                         for n in range(first, min(first + 1000, customers))]  # fmt: skip
                elapsed, _ = post(harness, "/api/v1/customers", {"items": items}, token)
                load_ms += elapsed
            print(f"loaded {customers} customers in {load_ms:.0f} ms ({math.ceil(customers / 1000)} batches)")
            worst = 0.0
            columns = ("n", "p50 ms", "p95 ms", "max ms", "first ms", "last ms")
            print(f"{'batch kind':<10} " + " ".join(f"{c:>8}" for c in columns))
            day = 0
            for kind in ("spread", "dense"):
                timings: list[float] = []
                for batch in range(batches):
                    day += 1
                    clock.set(START + timedelta(days=day))
                    body = signals(kind, customers, batch, START + timedelta(days=day - 1))
                    elapsed, answer = post(harness, "/api/v1/signals", body, token)
                    if answer["counts"]["rejected"] or answer["counts"]["created"] != 1000:
                        raise SystemExit(f"unexpected answer: {answer['counts']}")
                    timings.append(elapsed)
                worst = max(worst, *timings)
                figures = (percentile(timings, 50), percentile(timings, 95), max(timings), timings[0], timings[-1])
                print(f"{kind:<10} {len(timings):>8} " + " ".join(f"{f:>8.0f}" for f in figures))
        finally:
            harness.close()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    database = database_url.split(":", 1)[0]
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, load average "
        f"{os.getloadavg()[0]:.1f}; database: {database}; peak RSS {peak_mb:.0f} MB (bench, server, fake Slack)"
    )
    print(f"slowest batch: {worst:.0f} ms (goal: under {GOAL_MS:.0f} ms)")
    return 0 if worst < GOAL_MS else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--customers", type=int, default=1000, help="customers in the plan (default 1000)")
    parser.add_argument("--batches", type=int, default=10, help="batches of 1,000 signals per kind (default 10)")
    parser.add_argument("--database-url", help="default: a SQLite file in a temporary directory")
    args = parser.parse_args()
    if args.database_url:
        return run(args.database_url, args.customers, args.batches)
    with tempfile.TemporaryDirectory() as directory:
        return run(f"sqlite:///{directory}/bench.db", args.customers, args.batches)


if __name__ == "__main__":
    sys.exit(main())
