"""Ticks: missed-milestone alerts (once, ever), digests instead of floods, health updates, band drops, buttons."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event

from sandbox.payloads import ALICE, BOB, CHANNEL
from tests.support.answers import complete_step3
from tests.support.harness import BotHarness
from tests.support.messages import ALERT, BAND_ALERTS, HEALTH_UPDATE, MISSED_DIGEST, outbox_posts

# Acme starts 2026-12-01: "Kickoff held" (day 7) is due 2026-12-08 and overdue from the 9th.
DAY_AFTER_KICKOFF = datetime(2026, 12, 9, 10, 0, tzinfo=UTC)


def _posts(bot: BotHarness, channel: str = CHANNEL) -> list[dict]:
    return [c.args for c in bot.fake.calls_to("chat.postMessage") if c.args.get("channel") == channel]


def _alerts(bot: BotHarness, channel: str = CHANNEL) -> list[dict]:
    return outbox_posts(bot.channel_messages(channel), ALERT)


@pytest.fixture
def acme(bot: BotHarness) -> BotHarness:
    complete_step3(bot)
    bot.command('customer add "Acme Corp" start=2026-12-01 owner=<@U0BOB0002|bob>')
    return bot


def test_an_overdue_milestone_alerts_exactly_once(acme: BotHarness, fake, database_url: str) -> None:
    bot = acme
    bot.tick(datetime(2026, 12, 8, 22, 0, tzinfo=UTC))  # still the 8th in Berlin? no: 23:00, the 8th: not overdue
    assert _alerts(bot) == []
    report = bot.tick(DAY_AFTER_KICKOFF)
    assert report.check.missed == 1 and report.delivery.sent >= 1
    alerts = _alerts(bot)
    assert len(alerts) == 1
    text = str(alerts[0]["blocks"])
    for words in ("*Acme Corp* missed milestone 1 “Kickoff held”", "Due 2026-12-08", "1 day overdue", f"<@{BOB}>",
                  "CSM calls the sponsor within two business days"):  # fmt: skip
        assert words in text, words
    labels = [e["text"]["text"] for b in alerts[0]["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert labels == ["Mark done", "Extend deadline", "Acknowledge"]
    assert alerts[0]["metadata"]["event_payload"]["key"].startswith("alert:")

    bot.tick(DAY_AFTER_KICKOFF)
    bot.tick(datetime(2026, 12, 10, 10, 0, tzinfo=UTC))
    # A restart: a new process on the same database.
    from tests.support.harness import BotHarness as Harness

    restarted = Harness(fake, database_url, clock=bot.clock, migrate=False, over_http=False)
    try:
        restarted.tick(datetime(2026, 12, 11, 10, 0, tzinfo=UTC))
    finally:
        restarted.close()
    assert len(_alerts(bot)) == 1


def _labels(message: dict[str, Any]) -> list[str]:
    return [e["text"]["text"] for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]]


def test_mark_done_from_the_alert(acme: BotHarness) -> None:
    bot = acme
    bot.tick(DAY_AFTER_KICKOFF)
    alert = _alerts(bot)[0]
    bot.click(alert, "alert_done")
    form = bot.last_view()  # Mark done asks on which day, today unless someone says otherwise
    day = next(b for b in form["blocks"] if b.get("block_id") == "done_on")["element"]
    assert day["type"] == "datepicker" and day["initial_date"] == "2026-12-09"
    refused = bot.submit(form, {"done_on": "2026-12-10"}).json()
    assert refused["response_action"] == "errors" and "in the future" in refused["errors"]["done_on"]
    assert bot.submit(form, {"done_on": "2026-12-09"}).body == ""
    updated = bot.fake.message(CHANNEL, alert["ts"])
    text = str(updated["blocks"])
    assert "Marked done by <@U0ALICE01> on 2026-12-09" in text
    assert not any(b["type"] == "actions" for b in updated["blocks"])
    listing = bot.command("customer list").json()["text"]
    assert "overdue" not in listing
    again = bot.click(alert, "alert_done")
    assert again.status == 200 and "already done" in bot.fake.responses[-1]["text"]


def test_acknowledge_records_who(acme: BotHarness) -> None:
    bot = acme
    bot.tick(DAY_AFTER_KICKOFF)
    alert = _alerts(bot)[0]
    bot.click(alert, "alert_ack", user=BOB)
    updated = bot.fake.message(CHANNEL, alert["ts"])
    assert f"Acknowledged by <@{BOB}>" in str(updated["blocks"])
    # Still actionable: acknowledging is not doing.
    assert _labels(updated) == ["Mark done", "Extend deadline"]
    assert "Due 2026-12-08" in str(updated["blocks"])
    with bot.sessions() as session:
        from storage.models import Alert

        assert session.query(Alert).one().acknowledged_by == BOB
    bot.click(alert, "alert_ack", user=ALICE)
    assert f"<@{BOB}> had already acknowledged" in bot.fake.responses[-1]["text"]


def test_extend_deadline_from_the_alert(acme: BotHarness) -> None:
    bot = acme
    bot.tick(DAY_AFTER_KICKOFF)
    alert = _alerts(bot)[0]
    bot.click(alert, "alert_extend")
    view = bot.last_view()
    assert view["title"]["text"] == "Extend deadline"
    refused = bot.submit(view, {"new_due": "2026-12-05"}).json()
    assert refused["response_action"] == "errors" and "after the current one" in refused["errors"]["new_due"]
    assert bot.submit(view, {"new_due": "2026-12-20"}).body == ""
    updated = str(bot.fake.message(CHANNEL, alert["ts"])["blocks"])
    assert "Due 2026-12-20" in updated and "Due 2026-12-08" not in updated, "the alert never shows a stale due date"
    assert f"Deadline extended to 2026-12-20 by <@{ALICE}>" in updated
    assert _labels(bot.fake.message(CHANNEL, alert["ts"])) == ["Mark done", "Extend deadline", "Acknowledge"]
    bot.tick(DAY_AFTER_KICKOFF)
    reply = [p for p in _posts(bot) if p.get("thread_ts") == alert["ts"]]
    assert reply and "extended “Kickoff held” for *Acme Corp* to 2026-12-20" in reply[0]["text"]
    with bot.sessions() as session:
        from storage.models import CustomerMilestone

        row = session.query(CustomerMilestone).filter_by(position=0).one()
        assert str(row.due_date) == "2026-12-20" and row.extended_by == ALICE


def test_fifty_overdue_milestones_become_one_digest(bot: BotHarness) -> None:
    complete_step3(bot)
    for n in range(50):
        bot.command(f'customer add "Customer {n:02d}" start=2026-11-01')
    before = len(bot.fake.calls_to("chat.postMessage"))
    report = bot.tick(datetime(2026, 11, 27, 12, 0, tzinfo=UTC))  # Kickoff (due 2026-11-08) is overdue for all 50
    assert report.check.missed == 50
    posts = bot.fake.calls_to("chat.postMessage")[before:]
    top = [p.args for p in posts if not p.args.get("thread_ts")]
    digests = [p for p in top if "50 milestones were missed by 50 customers" in p["text"]]
    assert len(digests) == 1
    assert not any("missed milestone" in p["text"] for p in top), "no alert outside the digest"
    digest_message = outbox_posts(bot.channel_messages(), MISSED_DIGEST)[0]
    thread = [p.args for p in posts if p.args.get("thread_ts") == digest_message["ts"]]
    assert len(thread) == 3  # 20 + 20 + 10 alerts, each with its buttons
    assert sum(str(p["blocks"]).count("alert_done") for p in thread) == 50


def test_a_digest_groups_alerts_by_customer_most_overdue_first_and_names_them(bot: BotHarness) -> None:
    complete_step3(bot)
    for name in ("Acme", "Beta", "Gamma", "Delta"):
        bot.command(f'customer add "{name}" start=2026-11-01')  # Kickoff overdue
    bot.command('customer add "Zeta" start=2026-10-01')  # three milestones overdue, the first by 50 days
    before = len(bot.fake.calls_to("chat.postMessage"))
    bot.tick(datetime(2026, 11, 27, 12, 0, tzinfo=UTC))
    posts = [p.args for p in bot.fake.calls_to("chat.postMessage")[before:]]
    (digest,) = outbox_posts(bot.channel_messages(), MISSED_DIGEST)
    assert "7 milestones were missed by 5 customers" in digest["text"]
    assert "Zeta (3), Acme, Beta, Delta, Gamma" in str(digest["blocks"])
    (part,) = [p for p in posts if p.get("thread_ts") == digest["ts"]]
    order = [b["text"]["text"].split("*")[1] for b in part["blocks"] if b["type"] == "section"]
    assert order == ["Zeta", "Zeta", "Zeta", "Acme", "Beta", "Delta", "Gamma"]


def test_a_customer_without_signals_has_no_data_yet_not_a_critical_zero(acme: BotHarness) -> None:
    bot = acme
    bot.tick(DAY_AFTER_KICKOFF)  # Kickoff missed, and nobody has recorded a signal
    (update,) = outbox_posts(bot.channel_messages(), HEALTH_UPDATE)
    text = str(update["blocks"])
    assert "Critical: 0" in text and "No data yet: 1" in text and "0.0" not in text
    assert outbox_posts(bot.channel_messages(), BAND_ALERTS) == []
    assert "no data yet" in bot.command("customer list").json()["text"]
    bot.command('signal "Acme Corp" adoption=20 engagement=30 tickets=40 nps=10')
    assert "Critical" in bot.command("customer list").json()["text"]


def test_an_alert_without_an_owner_mentions_the_monitors(bot: BotHarness) -> None:
    complete_step3(bot)
    bot.command('customer add "Acme Corp" start=2026-12-01')
    bot.tick(DAY_AFTER_KICKOFF)
    text = str(_alerts(bot)[0]["blocks"])
    assert f"no owner set · monitors <@{ALICE}> <@{BOB}>" in text


def test_weekly_health_update(acme: BotHarness) -> None:
    bot = acme
    bot.command('customer add "Globex" start=2026-12-01')
    bot.command('signal "Acme Corp" adoption=20 engagement=30 tickets=40 nps=10')
    bot.command('signal "Globex" adoption=90 engagement=80 tickets=90 nps=95')
    # Weekly updates go out on Mondays at 09:00 Europe/Berlin (08:00 UTC in winter): Monday 2026-11-30.
    assert bot.tick(datetime(2026, 11, 30, 7, 59, tzinfo=UTC)).check.health_updates == 0
    report = bot.tick(datetime(2026, 11, 30, 8, 0, tzinfo=UTC))
    assert report.check.health_updates == 1 and report.check.scored == 2
    digest = outbox_posts(bot.channel_messages(), HEALTH_UPDATE)[0]
    text = str(digest["blocks"])
    assert "*2 customers* · Healthy: 1 · At-risk: 0 · Critical: 1" in text
    assert "*Acme Corp* 24.4" in text and "weakest: NPS 10 · Feature adoption 20" in text
    assert "Critical response protocol:* Escalate to the CS manager the same day" in text
    assert f"<@{ALICE}> <@{BOB}>" in text and "every Monday at 09:00 (Europe/Berlin)" in text
    assert bot.tick(datetime(2026, 11, 30, 8, 0, tzinfo=UTC)).check.health_updates == 0
    assert bot.tick(datetime(2026, 12, 3, 8, 0, tzinfo=UTC)).check.health_updates == 0
    assert bot.tick(datetime(2026, 12, 7, 8, 0, tzinfo=UTC)).check.health_updates == 1


def test_a_band_drop_between_updates_alerts_at_the_next_check(acme: BotHarness) -> None:
    bot = acme
    bot.command('signal "Acme Corp" adoption=90 engagement=90 tickets=90 nps=90')
    bot.tick(datetime(2026, 11, 30, 8, 0, tzinfo=UTC))  # the update reports Acme as healthy
    bot.command('signal "Acme Corp" adoption=10 engagement=10')
    assert not any("dropped" in m["text"] for m in bot.channel_messages())
    report = bot.tick(datetime(2026, 11, 30, 9, 0, tzinfo=UTC))
    assert report.check.band_alerts == 1
    alert = outbox_posts(bot.channel_messages(), BAND_ALERTS)[0]
    text = str(alert["blocks"])
    assert "*Acme Corp* is now *Critical* (Healthy → Critical)" in text
    assert "Escalate to the CS manager the same day" in text and f"<@{BOB}>" in text
    assert bot.tick(datetime(2026, 11, 30, 10, 0, tzinfo=UTC)).check.band_alerts == 0


def test_alerts_go_to_the_alert_channel(acme: BotHarness) -> None:
    bot = acme
    bot.fake.add_channel("C0ALERTS1", name="cs-alerts")
    bot.command("alerts here plan=<#C0PLAN001|onboarding-acme>", channel="C0ALERTS1", channel_name="cs-alerts")
    bot.tick(DAY_AFTER_KICKOFF)
    assert _alerts(bot, "C0ALERTS1")
    assert _alerts(bot) == []


def test_editing_the_plan_moves_future_deadlines_only(acme: BotHarness) -> None:
    from tests.support.answers import edit_milestone

    bot = acme
    bot.clock.set(datetime(2026, 12, 10, 10, 0, tzinfo=UTC))  # Kickoff (due 12-08) has passed
    edit_milestone(bot, 0, {"milestones.0.timeline_days": 3})
    edit_milestone(bot, 1, {"milestones.1.timeline_days": 40})
    with bot.sessions() as session:
        from storage.models import CustomerMilestone

        due = {r.position: str(r.due_date) for r in session.query(CustomerMilestone)}
    assert due[0] == "2026-12-08"  # past: kept
    assert due[1] == "2027-01-10"  # future: start + 40 days


def test_the_update_lists_every_flagged_customer_in_its_thread(bot: BotHarness) -> None:
    complete_step3(bot)
    for n in range(20):
        bot.command(f'customer add "Critical {n:02d}" start=2026-12-01')
        bot.command(f'signal "Critical {n:02d}" adoption={n} engagement=10 tickets=10 nps=10')
    bot.tick(datetime(2026, 11, 30, 8, 0, tzinfo=UTC))
    digest = outbox_posts(bot.channel_messages(), HEALTH_UPDATE)[0]
    assert "…and 5 more, listed in this message's thread" in str(digest["blocks"])
    thread = [c.args for c in bot.fake.calls_to("chat.postMessage") if c.args.get("thread_ts") == digest["ts"]]
    assert len(thread) == 1 and thread[0]["text"] == "At-risk and critical customers (1–20 of 20)"
    listed = str(thread[0]["blocks"])
    assert all(f"*Critical {n:02d}*" in listed for n in range(20))
    assert "• Critical: *Critical 00*" in listed and "weakest:" in listed


def test_deadlines_follow_an_edit_whose_rescheduling_a_crash_interrupted(
    acme: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The save is acknowledged before customers' deadlines follow; if the process dies in between, the next
    scheduler check catches up, once."""
    from bot import customers
    from storage.models import CustomerMilestone
    from tests.support.answers import edit_milestone

    bot = acme
    bot.clock.set(datetime(2026, 12, 10, 10, 0, tzinfo=UTC))
    real = customers.follow_milestones

    def crash(*args: object, **kwargs: object) -> bool:
        raise SystemExit("killed after the ack")  # what a crash looks like to the code after it: nothing more runs

    monkeypatch.setattr(customers, "follow_milestones", crash)
    assert edit_milestone(bot, 1, {"milestones.1.timeline_days": 40}).status == 200

    def due() -> dict[int, str]:
        with bot.sessions() as session:
            return {r.position: str(r.due_date) for r in session.query(CustomerMilestone)}

    assert due()[1] == "2026-12-31"  # saved, but the customer still has the old deadline (start + 30)
    monkeypatch.setattr(customers, "follow_milestones", real)
    bot.tick(datetime(2026, 12, 10, 10, 5, tzinfo=UTC))
    assert due()[1] == "2027-01-10"  # the check caught up: start + 40
    with bot.sessions() as session:
        from storage.models import JobRun

        assert [r.job for r in session.query(JobRun) if r.job.startswith("reschedule:")] == ["reschedule:1"]


