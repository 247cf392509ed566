"""Concurrent acks for ``bench.ack_latency --concurrency N``: the bot and a bare async Bolt floor, same requests.

Three processes besides this one, so that no server shares an interpreter (and its GIL) with the client or with
another server: the fake Slack Web API (``sandbox.slack_api.FakeSlack``), the bot as ``onboarding-bot run`` serves
it in HTTP mode (on the database the sequential flow just filled), and the floor (``bench.ack_floor``). N clients,
each on its own keep-alive connection, send signed requests one after another; a request's latency is from just
before its bytes are written until its whole response has been read.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import multiprocessing
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from bench.measure import process_cpu_s
from bot.ids import MENU_HELP
from sandbox import payloads as sr
from sandbox.slack_api import FakeSlack
from tests.support.process import free_port, stop

ROOT = Path(__file__).resolve().parents[1]
HELP = "/onboarding help"
STATUS = "/onboarding status"
BUTTON = f"block_actions {MENU_HELP}"
LOAD_KINDS = (HELP, STATUS, BUTTON)
ROUNDS = 4


@dataclass(frozen=True)
class Plan:
    """A channel whose Step 3 the sequential flow saved, and its hub message as the fake Slack shows it."""

    channel: str
    channel_name: str
    hub: dict[str, Any]


@dataclass
class LoadResult:
    latencies_ms: list[float]
    wall_s: float
    failures: list[str]
    server_cpu_s: float = 0.0  # the server process's CPU time (user + system, all threads) over the rounds

    @property
    def cpu_ms_per_request(self) -> float:
        return self.server_cpu_s * 1000 / len(self.latencies_ms) if self.latencies_ms else 0.0

    @property
    def throughput(self) -> float:
        return len(self.latencies_ms) / self.wall_s if self.wall_s else 0.0


class Requests:
    """Signed HTTP/1.1 requests for each kind, fresh ids each time, spread over the plans' channels."""

    def __init__(self, plans: list[Plan], response_url_base: str) -> None:
        self.plans = plans
        self.response_url_base = response_url_base
        self._n = itertools.count()

    def body(self, kind: str) -> str:
        """A form-encoded body, as Slack sends commands and interactions."""
        n = next(self._n)
        plan = self.plans[n % len(self.plans)]
        response_url = f"{self.response_url_base}/response/{sr.next_id('load')}"
        where = {"channel": plan.channel, "channel_name": plan.channel_name}
        if kind == BUTTON:
            return sr.interactive_body(sr.message_action(plan.hub, MENU_HELP, response_url=response_url, **where))
        text = "help" if kind == HELP else "status"
        return sr.form_body(sr.slash_command(text, response_url=response_url, **where))

    def http(self, kind: str, port: int) -> bytes:
        body = self.body(kind)
        raw = body.encode()
        headers = {
            "Host": f"127.0.0.1:{port}",
            "Content-Type": "application/x-www-form-urlencoded",
            "Content-Length": str(len(raw)),
            **sr.sign(body),
        }
        head = "POST /slack/events HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        return head.encode() + raw


def acceptable(kind: str, status: int, body: bytes) -> bool:
    """A 200 carrying what Slack would show: the ephemeral text for the commands, nothing for the button."""
    if status != 200:
        return False
    if kind == BUTTON:
        return body == b""
    try:
        answer = json.loads(body)
    except ValueError:
        return False
    return isinstance(answer, dict) and bool(answer.get("text") or answer.get("blocks"))


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """Status, body, and whether the server keeps the connection open (Content-Length or chunked bodies)."""
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("connection closed before a response")
    status = int(status_line.split(b" ", 2)[1])
    headers: dict[bytes, bytes] = {}
    while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
        chunks = []
        while size := int((await reader.readline()).split(b";")[0], 16):
            chunks.append(await reader.readexactly(size))
            await reader.readline()
        await reader.readline()
        body = b"".join(chunks)
    else:
        body = await reader.readexactly(int(headers.get(b"content-length", b"0")))
    return status, body, headers.get(b"connection", b"").lower() != b"close"


async def _client(
    port: int, kind: str, requests: Requests, todo: Iterator[int], result: LoadResult, record: bool
) -> None:
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    for _ in todo:
        data = requests.http(kind, port)
        if writer is None or reader is None:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        start = time.perf_counter()
        writer.write(data)
        status, body, keep = await _read_response(reader)
        elapsed = (time.perf_counter() - start) * 1000
        if record:
            result.latencies_ms.append(elapsed)
            if not acceptable(kind, status, body):
                result.failures.append(f"{status} {body[:120]!r}")
        if not keep:
            writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()


async def _load(port: int, kind: str, requests: Requests, count: int, concurrency: int, record: bool) -> LoadResult:
    result = LoadResult([], 0.0, [])
    todo = iter(range(count))  # shared: each client takes the next request until none are left
    started = time.perf_counter()
    await asyncio.gather(*(_client(port, kind, requests, todo, result, record) for _ in range(concurrency)))
    result.wall_s = time.perf_counter() - started
    return result


def measure(port: int, pid: int, kind: str, requests: Requests, *, count: int, concurrency: int) -> LoadResult:
    """One recorded round; with the server's CPU time over it, which unlike latency hardly depends on what else
    the machine runs meanwhile."""
    before = process_cpu_s(pid)
    result = asyncio.run(_load(port, kind, requests, count, concurrency, record=True))
    result.server_cpu_s = process_cpu_s(pid) - before
    return result


