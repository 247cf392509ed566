"""Freshness: stale values count as missing, thin data is "insufficient data", and every score says so.

The plan of ``complete_step3`` is weekly (default window 14 days) with weights adoption 40, engagement 30, tickets 10,
NPS 10 and milestones 10; the harness's clock starts on Friday 2026-11-27 10:00 UTC, and the weekly update goes out
on Mondays at 08:00 UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from sandbox.payloads import ALICE, CHANNEL, OTHER_TEAM
from tests.support.answers import complete_step3
from tests.support.harness import BotHarness
from tests.support.messages import BAND_ALERTS, HEALTH_UPDATE, outbox_posts

SIGNALLED = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)  # the harness's start
LATER = datetime(2026, 12, 12, 10, 0, tzinfo=UTC)  # 15 days on: what was signalled then is stale
UPDATE = datetime(2026, 12, 14, 8, 0, tzinfo=UTC)  # a Monday update, after LATER


@pytest.fixture
def planned(bot: BotHarness) -> BotHarness:
    complete_step3(bot)
    return bot


def _freshness(bot: BotHarness) -> tuple[dict[str, Any], int | None]:
    from storage.models import Plan

    with bot.sessions() as session:
        plan = session.query(Plan).one()
        return dict(plan.freshness), plan.min_data_share


def _home(bot: BotHarness) -> str:
    bot.event({"type": "app_home_opened", "user": ALICE, "channel": "D0HOME001", "tab": "home"})
    return str(bot.fake.last("views.publish").args["view"]["blocks"])


def test_a_stale_value_counts_as_missing_and_the_reply_says_since_when(planned: BotHarness) -> None:
    bot = planned
    for name in ("Acme Corp", "Globex"):
        bot.command(f'customer add "{name}" start=2026-12-01')
    bot.command('signal "Acme Corp" adoption=80 engagement=20 tickets=90 nps=70')
    bot.clock.set(LATER)
    reply = bot.command('signal "Acme Corp" adoption=85 engagement=30 tickets=90').json()["text"]
    # Globex never had an NPS value: Acme, whose NPS is stale, must score exactly like it.
    reference = bot.command('signal "Globex" adoption=85 engagement=30 tickets=90').json()["text"]
    assert "Stale: NPS 70 observed 2026-11-27 (older than 14 days)" in reply
    assert "leaving out stale values (stale: NPS (observed 2026-11-27))" in reply
    score = reference.split("Health score: ")[1].split("\n")[0]
    assert f"Health score: {score}, leaving out stale values" in reply
    assert "Missing: NPS (no data)" in reference and "Stale" not in reference


def test_too_little_fresh_data_is_insufficient_data_not_a_score(planned: BotHarness) -> None:
    bot = planned
    bot.command('customer add "Acme Corp" start=2026-12-01')
    bot.command('signal "Acme Corp" adoption=80 engagement=20 tickets=90 nps=70')
    bot.clock.set(LATER)
    reply = bot.command('signal "Acme Corp" tickets=50').json()["text"]
    # Fresh: tickets 10 + milestone completion 10 (Kickoff was due on 12-08) = 20% of the weights.
    assert "Health score: *insufficient data*: fresh data covers 20% of the weights; the plan needs 50%" in reply
    for factor in ("Feature adoption 80", "Engagement 20", "NPS 70"):
        assert f"Stale: {factor} observed 2026-11-27 (older than 14 days)" in reply
    assert "Support tickets 50\n" in reply + "\n" and "×" not in reply  # no weighted shares: nothing to weigh
    listing = bot.command("customer list").json()["text"]
    assert "score – (insufficient data)" in listing and "stale: Feature adoption (observed 2026-11-27)" in listing
    done = bot.command('milestone done "Acme Corp" 2').json()["text"]
    assert "*insufficient data*" in done and "Stale: NPS 70 observed 2026-11-27" in done


def test_the_health_update_counts_and_explains_stale_and_insufficient_data(planned: BotHarness) -> None:
    bot = planned
    for name in ("Acme Corp", "Globex", "Initech"):
        bot.command(f'customer add "{name}" start=2026-12-01')
    bot.command('signal "Acme Corp" adoption=80 engagement=20 tickets=90 nps=70')
    bot.command('signal "Initech" adoption=20 engagement=30 tickets=40 nps=10')
    bot.clock.set(LATER)
    bot.command('signal "Globex" adoption=90 engagement=80 tickets=90 nps=95')
    bot.command('signal "Initech" adoption=20 engagement=30 tickets=40')
    report = bot.tick(UPDATE)
    assert report.check.health_updates == 1
    digest = outbox_posts(bot.channel_messages(), HEALTH_UPDATE)[-1]
    text = str(digest["blocks"])
    assert "*3 customers* · Healthy: 0 · At-risk: 1 · Critical: 1 · Insufficient data: 1" in text
    assert ":hourglass: 2 customers with stale or insufficient data" in text
    assert (
        "*Acme Corp* insufficient data (10% of the weights fresh) · stale: Feature adoption (observed 2026-11-27), "
        "Engagement (observed 2026-11-27), Support tickets (observed 2026-11-27), NPS (observed 2026-11-27)"
    ) in text
    assert "*Initech* " in text and "· stale: NPS (observed 2026-11-27)" in text
    assert "Insufficient data: 1" in digest["text"]

    home = _home(bot)
    assert "Healthy 0 · At-risk 1 · Critical 1 · Insufficient data 1" in home
    assert ":hourglass: 2 with stale or insufficient data" in home
    assert "stale: NPS (observed 2026-11-27)" in home


def test_a_band_moved_only_by_staleness_does_not_alert_and_the_tick_notices_it(planned: BotHarness) -> None:
    bot = planned
    bot.command('customer add "Acme Corp" start=2027-01-01')  # no milestone due: only signals count
    # (100×40 + 60×30 + 60×10 + 60×10) / 90 = 77.8: healthy, as the Monday update tells the team.
    bot.command('signal "Acme Corp" adoption=100 engagement=60 tickets=60 nps=60')
    bot.tick(datetime(2026, 11, 30, 8, 0, tzinfo=UTC))
    bot.clock.set(datetime(2026, 12, 5, 10, 0, tzinfo=UTC))
    bot.command('signal "Acme Corp" engagement=60 tickets=60 nps=60')  # adoption stays the 11-27 value
    assert bot.tick(datetime(2026, 12, 11, 9, 0, tzinfo=UTC)).check.gone_stale == 0  # 14 days less an hour old
    # From 12-11 10:00 adoption is stale: without it the score is 60.0, at-risk. That is not news about Acme.
    report = bot.tick(datetime(2026, 12, 11, 10, 5, tzinfo=UTC))
    assert report.check.gone_stale == 1 and report.check.band_alerts == 0
    assert outbox_posts(bot.channel_messages(), BAND_ALERTS) == []
    listing = bot.command("customer list").json()["text"]
    assert "score 60.0 (At-risk)" in listing and "stale: Feature adoption (observed 2026-11-27)" in listing
    # Rescored once: the next check finds nothing new.
    assert bot.tick(datetime(2026, 12, 11, 10, 10, tzinfo=UTC)).check.gone_stale == 0
    # Fresh data that is worse is news: critical, with nothing stale.
    bot.command('signal "Acme Corp" adoption=10 engagement=10')
    assert bot.tick(datetime(2026, 12, 11, 10, 20, tzinfo=UTC)).check.band_alerts == 1
    assert "(At-risk → Critical)" in str(outbox_posts(bot.channel_messages(), BAND_ALERTS)[0]["blocks"])


def test_an_older_observation_arriving_late_does_not_refresh_a_stale_value(planned: BotHarness) -> None:
    from bot import imports
    from bot.customers import runnable
    from storage import repo

    bot = planned
    bot.command('customer add "Acme Corp" start=2026-12-01')
    bot.command('signal "Acme Corp" adoption=80 engagement=20 tickets=90 nps=70')
    bot.clock.set(LATER)
    bot.command('signal "Acme Corp" adoption=80 engagement=20 tickets=90')

    def load(factor: str, value: int, observed: str) -> None:
        with bot.sessions.begin() as session:
            plan = repo.find_plan(session, "T0TEAM001", CHANNEL) or repo.all_plans(session)[0]
            ready = runnable(session, plan)
            assert ready is not None
            row = {"id": "acme-corp", "factor": factor, "value": str(value), "observed_at": observed}
            imports.import_signals(session, ready, [(2, row)], source="csv", user_id=ALICE, now=LATER)

    load("nps", 99, "2026-11-20T09:00:00Z")  # older than the kept 11-27 value: history only
    listing = bot.command("customer list").json()["text"]
    assert "stale: NPS (observed 2026-11-27)" in listing
    load("nps", 40, "2026-12-10T09:00:00Z")  # newer: NPS is fresh again
    listing = bot.command("customer list").json()["text"]
    assert "stale" not in listing


def test_freshness_shows_the_windows_and_sets_them(planned: BotHarness) -> None:
    bot = planned
    shown = bot.command("freshness").json()
    assert shown["response_type"] == "ephemeral"
    text = shown["text"]
    assert "default: two weekly updates, 14 days" in text
    assert "• Feature adoption (`adoption`): 14 days (default)" in text and "• NPS (`nps`): 14 days (default)" in text
    assert "Milestone completion: computed from milestones, never stale" in text
    assert "at least *50%* of the weights (default)" in text

    bot.command('customer add "Acme Corp" start=2026-12-01')
    bot.command('signal "Acme Corp" adoption=80 engagement=20 tickets=90 nps=70')
    bot.clock.set(datetime(2026, 12, 1, 10, 0, tzinfo=UTC))  # 4 days on: fresh under the default windows
    response = bot.command("freshness adoption=3 NPS=3 share=60")
    assert response.body == ""  # acked at once: rescoring a large plan takes a while
    answer = bot.fake.responses[-1]
    assert answer["response_type"] == "ephemeral"
    assert "• Feature adoption (`adoption`): 3 days\n" in answer["text"] and "• NPS (`nps`): 3 days" in answer["text"]
    assert "• Engagement (`engagement`): 14 days (default)" in answer["text"]
    assert "at least *60%* of the weights;" in answer["text"]
    assert "Rescored 1 customer: 1 with stale or insufficient data." in answer["text"]
    assert _freshness(bot) == ({"adoption": 3, "nps": 3}, 60)
    # Adoption and NPS are stale now: engagement 30 + tickets 10 = 40% (no milestone due yet), under 60%.
    assert "insufficient data" in bot.command("customer list").json()["text"]

    bot.command("freshness adoption=default share=default")
    assert _freshness(bot) == ({"nps": 3}, None)
    assert "• Feature adoption (`adoption`): 14 days (default)" in bot.fake.responses[-1]["text"]


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        ("adoption=0", "a whole number of days from 1 to 3650"),
        ("adoption=-2", "a whole number of days from 1 to 3650"),
        ("adoption=1.5", "a whole number of days from 1 to 3650"),
        ("adoption=99999999999", "a whole number of days from 1 to 3650"),
        ("adoption=²", "a whole number of days from 1 to 3650"),
        ("share=0", "a whole percentage from 1 to 100"),
        ("share=101", "a whole percentage from 1 to 100"),
        ("adoption", "is not `<factor>=<days>`"),
        ("adoption=3 Adoption=4", "given twice"),
        ("share=50 share=60", "given twice"),
        ("colour=3", "Unknown factor `colour`"),
        ("milestones=3", "computed from milestones, so it is never stale"),
    ],
)
def test_malformed_freshness_changes_nothing(planned: BotHarness, arguments: str, words: str) -> None:
    reply = planned.command(f"freshness {arguments}").json()
    assert reply.get("response_type", "ephemeral") == "ephemeral" and words in reply["text"], reply["text"]
    assert _freshness(planned) == ({}, None)


def test_only_the_plans_own_channel_sets_its_freshness(planned: BotHarness) -> None:
    bot = planned
    bot.fake.add_channel("C0OTHER01", name="elsewhere")
    elsewhere = bot.command("freshness adoption=1", channel="C0OTHER01", channel_name="elsewhere").json()
    assert "no onboarding plan" in elsewhere["text"]
    other_team = bot.command("freshness adoption=1 share=1", team=OTHER_TEAM).json()
    assert "no onboarding plan" in other_team["text"]
    assert _freshness(bot) == ({}, None)


def test_freshness_is_in_the_help(planned: BotHarness) -> None:
    text = planned.command("help").json()["text"]
    assert "`/onboarding freshness [&lt;factor&gt;=&lt;days&gt;|default ...] [share=&lt;1-100&gt;|default]`" in text


def test_an_import_rescores_on_the_lean_path_exactly_as_the_reference_does(
    planned: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Imports rescore many customers at once through ``PlanScorer``; the stored scores, bands, breakdowns and
    bands heard are the ones ``score_customers`` (``compute_score``) would have stored."""
    from bot import imports, jobs
    from bot.customers import runnable
    from steps.health import ScoreBreakdown
    from storage import repo
    from storage.models import Customer, HealthScore

    bot = planned
    for n, start in enumerate(("2026-11-01", "2026-11-20", "2026-12-01")):
        bot.command(f'customer add "C{n}" id=c{n} start={start}')
    bot.command('signal "C0" adoption=90 engagement=90 tickets=90 nps=90')  # heard as healthy at the update
    bot.tick(UPDATE - (UPDATE - SIGNALLED) / 2)
    bot.clock.set(LATER)
    rows = [
        (2, {"id": "c0", "factor": "adoption", "value": "10", "observed_at": None}),  # the rest of C0 is stale
        (3, {"id": "c1", "factor": "adoption", "value": "55", "observed_at": "2026-12-11T09:00:00Z"}),
        (4, {"id": "c1", "factor": "engagement", "value": "35", "observed_at": None}),
        (5, {"id": "c2", "factor": "tickets", "value": "100", "observed_at": "2026-11-01T09:00:00Z"}),
    ]

    def stored() -> dict[str, tuple[Any, ...]]:
        with bot.sessions() as session:
            return {c.name: (c.score, c.band, c.reported_band) for c in session.query(Customer)}

    def run(lean: bool) -> dict[str, tuple[Any, ...]]:
        with bot.sessions.begin() as session:
            plan = repo.all_plans(session)[0]
            ready = runnable(session, plan)
            assert ready is not None
            nested = session.begin_nested()
            if not lean:
                reference = lambda s, r, now, ids: len(jobs.score_customers(s, r, now, ids, reported=False))  # noqa: E731
                monkeypatch.setattr(imports, "rescore_between_updates", reference)
            imports.import_signals(session, ready, rows, source="csv", user_id=ALICE, now=LATER)
            monkeypatch.undo()
            session.flush()
            found = {c.name: (c.score, c.band, c.reported_band) for c in session.query(Customer)}
            found["history"] = tuple(
                (h.customer_id, h.score, h.band, ScoreBreakdown.from_dict(h.breakdown).to_dict())
                for h in session.query(HealthScore).order_by(HealthScore.id)
            )
            nested.rollback()
            return found

    before = stored()
    assert run(lean=True) == run(lean=False)
    assert stored() == before, "both runs were rolled back"