def test_an_alert_message_is_rewritten_as_each_alert_stands() -> None:
    from datetime import date

    from bot.blocks.alerts import AlertStatus, MissedMilestone, missed_thread_part, refreshed_alerts

    first = MissedMilestone(1, "Acme Corp", 0, "Kickoff held", date(2026, 12, 8), 1, None)
    second = MissedMilestone(2, "Globex", 0, "Kickoff held", date(2026, 12, 8), 1, BOB)
    blocks = missed_thread_part([first, second])["blocks"]
    acked = AlertStatus(acknowledged_by=ALICE, acknowledged_at=datetime(2026, 12, 9, 10, 0, tzinfo=UTC))
    done = AlertStatus(completed_on=date(2026, 12, 9), completed_by=BOB)
    extended = MissedMilestone(2, "Globex", 0, "Kickoff held", date(2026, 12, 20), -11, BOB)
    rewritten = refreshed_alerts(blocks, {1: (first, acked), 2: (extended, done)})
    text = str(rewritten)
    assert f"Acknowledged by <@{ALICE}> <!date^" in text and "|2026-12-09 10:00 UTC>" in text
    assert f"Marked done by <@{BOB}> on 2026-12-09" in text and "Due 2026-12-20 · done" in text
    assert _labels({"blocks": rewritten}) == ["Mark done", "Extend deadline"]  # the done one has none left

    # A message posted before alert texts had block ids: the status takes the buttons' place.
    legacy = [{k: v for k, v in b.items() if k != "block_id" or b["type"] == "actions"} for b in blocks]
    rewritten = refreshed_alerts(legacy, {1: (first, acked)})
    assert [b["type"] for b in rewritten] == ["section", "context", "section", "actions"]
    assert "Acknowledged by" in str(rewritten[1])