def _shares(count: int, rounds: int) -> list[int]:
    """``count`` split into ``rounds`` near-equal parts, none empty (fewer parts when count < rounds)."""
    return [count // rounds + (1 if i < count % rounds else 0) for i in range(min(count, rounds))]


def warm_up(port: int, kind: str, requests: Requests, *, count: int, concurrency: int) -> None:
    """Requests not recorded: connections, caches, lazily imported code."""
    asyncio.run(_load(port, kind, requests, count, concurrency, record=False))


def merge(results: list[LoadResult]) -> LoadResult:
    return LoadResult(
        [ms for r in results for ms in r.latencies_ms],
        sum(r.wall_s for r in results),
        [f for r in results for f in r.failures],
        sum(r.server_cpu_s for r in results),
    )


def _serve_fake(conn: Connection) -> None:
    """The fake Slack in a process of its own: its URL out, then serve until told to stop; its problems out."""
    with FakeSlack() as fake:
        conn.send(fake.url)
        conn.recv()
        conn.send((len(fake.response_calls), list(fake.problems)))


@contextmanager
def fake_slack_process() -> Iterator[tuple[str, Callable[[], tuple[int, list[str]]]]]:
    """The fake Slack's URL, and a function that stops it and returns (response_url posts, problems)."""
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    process = ctx.Process(target=_serve_fake, args=(child,), daemon=True)
    process.start()
    report: tuple[int, list[str]] | None = None

    def stop() -> tuple[int, list[str]]:
        nonlocal report
        if report is None:
            parent.send("stop")
            report = parent.recv()
        return report

    try:
        yield parent.recv(), stop
    finally:
        stop()
        process.join(timeout=10)


def _wait_until_serving(url: str, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args} exited with {process.returncode} before serving")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except urllib.error.HTTPError:
            return  # it answered: serving
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing answered at {url} within {timeout:.0f} s")


@contextmanager
def serving(command: list[str], url: str, env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as out:
        process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_until_serving(url, process)
        yield process
    finally:
        stop(process)


def bot_command(fake_url: str, database_url: str, port: int) -> tuple[list[str], dict[str, str]]:
    """`onboarding-bot run` in HTTP mode, as deployed (waitress, the scheduler running), against the fake Slack."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env = {
        **clean,
        "PYTHONPATH": str(ROOT),
        "SLACK_BOT_TOKEN": "xoxb-test-token",
        "SLACK_SIGNING_SECRET": sr.SIGNING_SECRET,
        "SLACK_API_URL": f"{fake_url}/api/",
        "DATABASE_URL": database_url,
        "PORT": str(port),
        "HOST": "127.0.0.1",
    }
    return [sys.executable, "-m", "bot.cli", "run"], env


def floor_command(fake_url: str, port: int) -> tuple[list[str], dict[str, str]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return [sys.executable, "-m", "bench.ack_floor", "--port", str(port), "--api-url", f"{fake_url}/api/"], env


@dataclass(frozen=True)
class Comparison:
    kind: str
    bot: LoadResult
    floor: LoadResult


@dataclass(frozen=True)
class LoadReport:
    concurrency: int
    comparisons: list[Comparison]
    response_posts: int
    problems: list[str]
    log_dir: Path

    @property
    def failures(self) -> list[tuple[str, str]]:
        return [(c.kind, f) for c in self.comparisons for f in [*c.bot.failures, *c.floor.failures]]


def run_load(
    plans: list[Plan],
    database_url: str,
    *,
    concurrency: int,
    count: int,
    warmup: int,
    log_dir: Path,
    kinds: Sequence[str] = LOAD_KINDS,
) -> LoadReport:
    """Each kind against the bot, then the floor, at ``concurrency`` clients; server logs go to ``log_dir``."""
    with fake_slack_process() as (fake_url, stop_fake):
        requests = Requests(plans, fake_url)
        bot_port, floor_port = free_port(), free_port()
        bot_cmd, bot_env = bot_command(fake_url, database_url, bot_port)
        floor_cmd, floor_env = floor_command(fake_url, floor_port)
        comparisons = []
        with (
            serving(bot_cmd, f"http://127.0.0.1:{bot_port}/healthz", bot_env, log_dir / "bot.log") as bot_process,
            serving(floor_cmd, f"http://127.0.0.1:{floor_port}/", floor_env, log_dir / "floor.log") as floor_process,
        ):
            for kind in kinds:
                for port in (bot_port, floor_port):
                    warm_up(port, kind, requests, count=warmup, concurrency=concurrency)
                # Bot and floor take turns, a round each, so that whatever else the machine runs meanwhile
                # weighs on both alike.
                bot, floor = [], []
                for share in _shares(count, ROUNDS):
                    bot.append(measure(bot_port, bot_process.pid, kind, requests, count=share, concurrency=concurrency))
                    floor.append(
                        measure(floor_port, floor_process.pid, kind, requests, count=share, concurrency=concurrency)
                    )
                comparisons.append(Comparison(kind, merge(bot), merge(floor)))
        response_posts, problems = stop_fake()
    return LoadReport(concurrency, comparisons, response_posts, problems, log_dir)
