"""APScheduler inside `onboarding-bot run`, and the one-shot `tick` that cron and tests use.

One check every few minutes covers every plan: it sends missed-milestone alerts, runs each plan's
health update when its cadence (in its own time zone) says one is due, and alerts on band drops.
Each of those is idempotent per instant, so a check that runs late, twice, or on two replicas
changes nothing the first one did not. The outbox is delivered every few seconds, and at once
when a listener has just queued something; each delivery first takes over the claims of a process
of this host that died (a `run` killed and restarted), so what it was sending goes out within
seconds, looked up first (``bot.delivery``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from slack_sdk import WebClient

from bot.delivery import Deliverer, DeliveryReport
from bot.jobs import CheckReport, check
from bot.services import Services

logger = logging.getLogger(__name__)

CHECK_EVERY = timedelta(minutes=5)
DELIVER_EVERY = timedelta(seconds=5)


@dataclass
class TickReport:
    check: CheckReport
    delivery: DeliveryReport

    def summary(self) -> str:
        c, d = self.check, self.delivery
        return (
            f"checked {len(c.plans)} plan(s): {c.missed} missed-milestone alert(s), {c.health_updates} health "
            f"update(s) ({c.scored} customers scored), {c.band_alerts} band alert(s); delivered {d.sent}, "
            f"{d.retried} waiting to retry, {d.failed} failed"
        )


def tick(
    services: Services, client: WebClient, now: datetime, *, sleep: Callable[[float], None] = time.sleep
) -> TickReport:
    """Everything the scheduler would have run by ``now``, once.

    Delivery's clock starts at ``now`` and runs on: pacing between posts needs time to pass. A ``sleep`` that
    returns at once (tests, benchmarks) still moves this clock by the time it was asked to wait.
    """
    report = check(services, now)
    started = time.monotonic()
    pretended = 0.0

    def pacing_sleep(seconds: float) -> None:
        nonlocal pretended
        before = time.monotonic()
        sleep(seconds)
        pretended += max(0.0, seconds - (time.monotonic() - before))

    def clock() -> datetime:
        return now + timedelta(seconds=time.monotonic() - started + pretended)

    delivery = Deliverer(services.sessions, client, clock=clock, sleep=pacing_sleep).deliver_due()
    return TickReport(report, delivery)


class Scheduler:
    def __init__(self, services: Services, client: WebClient) -> None:
        self.services = services
        self.deliverer = Deliverer(services.sessions, client, clock=services.clock)
        self.scheduler = BackgroundScheduler(
            timezone=UTC, job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 600}
        )

    def _check(self) -> None:
        report = check(self.services, self.services.clock())
        if report.missed or report.health_updates or report.band_alerts:
            logger.info("check: %s", report)
        self.wake()

    def _deliver(self) -> None:
        report = self.deliverer.deliver_due()
        if report.sent or report.failed:
            logger.info("delivery: %s", report)

    def start(self) -> None:
        now = datetime.now(UTC)
        self.scheduler.add_job(self._check, IntervalTrigger(seconds=CHECK_EVERY.total_seconds()), id="check",
                               next_run_time=now)  # fmt: skip
        self.scheduler.add_job(self._deliver, IntervalTrigger(seconds=DELIVER_EVERY.total_seconds()), id="deliver",
                               next_run_time=now)  # fmt: skip
        self.scheduler.start()

    def wake(self) -> None:
        """Deliver now rather than at the next interval (after a listener queued a post)."""
        if self.scheduler.running:
            self.scheduler.modify_job("deliver", next_run_time=datetime.now(UTC))

    def shutdown(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)
