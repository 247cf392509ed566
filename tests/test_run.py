"""`onboarding-bot run` as a deployment runs it: a real process, in Socket Mode and in HTTP mode.

Refusing a bad configuration is checked through ``bot.cli.main`` in-process (a process start costs a second or two
of imports per case); one case still starts a real process, so the entry point itself stays covered.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main
from sandbox import payloads as sr
from sandbox.slack_api import FakeSlack
from sandbox.socket_mode import FakeSocketModeServer
from tests.support.cli import in_process_cli
from tests.support.process import free_port, stop


@contextmanager
def bot_process(env: dict[str, str], cwd: Path) -> Iterator[subprocess.Popen[str]]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "run"],
        env={**clean, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), **env},
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield process
    finally:
        stop(process)


def test_socket_mode_answers_a_slash_command(tmp_path: Path) -> None:
    with FakeSocketModeServer() as socket_server, FakeSlack(socket_mode=socket_server) as fake:
        env = {
            "SLACK_BOT_TOKEN": "xoxb-test-token",
            "SLACK_APP_TOKEN": "xapp-1-test",
            "SLACK_API_URL": fake.base_url,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}",
        }
        with bot_process(env, tmp_path) as process:
            try:
                socket_server.wait_for_connection(timeout=30)
            except TimeoutError:
                process.terminate()
                pytest.fail(f"the bot did not connect: {process.communicate(timeout=10)[0]}")
            fields = sr.slash_command("help", response_url=fake.url + "/response/sm")
            ack = socket_server.wait_for_ack(socket_server.send_envelope(fields, "slash_commands"), timeout=10)
            assert "/onboarding step3" in ack["payload"]["text"]

            socket_server.wait_for_ack(
                socket_server.send_envelope(sr.slash_command("step3", response_url=fake.url + "/response/sm2"))
            )
            deadline = time.monotonic() + 10
            while not fake.calls_to("chat.postMessage") and time.monotonic() < deadline:
                time.sleep(0.05)
            assert fake.messages(sr.CHANNEL)[0]["text"].startswith("Step 3 · Success Milestones")
        assert fake.problems == []


def test_http_mode_serves_events_and_health(tmp_path: Path) -> None:
    port = free_port()
    with FakeSlack() as fake:
        with bot_process(_http_env(fake, tmp_path, port), tmp_path) as process:
            base = f"http://127.0.0.1:{port}"
            _serving(base, process)
            with urllib.request.urlopen(base + "/healthz", timeout=2) as resp:
                assert json.loads(resp.read()) == {"status": "ok"}
            with _command(base, "help", fake.url + "/response/h") as resp:
                assert "/onboarding step3" in json.loads(resp.read())["text"]
        assert fake.problems == []


def _http_env(fake: FakeSlack, tmp_path: Path, port: int) -> dict[str, str]:
    return {
        "SLACK_BOT_TOKEN": "xoxb-test-token",
        "SLACK_SIGNING_SECRET": sr.SIGNING_SECRET,
        "SLACK_API_URL": fake.base_url,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}",
        "PORT": str(port),
    }


def _command(base: str, text: str, response_url: str) -> Any:
    """A signed `/onboarding <text>` to the bot's events URL; the open HTTP response."""
    body = sr.form_body(sr.slash_command(text, response_url=response_url))
    request = urllib.request.Request(base + "/slack/events", data=body.encode(), method="POST")
    for name, value in {"Content-Type": "application/x-www-form-urlencoded", **sr.sign(body)}.items():
        request.add_header(name, value)
    return urllib.request.urlopen(request, timeout=5)


