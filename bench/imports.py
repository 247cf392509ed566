"""How long `onboarding-bot import` takes for a big customer file and a big signal file, and how much memory.

Creates one plan with Step 3 saved (``bench.tick``'s: 5 milestones, factors adoption, engagement and tickets), writes
two CSV files into a temp dir (N customers; then M signal rows over those customers, some observations older than
others already in the file), and runs the real command line, ``bot.cli.main(["import", ...])``, for each file twice:
the second run of a file must change nothing. Each run is a fresh child process, so its peak RSS is the import's
(interpreter and imports included), not the file generation's. Run from the repository root::

    .venv/bin/python -m bench.imports [--customers N] [--signals M] [--database-url URL] [--profile DIR]

Exits 1 when a run's counts are not what the files hold (every customer created, then every row unchanged, ...),
or when a run did not exit 0. Missing the 20 s / 300 MB target is printed but does not change the exit status.
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.measure import cpu_s, peak_rss_mib

TARGET_SECONDS = 20.0
TARGET_MIB = 300.0
FACTORS = ("adoption", "engagement", "tickets")  # bench.tick's plan: its signalled factors
OWNERS = ("U0ALICE01", "U0BOB0002", "")
SEGMENTS = ("SMB", "Mid-market", "Enterprise", "")
NOW = datetime.now(UTC).replace(microsecond=0)


@dataclass
class Run:
    label: str
    status: int
    wall_s: float
    cpu_s: float
    rss_before_mib: float  # the child before the import: interpreter and imports
    rss_peak_mib: float
    output: str  # the command's first output line: its counts


# --- files -------------------------------------------------------------------------------------


def write_customers(path: Path, count: int, rng: random.Random) -> None:
    start = NOW.date() - timedelta(days=60)
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["id", "name", "start", "owner", "segment"])
        for n in range(count):
            day = start + timedelta(days=rng.randint(0, 90))
            writer.writerow([f"crm-{n:07d}", f"Customer {n:07d} Inc", day.isoformat(), OWNERS[n % 3], SEGMENTS[n % 4]])


def write_signals(path: Path, customers: int, rows: int, rng: random.Random) -> None:
    """``rows`` observations spread over the customers: a week of values, in no particular order per customer."""
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["id", "factor", "value", "observed_at"])
        for n in range(rows):
            customer = n % customers
            factor = FACTORS[(n // customers) % len(FACTORS)]
            days_ago = 1 + (n // (customers * len(FACTORS))) + rng.randint(0, 6) * 3
            at = (NOW - timedelta(days=days_ago, minutes=customer % 600)).isoformat().replace("+00:00", "Z")
            writer.writerow([f"crm-{customer:07d}", factor, rng.randint(0, 100), at])


# --- one run of the command line, in a child process --------------------------------------------


def run_child(argv: list[str], profile: str | None) -> dict[str, object]:
    import io
    from contextlib import redirect_stdout

    from bot.cli import main as cli

    rss_before, cpu_before = peak_rss_mib(), cpu_s()
    profiler = cProfile.Profile() if profile else None
    out = io.StringIO()
    started = time.perf_counter()
    with redirect_stdout(out):
        if profiler is not None:
            profiler.enable()
        status = cli(argv)
        if profiler is not None:
            profiler.disable()
    wall = time.perf_counter() - started
    if profiler is not None and profile:
        profiler.dump_stats(profile)
    first = out.getvalue().splitlines()[0] if out.getvalue() else ""
    return {"status": status, "wall_s": wall, "cpu_s": cpu_s() - cpu_before, "rss_before_mib": rss_before,
            "rss_peak_mib": peak_rss_mib(), "output": first}  # fmt: skip


def run(label: str, url: str, argv: list[str], profile: str | None) -> Run:
    command = [sys.executable, "-m", "bench.imports", "--child", json.dumps(argv)]
    if profile:
        command += ["--profile", profile]
    done = subprocess.run(command, capture_output=True, text=True, check=False, env={**os.environ, "DATABASE_URL": url})
    if done.returncode != 0:
        raise RuntimeError(f"import child failed ({done.returncode}):\n{done.stderr}")
    return Run(label=label, **json.loads(done.stdout.strip().splitlines()[-1]))


# --- the benchmark -----------------------------------------------------------------------------


@contextmanager
def database(url: str | None, tmp: Path) -> Iterator[str]:
    if url is None:
        yield f"sqlite:///{tmp}/bot.db"
        return
    from tests.support.databases import postgres_schema

    with postgres_schema(url, prefix="bench_imports") as schema_url:
        yield schema_url


def bench(url: str, tmp: Path, customers: int, signals: int, profile_dir: str | None) -> list[Run]:
    from bench.tick import channel_id, generate
    from storage.db import make_engine, make_session_factory, upgrade

    upgrade(url)
    engine = make_engine(url)
    generate(make_session_factory(engine), plans=1, customers=0, overdue_share=0, seed=1)  # the plan alone
    engine.dispose()
    rng = random.Random(7)
    customers_csv, signals_csv = tmp / "customers.csv", tmp / "signals.csv"
    write_customers(customers_csv, customers, rng)
    write_signals(signals_csv, customers, signals, rng)
    runs = []
    for kind, path in (("customers", customers_csv), ("signals", signals_csv)):
        for attempt in ("first", "second"):
            profile = f"{profile_dir}/{kind}-{attempt}.prof" if profile_dir else None
            argv = ["import", kind, str(path), "--channel", channel_id(0)]
            runs.append(run(f"{kind} ({attempt} run)", url, argv, profile))
    return runs


def expected(customers: int, signals: int) -> list[str]:
    return [
        f"customers imported: {customers} created, 0 updated, 0 unchanged, 0 rejected",
        f"customers imported: 0 created, 0 updated, {customers} unchanged, 0 rejected",
        f"signals imported: {signals} created, 0 updated, 0 unchanged, 0 rejected",
        f"signals imported: 0 created, 0 updated, {signals} unchanged, 0 rejected",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--customers", type=int, default=100_000, help="rows of the customer file (default 100000)")
    parser.add_argument("--signals", type=int, default=500_000, help="rows of the signal file (default 500000)")
    parser.add_argument("--database-url", help="PostgreSQL URL: a throwaway schema in it (default: SQLite, temp dir)")
    parser.add_argument("--profile", help="directory for a cProfile of each run")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(run_child(json.loads(args.child), args.profile)))
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-imports-") as tmp, database(args.database_url, Path(tmp)) as url:
        runs = bench(url, Path(tmp), args.customers, args.signals, args.profile)
        dialect = url.split(":", 1)[0].split("+", 1)[0]
    print(f"database: {dialect}; {args.customers:,} customers (5 milestones each), {args.signals:,} signal rows")
    print(f"machine:  {platform.machine()}, os.cpu_count()={os.cpu_count()}, Python {platform.python_version()}")
    print("| run | exit | wall s | CPU s | RSS before | peak RSS | output |")
    print("|---|---|---|---|---|---|---|")
    for r in runs:
        print(f"| {r.label} | {r.status} | {r.wall_s:.2f} | {r.cpu_s:.2f} | {r.rss_before_mib:.0f} MiB "
              f"| {r.rss_peak_mib:.0f} MiB | {r.output} |")  # fmt: skip
    failures = [
        f"{r.label}: exit {r.status}, expected “{want}”, got “{r.output}”"
        for r, want in zip(runs, expected(args.customers, args.signals), strict=True)
        if r.status != 0 or not r.output.endswith(want)
    ]
    for r in runs:
        met = r.wall_s <= TARGET_SECONDS and r.rss_peak_mib <= TARGET_MIB
        print(f"target {TARGET_SECONDS:.0f} s / {TARGET_MIB:.0f} MB, {r.label}: {'met' if met else 'MISSED'}")
    for failure in failures:
        print(f"FAILED {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