def test_an_update_where_nothing_changed_writes_no_customer_row(acme: BotHarness) -> None:
    bot = acme
    bot.command('customer add "Globex" start=2026-12-01')
    bot.command('signal "Acme Corp" adoption=20 engagement=30 tickets=40 nps=10')
    first = bot.tick(datetime(2026, 11, 30, 8, 0, tzinfo=UTC))
    assert first.check.health_updates == 1 and first.check.scored == 2
    writes: list[tuple[str, int]] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if re.match(r"\s*(UPDATE|INSERT INTO|DELETE FROM)\s+(customers|health_scores|customer_milestones)\b",
                    statement, re.IGNORECASE):  # fmt: skip
            writes.append((statement.split()[0], cursor.rowcount))

    # A week later: no deadline passed (Kickoff is due 12-08), no value went stale (14-day window), nothing edited.
    event.listen(bot.engine, "after_cursor_execute", record)
    try:
        second = bot.tick(datetime(2026, 12, 7, 8, 0, tzinfo=UTC))
    finally:
        event.remove(bot.engine, "after_cursor_execute", record)
    assert second.check.health_updates == 1 and second.check.scored == 0
    assert [write for write in writes if write[1]] == []  # statements that matched no row wrote nothing
    # The update still reports every customer, from the stored scores, explained from the kept breakdowns.
    digests = [str(d["blocks"]) for d in outbox_posts(bot.channel_messages(), HEALTH_UPDATE)]
    assert len(digests) == 2
    for text in digests:
        assert "*2 customers* · Healthy: 0 · At-risk: 0 · Critical: 1 · No data yet: 1" in text
        assert "*Acme Corp* 24.4" in text and "weakest: NPS 10 · Feature adoption 20" in text


def test_extending_a_missed_deadline_rescores_the_customer_at_once(acme: BotHarness) -> None:
    from storage.models import Customer, HealthScore

    bot = acme
    bot.command('signal "Acme Corp" adoption=80 engagement=80 tickets=80 nps=80')
    bot.tick(DAY_AFTER_KICKOFF)  # Kickoff (due 12-08) missed: it costs points and counts against completion
    with bot.sessions() as session:
        missed = session.query(Customer).one().score
        kept = session.query(HealthScore).count()
    bot.click(_alerts(bot)[0], "alert_extend")
    assert bot.submit(bot.last_view(), {"new_due": "2026-12-20"}).body == ""
    with bot.sessions() as session:
        customer = session.query(Customer).one()
        assert session.query(HealthScore).count() == kept + 1  # the new score is kept, like every other write's
    # The health update rescores only customers whose values changed since, so the score cannot wait for it.
    assert customer.score is not None and missed is not None and customer.score > missed
