"""``onboarding-bot sandbox``: the real bot, as a separate process in HTTP mode, against a local Slack in the browser.

The bot is started exactly as a deployment starts it (``onboarding-bot run``), only with its environment pointing at
this machine: ``SLACK_API_URL`` at the local Web API, ``DATABASE_URL`` at the sandbox's own SQLite file, a signing
secret made up for this run. The page signs what a person does with that secret and POSTs it to the bot's
``/slack/events``, as Slack would. The scheduler control runs ``onboarding-bot tick --now`` the same way.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .slack_api import FakeSlack
from .web import make_server, serve_in_thread
from .workspace import Workspace, seed

BOT_TOKEN = "xoxb-sandbox-local-only"
DEFAULT_DIRECTORY = Path(".sandbox")
SLACK_STATE = "slack.pickle"
DATABASE = "onboarding-bot.db"


@dataclass(frozen=True)
class Options:
    port: int = 3000
    host: str = "127.0.0.1"
    reset: bool = False
    directory: Path = DEFAULT_DIRECTORY


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def bot_environment(fake: FakeSlack, secret: str, database: Path, port: int) -> dict[str, str]:
    """The deployment's settings, pointed at this machine (and overriding any ``.env`` with real tokens)."""
    # Bolt turns OAuth on when SLACK_CLIENT_ID is in the environment at all, even empty: leave it out.
    inherited = {k: v for k, v in os.environ.items() if k not in ("SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET")}
    return {
        **inherited,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": secret,
        "SLACK_APP_TOKEN": "",  # HTTP mode, even when .env has an app token (empty reads as unset)
        "SLACK_API_URL": fake.base_url,
        "DATABASE_URL": f"sqlite:///{database.resolve()}",
        "PORT": str(port),
        "HOST": "127.0.0.1",
    }


def _bot_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "bot.cli", *args]


def _wait_until_up(url: str, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the bot stopped while starting (exit code {process.returncode}); see its log")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"the bot did not answer {url} within {timeout:.0f} s")


class _Saver:
    """Writes the local Slack's state to disk whenever it changed, so a restart continues where it was."""

    def __init__(self, fake: FakeSlack, path: Path) -> None:
        self.fake, self.path = fake, path
        self._last: bytes | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="sandbox-saver", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(1.0):
            self.save()

    def save(self) -> None:
        saved = self.fake.save_state()
        if saved == self._last:
            return
        partial = self.path.with_suffix(".tmp")
        partial.write_bytes(saved)
        partial.replace(self.path)  # atomic: a crash leaves the old state or the new one, never half of one
        self._last = saved

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.save()


@dataclass
class Sandbox:
    """Everything running: the local Slack, the bot process, the page."""

    fake: FakeSlack
    workspace: Workspace
    bot: subprocess.Popen[bytes]
    url: str


@contextmanager
def running(options: Options) -> Iterator[Sandbox]:
    directory = options.directory
    directory.mkdir(parents=True, exist_ok=True)
    state_file, database = directory / SLACK_STATE, directory / DATABASE
    if options.reset:
        for path in (state_file, database, database.with_name(database.name + "-wal"),
                     database.with_name(database.name + "-shm")):  # fmt: skip
            path.unlink(missing_ok=True)
    fake = FakeSlack(valid_tokens={BOT_TOKEN}, first_ts=time.time())
    if state_file.exists():
        fake.load_state(state_file.read_bytes())
    else:
        seed(fake)
    fake.start()
    secret = secrets.token_hex(16)
    bot_port = _free_port()
    env = bot_environment(fake, secret, database, bot_port)
    # The bot's log goes to a file: the terminal shows the one line that says where to go.
    log = (directory / "bot.log").open("ab")
    bot = subprocess.Popen(_bot_command("run"), env=env, stdout=log, stderr=subprocess.STDOUT)
    saver = _Saver(fake, state_file)
    web = None
    try:
        _wait_until_up(f"http://127.0.0.1:{bot_port}/healthz", bot)

        def run_scheduler(at: str) -> str:
            done = subprocess.run(_bot_command("tick", "--now", at), env=env, capture_output=True, text=True,
                                  timeout=120, check=False)  # fmt: skip
            lines = (done.stdout.strip() or done.stderr.strip()).splitlines()
            return f"Scheduler run as of {at} UTC: {lines[-1] if lines else f'exit code {done.returncode}'}"

        workspace = Workspace(fake, f"http://127.0.0.1:{bot_port}/slack/events", secret, run_scheduler)
        web = make_server(workspace, options.host, options.port)
        serve_in_thread(web)
        saver.start()
        host = options.host if options.host not in ("0.0.0.0", "::") else "127.0.0.1"
        yield Sandbox(fake, workspace, bot, f"http://{host}:{web.server_address[1]}")
    finally:
        if web is not None:
            web.shutdown()
            web.server_close()
        saver.stop()
        bot.send_signal(signal.SIGTERM)
        try:
            bot.wait(timeout=10)
        except subprocess.TimeoutExpired:
            bot.kill()
        log.close()
        fake.stop()


def main(options: Options) -> int:
    # Installed first: a TERM that arrives while starting (a service manager, a test) still stops it cleanly.
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        with running(options) as sandbox:
            print(
                f"onboarding-bot sandbox: open {sandbox.url} (a local Slack; nothing leaves this machine). "
                "To use a real workspace instead, set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET (see README).",
                flush=True,
            )
            try:
                while not stopped.wait(0.5):
                    if sandbox.bot.poll() is not None:
                        print(f"error: the bot stopped (exit code {sandbox.bot.returncode})", file=sys.stderr)
                        return 1
            except KeyboardInterrupt:
                pass
    except (RuntimeError, OSError) as exc:
        print(f"error: the sandbox could not start: {exc}", file=sys.stderr)
        return 1
    return 0
