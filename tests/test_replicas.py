"""Several `onboarding-bot run` processes on one PostgreSQL database never alert twice."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from bot.jobs import check
from bot.services import Services
from storage.db import make_engine, make_session_factory
from tests.support.answers import complete_step3
from tests.support.harness import BotHarness


def test_concurrent_checks_alert_each_milestone_once(bot: BotHarness, database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("replicas share a PostgreSQL database; SQLite is for a single process")
    complete_step3(bot)
    for n in range(30):
        bot.command(f'customer add "Customer {n:02d}" start=2026-11-01')
    now = datetime(2026, 11, 30, 8, 30, tzinfo=UTC)  # milestones overdue and the weekly update due
    replicas = [Services(make_session_factory(make_engine(database_url)), clock=lambda: now) for _ in range(4)]
    barrier = threading.Barrier(len(replicas))
    reports = []
    errors: list[BaseException] = []

    def run(services: Services) -> None:
        try:
            barrier.wait()
            reports.append(check(services, now))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(s,)) for s in replicas]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert sum(r.missed for r in reports) == 30  # 30 customers × milestone 1 (due 2026-11-08)
    assert sum(r.health_updates for r in reports) == 1
    with bot.sessions() as session:
        from storage.models import Alert, OutboxMessage

        assert session.query(Alert).filter_by(kind="missed").count() == 30
        items = session.query(OutboxMessage).all()
        assert len({m.key for m in items}) == len(items)
        assert sum(m.key.startswith("health:") and m.parent_id is None for m in items) == 1
    bot.tick(now)
    texts = [c.args["text"] for c in bot.fake.calls_to("chat.postMessage")]
    assert sum(t.startswith("Health update") for t in texts) == 1
    alerted = sum(str(c.args.get("blocks")).count("alert_done") for c in bot.fake.calls_to("chat.postMessage"))
    assert alerted == 30
