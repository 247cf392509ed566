"""`onboarding-bot` command line: run, tick, export, import, token create, sandbox, db upgrade."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from slack_bolt.error import BoltError
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.settings import ConfigError, Settings, load_settings
from storage.db import DatabaseError

if TYPE_CHECKING:
    from steps.imports import ImportReport
    from storage.db import Session
    from storage.records import PlanRecord

# Exit statuses of `import`: every row applied; some rows rejected (the others applied); nothing applied.
IMPORTED, SOME_REJECTED, REFUSED = 0, 1, 2
CLI_USER = "cli"  # created_by / recorded_by of what the command line writes: no Slack user typed it
PROGRESS_AFTER_S = 0.5  # a bar only for files long enough to wait for


def _stop(signum: int, frame: object) -> None:
    raise SystemExit(0)


def _run(settings: Settings) -> int:
    from bot.api import api_app
    from bot.app import create_app
    from bot.scheduler import Scheduler
    from bot.server import serve, wsgi_app
    from bot.services import Services
    from bot.slack_api import make_client
    from storage.db import make_engine, make_session_factory, upgrade

    settings.check_runnable()
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    services = Services(make_session_factory(engine))
    client = make_client(settings.slack_bot_token, settings.slack_api_url)
    scheduler = Scheduler(services, client)
    services = replace(services, wake_delivery=scheduler.wake)
    try:
        with _quiet_slack_client():
            app = create_app(client=client, services=services, signing_secret=settings.slack_signing_secret)
            if settings.socket_mode:
                _check_app_token(client, settings)
    except BoltError as exc:
        raise ConfigError(f"SLACK_BOT_TOKEN was not accepted by Slack at {settings.slack_api_url}: {exc}") from exc
    except OSError as exc:
        raise ConfigError(f"Slack could not be reached at SLACK_API_URL ({settings.slack_api_url}): {exc}") from exc
    scheduler.start()
    # A deployment stops the bot with SIGTERM. Stopping as on Ctrl-C lets waitress finish the requests in hand and
    # the scheduler its job; then, at exit, Python joins Bolt's listener pool after it has run everything queued
    # (concurrent.futures). So the work of requests already acked, which Slack will not send again, is done first.
    signal.signal(signal.SIGTERM, _stop)
    try:
        if settings.socket_mode:
            from slack_bolt.adapter.socket_mode import SocketModeHandler

            SocketModeHandler(app, app_token=settings.slack_app_token, web_client=client).start()
        else:
            api = api_app(services, rate_per_minute=settings.api_rate_limit)
            serve(wsgi_app(app, engine, api=api), settings.port, settings.host)
    finally:
        scheduler.shutdown()
    return 0


@contextmanager
def _quiet_slack_client() -> Iterator[None]:
    """slack_sdk logs every failed try of the start-up checks; the one line `run` prints says what failed."""
    sdk = logging.getLogger("slack_sdk")
    level = sdk.level
    sdk.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        sdk.setLevel(level)


def _check_app_token(client: WebClient, settings: Settings) -> None:
    """Ask Slack for a Socket Mode URL once before starting, so a refused token is one line, not a log trace."""
    try:
        client.apps_connections_open(app_token=settings.slack_app_token or "")
    except SlackApiError as exc:
        error = exc.response.get("error") if exc.response is not None else str(exc)
        raise ConfigError(f"SLACK_APP_TOKEN was not accepted by Slack ({error}): check App-Level Tokens.") from exc


def _tick(settings: Settings, at: str) -> int:
    from bot.scheduler import tick
    from bot.services import Services
    from bot.slack_api import make_client
    from storage.db import make_engine, make_session_factory, upgrade

    try:
        now = datetime.fromisoformat(at)
    except ValueError:
        raise ConfigError(f"--now {at!r} is not an ISO-8601 instant such as 2026-12-01T09:00:00Z") from None
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)  # documented: an instant without an offset is UTC
    if not settings.slack_bot_token or not settings.slack_bot_token.startswith("xoxb-"):
        raise ConfigError("SLACK_BOT_TOKEN is required for tick (it delivers what is due): a bot token, xoxb-...")
    upgrade(settings.database_url)
    services = Services(make_session_factory(make_engine(settings.database_url)), clock=lambda: now)
    report = tick(services, make_client(settings.slack_bot_token, settings.slack_api_url), now)
    print(report.summary())
    return 0


def _export(settings: Settings, channel: str, version: int | None, team: str | None) -> int:
    from bot.documents import readable_document
    from storage import repo
    from storage.db import make_engine, make_session_factory, transaction

    with transaction(make_session_factory(make_engine(settings.database_url))) as session:
        plan = _plan_in_channel(session, channel, team)
        if plan is None:
            return 1
        document = (
            repo.document_version(session, plan, version)
            if version is not None
            else repo.latest_document(session, plan)
        )
        if document is None:
            which = f"version {version}" if version is not None else "saved document"
            print(f"error: the plan for channel {channel} has no {which}", file=sys.stderr)
            return 1
        # People by the names the bot last read from Slack: export runs without reaching Slack.
        sys.stdout.write(readable_document(session, plan.team_id, document.markdown))
    return 0


def _plan_in_channel(session: Session, channel: str, team: str | None) -> PlanRecord | None:
    """The one plan of ``channel`` (in ``team``), or None after saying on stderr why there is not one."""
    from storage import repo

    candidates = [p for p in repo.plans_in_channel(session, channel) if team is None or p.team_id == team]
    if not candidates:
        print(f"error: no plan for channel {channel}", file=sys.stderr)
        return None
    if len(candidates) > 1:
        teams = ", ".join(p.team_id for p in candidates)
        print(f"error: channel {channel} has plans in several workspaces ({teams}); add --team", file=sys.stderr)
        return None
    return candidates[0]


def _import(settings: Settings, args: argparse.Namespace) -> int:
    """Apply a CSV file's valid rows to a channel's plan in one transaction, and report every rejected row."""
    from bot.customers import require_runnable
    from bot.imports import import_customers, import_signals
    from steps.csv_rows import check_size, iter_csv
    from steps.errors import UserError
    from steps.imports import Kind
    from storage.db import make_engine, make_session_factory, transaction

    kind, path = Kind(args.kind), Path(args.file)
    try:
        check_size(path.stat().st_size)  # before reading it: a huge file is refused without loading it
        content = path.read_bytes()
        csv_file = iter_csv(kind, content)  # rows read as they are checked: never the whole file as dicts
    except OSError as exc:
        print(f"error: cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
        return REFUSED
    except UserError as exc:
        _refused(path, exc.plain())
        return REFUSED
    now = datetime.now(UTC)
    try:
        # One transaction for the whole file: an interrupted or failed run commits nothing.
        with transaction(make_session_factory(make_engine(settings.database_url))) as session:
            plan = _plan_in_channel(session, args.channel, args.team)
            if plan is None:
                return REFUSED
            ready = require_runnable(session, plan)
            with _progress(content.count(b"\n")) as rows:  # lines: about the rows, for the bar's total
                numbered = rows(csv_file.rows)
                if kind is Kind.CUSTOMERS:
                    report = import_customers(session, ready, numbered, user_id=CLI_USER, now=now, dry_run=args.dry_run)
                else:
                    source = f"csv:{path.name}"[:120]  # signal_readings.source is 120 characters
                    report = import_signals(
                        session, ready, numbered, source=source, user_id=CLI_USER, now=now, dry_run=args.dry_run
                    )
    except UserError as exc:  # no runnable plan, or a malformed line found while reading the rows
        _refused(path, exc.plain())
        return REFUSED
    except KeyboardInterrupt:
        print("interrupted: nothing was imported", file=sys.stderr)
        return 130  # the shell's status for Ctrl-C
    _print_report(report, path.name)
    if args.rejected:
        _write_rejected(report, Path(args.rejected))
    return SOME_REJECTED if report.rejected else IMPORTED


def _refused(path: Path, reason: str) -> None:
    said = "nothing was imported" in reason.lower()
    print(f"error: {path.name}: {reason}" + ("" if said else " Nothing was imported."), file=sys.stderr)


def _print_report(report: ImportReport, name: str) -> None:
    verb = "would be (dry run, nothing was changed)" if report.dry_run else "imported"
    print(f"{name}: {report.kind.value} {verb}: {report.counts}")
    for rejected in report.rejected:
        print(f"  row {rejected.row}, {rejected.column}: {rejected.reason}")


def _write_rejected(report: ImportReport, path: Path) -> None:
    from steps.csv_rows import rejected_csv

    path.write_text(rejected_csv([(r.row, r.column, r.reason) for r in report.rejected]), encoding="utf-8")


@contextmanager
def _progress(total: int) -> Iterator[Any]:
    """Wraps the rows in a progress bar on stderr, shown only on a terminal and once a file takes a while.

    The rows are read once, while they are checked; then the bar says the valid ones are being saved (and the
    changed customers rescored) until the import returns.
    """
    from tqdm import tqdm

    bar = tqdm(
        total=total, unit="row", desc="checking", file=sys.stderr, disable=not sys.stderr.isatty(),
        delay=PROGRESS_AFTER_S, unit_scale=True, leave=False,
    )  # fmt: skip

    def rows(items: Iterable[tuple[int, dict[str, str | None]]]) -> Iterator[tuple[int, dict[str, str | None]]]:
        step, count = 1000, 0  # one bar update per thousand rows: a call per row would cost more than the bar is worth
        for item in items:
            yield item
            count += 1
            if count == step:
                bar.update(count)
                count = 0
        bar.update(count)
        bar.total = bar.n  # the line count was an estimate (a quoted cell may hold a newline)
        bar.set_description("saving")

    try:
        yield rows
    finally:
        bar.close()


def _token_create(settings: Settings, channel: str, name: str, team: str | None) -> int:
    from bot import tokens
    from steps.api import CLI_CREATOR
    from steps.errors import UserError
    from storage.db import make_engine, make_session_factory, transaction

    with transaction(make_session_factory(make_engine(settings.database_url))) as session:
        plan = _plan_in_channel(session, channel, team)
        if plan is None:
            return 1
        try:
            created = tokens.create_token(session, plan, name, CLI_CREATOR, datetime.now(UTC))
        except UserError as exc:
            print(f"error: {exc.plain()}", file=sys.stderr)
            return 1
    # The token alone on stdout, for a script to capture; it is shown this once and not kept.
    print(f"API token “{name}” for the plan {created.plan.name} ({channel}); it is shown only now:", file=sys.stderr)
    print(created.token)
    return 0


def _sandbox(settings: Settings, args: argparse.Namespace) -> int:
    # The only place the bot's code names the sandbox: this command starts it. The sandbox then runs
    # `onboarding-bot run` as a process of its own and talks to it over HTTP, as Slack would.
    from pathlib import Path

    from sandbox.run import Options, main

    port = args.port if args.port is not None else settings.port
    return main(Options(port=port, host=args.host, reset=args.reset, directory=Path(args.dir)))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="onboarding-bot", description="Slack bot for customer onboarding plans.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="run the bot and its scheduler (Socket Mode when SLACK_APP_TOKEN is set, else HTTP)")
    tick = sub.add_parser("tick", help="run once everything the scheduler would have run by --now, then exit")
    tick.add_argument("--now", required=True, help="ISO-8601 instant, e.g. 2026-12-01T09:00:00Z (no offset: UTC)")
    export = sub.add_parser("export", help="print a channel's plan document")
    export.add_argument("--channel", required=True, help="Slack channel id, e.g. C0123456789")
    export.add_argument("--version", type=int, help="document version (default: the latest)")
    export.add_argument("--team", help="Slack team id, when the channel id exists in several workspaces")
    imports = sub.add_parser("import", help="import customers or signals from a CSV file into a channel's plan")
    imports.add_argument("kind", choices=["customers", "signals"], help="what the file holds")
    imports.add_argument("file", help="the CSV file (UTF-8, comma or semicolon; see the README for its columns)")
    imports.add_argument("--channel", required=True, help="the plan's Slack channel id, e.g. C0123456789")
    imports.add_argument("--team", help="Slack team id, when the channel id exists in several workspaces")
    imports.add_argument("--dry-run", action="store_true", help="check and count everything, change nothing")
    imports.add_argument("--rejected", metavar="FILE", help="also write the rejected rows to FILE as CSV")
    sandbox = sub.add_parser("sandbox", help="try the bot without Slack: a local Slack in the browser (no tokens)")
    sandbox.add_argument("--port", type=int, help="port of the page (default: PORT, else 3000)")
    sandbox.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine)")
    sandbox.add_argument("--reset", action="store_true", help="start from an empty workspace and database")
    sandbox.add_argument("--dir", default=".sandbox", help="where the sandbox keeps its files (default .sandbox)")
    token = sub.add_parser("token", help="API tokens of a plan")
    token_sub = token.add_subparsers(dest="token_command", required=True)
    token_create = token_sub.add_parser("create", help="create an API token for a channel's plan; prints it once")
    token_create.add_argument("--channel", required=True, help="Slack channel id of the plan, e.g. C0123456789")
    token_create.add_argument("--name", required=True, help="the token's name, e.g. warehouse-nightly")
    token_create.add_argument("--team", help="Slack team id, when the channel id exists in several workspaces")
    db = sub.add_parser("db", help="database commands")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="apply database migrations")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
        from bot.logs import configure

        configure(settings.log_format)
        if args.command == "run":
            return _run(settings)
        if args.command == "tick":
            return _tick(settings, args.now)
        if args.command == "sandbox":
            return _sandbox(settings, args)
        if args.command == "export":
            return _export(settings, args.channel, args.version, args.team)
        if args.command == "import":
            return _import(settings, args)
        if args.command == "token":
            return _token_create(settings, args.channel, args.name, args.team)
        from storage.db import upgrade

        upgrade(settings.database_url)
        print("database is up to date")
        return 0
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except DatabaseError as exc:
        print(f"error: database problem ({exc.orig}); is DATABASE_URL right, and has `onboarding-bot db upgrade` run?",
              file=sys.stderr)  # fmt: skip
        return REFUSED if args.command == "import" else 1


if __name__ == "__main__":
    sys.exit(main())