def _serving(base: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.terminate()
                pytest.fail(f"the bot did not serve /healthz: {process.communicate(timeout=10)[0]}")
            time.sleep(0.1)


def test_a_stopped_bot_finishes_what_it_acked_before_exiting(tmp_path: Path) -> None:
    """SIGTERM, as a deployment stops the bot for a restart: the work of requests already acked (here the hub and the
    three section threads of `/onboarding step3`, while Slack is slow) is done before the process exits. Slack will
    not send those requests again, so work dropped at exit would be lost."""
    port, slow = free_port(), threading.Event()
    with FakeSlack() as fake:
        fake.succeed("chat.postMessage", stall=slow)  # the hub's post waits until `slow` is set
        with bot_process(_http_env(fake, tmp_path, port), tmp_path) as process:
            base = f"http://127.0.0.1:{port}"
            _serving(base, process)
            with _command(base, "step3", fake.url + "/response/s3") as resp:
                assert resp.status == 200
            deadline = time.monotonic() + 10
            while not fake.calls_to("chat.postMessage") and time.monotonic() < deadline:
                time.sleep(0.05)
            process.send_signal(signal.SIGTERM)
            time.sleep(0.5)  # the stop has begun while the hub's post is still in Slack's hands
            slow.set()
            output = process.communicate(timeout=30)[0]
            assert process.returncode == 0, output
        texts = [m["text"] for m in fake.messages(sr.CHANNEL)]
        assert texts[0].startswith("Step 3 · Success Milestones") and len(texts) == 4, texts
        assert fake.problems == []


def test_clients_that_stall_mid_body_hold_up_neither_requests_nor_a_stop(tmp_path: Path) -> None:
    """The events URL is public, and a body can only be checked for Slack's signature once it is all in. Clients that
    send headers and a little of a body, then nothing, must not take the request threads (more of them here than the
    server has) from Slack's requests, nor keep a stop from ending. waitress reads bodies in its I/O loop and hands a
    request to a thread only once its body is in; a server that reads bodies in its request threads (granian, as
    measured in bench/README.md) fails this."""
    port, stalled = free_port(), []
    with FakeSlack() as fake:
        with bot_process(_http_env(fake, tmp_path, port), tmp_path) as process:
            base = f"http://127.0.0.1:{port}"
            _serving(base, process)
            try:
                for _ in range(12):
                    client = socket.create_connection(("127.0.0.1", port), timeout=5)
                    stalled.append(client)
                    client.sendall(
                        b"POST /slack/events HTTP/1.1\r\nHost: bot\r\nContent-Type: application/x-www-form-urlencoded"
                        b"\r\nContent-Length: 1000\r\n\r\ncommand=%2F"  # 11 of 1,000 bytes, then nothing
                    )
                time.sleep(0.5)
                started = time.monotonic()
                with urllib.request.urlopen(base + "/healthz", timeout=5) as resp:
                    assert resp.status == 200
                with _command(base, "help", fake.url + "/response/h") as resp:
                    assert "/onboarding step3" in json.loads(resp.read())["text"]
                assert time.monotonic() - started < 3
                started = time.monotonic()
                process.send_signal(signal.SIGTERM)
                output = process.communicate(timeout=15)[0]
                assert process.returncode == 0, output
                assert time.monotonic() - started < 10
            finally:
                for client in stalled:
                    client.close()
        assert fake.problems == []


BAD_CONFIGURATIONS = [
    ({}, "SLACK_BOT_TOKEN is required"),
    ({"SLACK_BOT_TOKEN": "xoxp-user-token"}, "SLACK_BOT_TOKEN must be a bot token"),
    ({"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_SIGNING_SECRET is required in HTTP mode"),
    ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xoxb-wrong"}, "SLACK_APP_TOKEN must be an app-level token"),
    ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "PORT": "http"}, "PORT is invalid"),
    (
        {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "SLACK_API_URL": "slack.com"},
        "SLACK_API_URL is invalid",
    ),
    ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "SLACK_CLIENT_ID": "1.2"}, "OAuth install is not"),
]


def _assert_one_clear_error_line(output: str, expected: str) -> None:
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], output


def test_bad_configuration_stops_the_real_process_with_one_clear_line(tmp_path: Path) -> None:
    env, expected = BAD_CONFIGURATIONS[0]
    with bot_process({"DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}", **env}, tmp_path) as process:
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 2
    _assert_one_clear_error_line(output, expected)


@pytest.mark.parametrize(("env", "expected"), BAD_CONFIGURATIONS)
def test_bad_configuration_stops_run_with_one_clear_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str],
    expected: str,
) -> None:
    with in_process_cli(monkeypatch, tmp_path, {"DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}", **env}):
        returncode = main(["run"])
    stdout, stderr = capsys.readouterr()
    assert returncode == 2
    assert stdout == ""
    _assert_one_clear_error_line(stderr, expected)


def test_slack_unreachable_stops_run_with_one_line_naming_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # nothing listens here once the socket is closed
    env = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "SLACK_API_URL": f"http://127.0.0.1:{port}/api/"}
    with in_process_cli(monkeypatch, tmp_path, {"DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}", **env}):
        returncode = main(["run"])
    assert returncode == 2
    _assert_one_clear_error_line(capsys.readouterr().err, "SLACK_API_URL")


def test_an_app_token_slack_refuses_stops_run_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeSlack(valid_tokens={"xoxb-1"}) as slack:
        env = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-revoked", "SLACK_API_URL": slack.base_url}
        with in_process_cli(monkeypatch, tmp_path, {"DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}", **env}):
            returncode = main(["run"])
    assert returncode == 2
    _assert_one_clear_error_line(capsys.readouterr().err, "SLACK_APP_TOKEN was not accepted by Slack")


def test_routine_scheduler_and_client_lines_are_not_logged(capsys: pytest.CaptureFixture[str]) -> None:
    import logging

    from bot.logs import configure

    configure("text")
    try:
        logging.getLogger("apscheduler.executors.default").info('Job "Scheduler._check" executed successfully')
        logging.getLogger("apscheduler.scheduler").warning(
            'Execution of job "Scheduler._deliver (trigger: interval[0:00:05])" skipped: maximum number of running '
            "instances reached (1)"
        )
        logging.getLogger("slack_bolt.App").warning("As you gave `client` as well, `token` will be unused.")
        logging.getLogger("bot.scheduler").info("delivery: DeliveryReport(sent=1, retried=0, failed=0)")
        logging.getLogger("apscheduler.scheduler").warning("Run time of job was missed by 0:10:00")
    finally:
        logging.getLogger().handlers.clear()
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2 and "delivery: DeliveryReport(sent=1" in lines[0] and "missed by" in lines[1], lines
