"""A real `onboarding-bot run` process against the fake Slack (for crash tests and benchmarks)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from sandbox.payloads import SIGNING_SECRET
from sandbox.slack_api import FakeSlack

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop(process: subprocess.Popen[Any], timeout: float = 15) -> None:
    """SIGTERM, as a deployment stops the bot (it finishes the work it acked, then exits); SIGKILL if it has not
    exited within ``timeout`` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def start_bot(fake: FakeSlack, database_url: str, log: Path) -> subprocess.Popen[bytes]:
    """`onboarding-bot run` in HTTP mode on a free port, its output appended to ``log``."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env = {
        **clean,
        "PYTHONPATH": str(ROOT),
        "SLACK_BOT_TOKEN": "xoxb-test-token",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake.base_url,
        "DATABASE_URL": database_url,
        "PORT": str(free_port()),
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run"], env=env, cwd=log.parent, stdout=out, stderr=subprocess.STDOUT
        )
