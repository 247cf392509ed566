"""How fast the bot acknowledges Slack requests (Slack gives up on an ack after 3 seconds).

Runs the whole Step 3 flow for N channels against the real Bolt app, served over HTTP by waitress
on loopback (``tests.support.harness.BotHarness``) and talking to the fake Slack Web API
(``sandbox.slack_api.FakeSlack``). For every request it records:

* ack: the HTTP round trip until the ack response has been read, i.e. what Slack waits for;
* total: ack plus the listener work Bolt runs after the ack (posts, modals, uploads) finishing.

Run from the repository root::

    .venv/bin/python -m bench.ack_latency [--plans N] [--database-url URL] [--concurrency N] [--kept-posts N]

With ``--concurrency N`` it then sends N concurrent clients' requests to the bot and to a bare async Bolt floor
(``bench.ack_load``, ``bench.ack_floor``) and reports both. Exits 1 if any ack took 3000 ms or more, or an answer
under load was not the expected one.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench.ack_load import BUTTON, HELP, STATUS, LoadReport, LoadResult, Plan, run_load
from bench.history_reads import keep_history
from bench.measure import peak_rss_mib, percentile
from bot.ids import ADD_MILESTONE, CONFIRM_SAVE, OPEN_SECTION, REVIEW_SAVE
from sandbox.payloads import ALICE
from sandbox.slack_api import FakeSlack
from tests.support.answers import HEALTH, MILESTONES, TRAINING, across, milestone_rows, with_rows
from tests.support.harness import BotHarness, Response

SLACK_ACK_LIMIT_MS = 3000.0

SLASH_COMMAND = "slash command /onboarding step3"
OPEN_MODAL = "block_actions -> views.open"
SUBMIT_MODAL = "view_submission"
CONTINUE = "block_actions -> post ([C])"
CONFIRM = "block_actions -> upload (confirm)"
LOAD_KIND_NAMES = {"help": HELP, "status": STATUS, "button": BUTTON}
KINDS = (SLASH_COMMAND, OPEN_MODAL, SUBMIT_MODAL, CONTINUE, CONFIRM)


@dataclass(frozen=True)
class Timing:
    ack_ms: float
    total_ms: float


class TimedHarness(BotHarness):
    """``BotHarness`` whose ``request`` also times the ack and the after-ack work separately."""

    def __init__(self, fake: FakeSlack, database_url: str, clock: Callable[[], datetime]) -> None:
        super().__init__(fake, database_url, clock)
        self.last_timing: Timing | None = None

    def request(self, method: str, path: str, body: str = "", headers: dict[str, str] | None = None) -> Response:
        req = urllib.request.Request(self.url + path, data=body.encode() if body else None, method=method)
        for name, value in (headers or {}).items():
            req.add_header(name, value)
        start = time.perf_counter()
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                result = Response(resp.status, resp.read().decode())
        except urllib.error.HTTPError as err:
            result = Response(err.code, err.read().decode())
        acked = time.perf_counter()
        self.executor.wait_idle()
        done = time.perf_counter()
        self.last_timing = Timing(ack_ms=(acked - start) * 1000, total_ms=(done - start) * 1000)
        return result


class Recorder:
    def __init__(self, bot: TimedHarness) -> None:
        self.bot = bot
        self.samples: dict[str, list[Timing]] = defaultdict(list)

    def record(self, kind: str, response: Response, *, expect_empty_body: bool = False) -> None:
        if response.status != 200 or (expect_empty_body and response.body):
            raise RuntimeError(f"{kind}: unexpected ack {response.status} {response.body!r}")
        assert self.bot.last_timing is not None
        self.samples[kind].append(self.bot.last_timing)


def run_plan(bot: TimedHarness, recorder: Recorder, channel: str, channel_name: str) -> None:
    """The Step 3 flow of one channel: the command; each milestone added in its own form from the hub, then the
    questions across milestones, health and training, each in its form; Review and save; confirm."""
    recorder.record(SLASH_COMMAND, bot.command("step3", channel=channel, channel_name=channel_name))
    for row in milestone_rows(MILESTONES).values():
        recorder.record(OPEN_MODAL, bot.click(bot.hub(channel), ADD_MILESTONE, "add", channel=channel))
        recorder.record(SUBMIT_MODAL, bot.submit(bot.last_view(), row), expect_empty_body=True)
    for section, values in (("milestones", across(MILESTONES)), ("health", HEALTH), ("training", TRAINING)):
        response = bot.click(bot.hub(channel), f"{OPEN_SECTION}:{section}", section, channel=channel)
        recorder.record(OPEN_MODAL, response)
        view = with_rows(bot, bot.last_view(), values)  # custom factors come with "Add a custom factor"
        recorder.record(SUBMIT_MODAL, bot.submit(view, values), expect_empty_body=True)
    recorder.record(CONTINUE, bot.click(bot.hub(channel), REVIEW_SAVE, channel=channel))
    synthesis = bot.channel_messages(channel)[-1]
    if not synthesis["text"].startswith("Step 3 synthesis"):
        raise RuntimeError(f"{channel}: expected the synthesis message, got {synthesis['text']!r}")
    recorder.record(CONFIRM, bot.click(synthesis, CONFIRM_SAVE, channel=channel))


COLUMNS = (("request kind", 34), ("count", 5), ("ack p50", 8), ("ack p95", 8), ("ack max", 8), ("total p50", 9))


def _cells(cells: list[str]) -> str:
    padded = [
        cell.ljust(width) if i == 0 else cell.rjust(width)
        for i, (cell, (_, width)) in enumerate(zip(cells, COLUMNS, strict=True))
    ]
    return "| " + " | ".join(padded) + " |"


def _row(label: str, timings: list[Timing]) -> str:
    if not timings:
        return _cells([label, "0", "-", "-", "-", "-"])
    acks = [t.ack_ms for t in timings]
    totals = [t.total_ms for t in timings]
    stats = (percentile(acks, 50), percentile(acks, 95), max(acks), percentile(totals, 50))
    return _cells([label, str(len(timings)), *(f"{value:.1f}" for value in stats)])


def format_table(samples: dict[str, list[Timing]]) -> list[str]:
    lines = [_cells([name for name, _ in COLUMNS]), "|" + "|".join("-" * (width + 2) for _, width in COLUMNS) + "|"]
    lines += [_row(kind, samples.get(kind, [])) for kind in KINDS]
    lines.append(_row("all requests", [t for kind in KINDS for t in samples.get(kind, [])]))
    return lines


LOAD_COLUMNS = (("request kind", 28), ("server", 6), ("count", 5), ("p50", 7), ("p95", 7), ("p99", 7),
                ("max", 7), ("req/s", 6), ("CPU ms/req", 10))  # fmt: skip


def _load_row(kind: str, server: str, result: LoadResult) -> str:
    acks = result.latencies_ms
    cells = [kind, server, str(len(acks))]
    cells += [f"{value:.1f}" for value in (percentile(acks, 50), percentile(acks, 95), percentile(acks, 99), max(acks))]
    cells.append(f"{result.throughput:.0f}")
    cells.append(f"{result.cpu_ms_per_request:.2f}")
    padded = [
        cell.ljust(width) if i < 2 else cell.rjust(width)
        for i, (cell, (_, width)) in enumerate(zip(cells, LOAD_COLUMNS, strict=True))
    ]
    return "| " + " | ".join(padded) + " |"


def format_load(report: LoadReport) -> list[str]:
    header = "| " + " | ".join(name.ljust(w) if i < 2 else name.rjust(w) for i, (name, w) in enumerate(LOAD_COLUMNS))
    lines = [
        f"under load: {report.concurrency} concurrent clients on keep-alive connections, each sending its next",
        "request when the last was answered; bot = `onboarding-bot run` (HTTP mode); floor = bare AsyncApp on uvicorn",
        "latency in ms, from writing the request until the whole response is read; CPU ms/req = the server",
        "process's CPU time (all threads, after-ack work included) over the recorded rounds, per request",
        header + " |",
        "|" + "|".join("-" * (width + 2) for _, width in LOAD_COLUMNS) + "|",
    ]
    for c in report.comparisons:
        lines += [_load_row(c.kind, "bot", c.bot), _load_row(c.kind, "floor", c.floor)]
    lines.append("")
    for c in report.comparisons:
        ratio = percentile(c.bot.latencies_ms, 99) / percentile(c.floor.latencies_ms, 99)
        lines.append(f"bot/floor p99 {c.kind}: {ratio:.2f}x")
    lines += [
        f"unexpected answers: {len(report.failures)}; response_url posts: {report.response_posts}; "
        f"fake Slack problems: {len(report.problems)}",
        f"server logs:   {report.log_dir}",
    ]
    return lines


@contextmanager
def database(url: str | None) -> Iterator[str]:
    if url is not None:
        yield url
        return
    with tempfile.TemporaryDirectory(prefix="bench-ack-") as tmp:
        yield f"sqlite:///{tmp}/bot.db"


def redact(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if "@" in rest.split("/", 1)[0]:
        credentials, _, host = rest.partition("@")
        rest = credentials.split(":", 1)[0] + "@" + host
    return scheme + sep + rest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--plans", type=int, default=30, help="channels to run the Step 3 flow in (default 30)")
    parser.add_argument("--database-url", help="SQLAlchemy URL (default: a SQLite file in a temp dir)")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=0,
        help="after the flow, this many concurrent clients against the bot and a bare async Bolt floor (default: off)",
    )
    parser.add_argument("--requests", type=int, default=2000, help="recorded requests per kind and server (2000)")
    parser.add_argument("--warmup", type=int, default=200, help="unrecorded requests first, per kind and server (200)")
    parser.add_argument(
        "--kinds",
        default="help,status,button",
        help="which requests to send under load, comma-separated from help, status, button (default: all three)",
    )
    parser.add_argument(
        "--kept-posts",
        type=int,
        default=0,
        help="before the load, give the plans this many sent posts in all, as a deployment keeps (default 0)",
    )
    args = parser.parse_args(argv)
    kinds = [LOAD_KIND_NAMES.get(name.strip()) for name in args.kinds.split(",")]
    if None in kinds:
        parser.error(f"--kinds takes a comma-separated list of {', '.join(LOAD_KIND_NAMES)}")
    if args.plans < 1:
        parser.error("--plans must be at least 1")
    if args.concurrency < 0 or args.requests < 1 or args.warmup < 0:
        parser.error("--concurrency, --requests and --warmup must be positive")

    with FakeSlack() as fake, database(args.database_url) as url:
        channels = [(f"C0BENCH{i:03d}", f"onboarding-bench-{i:03d}") for i in range(args.plans)]
        for channel, name in channels:
            fake.add_channel(channel, name=name)
        started = time.perf_counter()
        bot = TimedHarness(fake, url, clock=lambda: datetime.now(UTC))
        setup_s = time.perf_counter() - started
        recorder = Recorder(bot)
        try:
            started = time.perf_counter()
            for channel, name in channels:
                run_plan(bot, recorder, channel, name)
            run_s = time.perf_counter() - started
            plans = [Plan(channel, name, bot.hub(channel)) for channel, name in channels]
        finally:
            bot.close()
        if len(fake.uploads) != args.plans or fake.problems:
            raise RuntimeError(f"flow incomplete: {len(fake.uploads)} uploads, problems {fake.problems}")
        api_calls = len(fake.calls)
        response_url_calls = len(fake.response_calls)
        load: LoadReport | None = None
        if args.kept_posts:
            keep_history(url, "posts", args.kept_posts)
        if args.concurrency:
            log_dir = Path(tempfile.mkdtemp(prefix="bench-ack-logs-"))
            load = run_load(
                plans,
                url,
                concurrency=args.concurrency,
                count=args.requests,
                warmup=args.warmup,
                log_dir=log_dir,
                kinds=[kind for kind in kinds if kind is not None],
            )

    lines = [
        f"database:      {redact(url) if args.database_url else 'sqlite (file in a temp dir)'}",
        f"plans:         {args.plans} (Step 3 flow per channel, user {ALICE})",
        f"machine:       {platform.machine()}, os.cpu_count()={os.cpu_count()}, "
        f"Python {platform.python_version()} ({platform.python_implementation()}), {platform.system()}",
        f"setup:         {setup_s:.2f} s (migrations + app); flow: {run_s:.2f} s",
        "",
        "latency in ms; ack = HTTP round trip until the ack response is read;",
        "total = ack + the listener work Bolt runs after the ack",
        *format_table(recorder.samples),
        "",
        f"peak RSS:      {peak_rss_mib():.1f} MiB (whole process: bot, waitress, fake Slack, client)",
        f"Slack calls:   {api_calls} Web API calls, {response_url_calls} response_url posts",
    ]
    if load is not None:
        lines += ["", *format_load(load)]
    print("\n".join(lines))

    if load is not None and (load.failures or load.problems):
        print(f"FAIL under load: {load.failures[:3]}; fake Slack problems: {load.problems[:3]}", file=sys.stderr)
        return 1
    slow = [
        (kind, t.ack_ms)
        for kind, timings in recorder.samples.items()
        for t in timings
        if t.ack_ms >= SLACK_ACK_LIMIT_MS
    ]
    if load is not None:
        slow += [(c.kind, ms) for c in load.comparisons for ms in c.bot.latencies_ms if ms >= SLACK_ACK_LIMIT_MS]
    if slow:
        print(f"FAIL: {len(slow)} ack(s) took >= {SLACK_ACK_LIMIT_MS:.0f} ms: {slow[:5]}", file=sys.stderr)
        return 1
    print(f"OK: every ack under {SLACK_ACK_LIMIT_MS:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
