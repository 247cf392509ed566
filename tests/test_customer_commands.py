"""`/onboarding customer|milestone|signal|alerts`: what the team types, and every malformed argument."""

from __future__ import annotations

import pytest

from sandbox.payloads import BOB
from steps.health import ScoreBreakdown
from tests.support.answers import complete_step3
from tests.support.harness import BotHarness

# Argument parsing does not depend on the database: these cases run on SQLite only, to keep the suite fast.
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _count(bot: BotHarness, model: str) -> int:
    import storage.models as models

    with bot.sessions() as session:
        return session.query(getattr(models, model)).count()


@pytest.fixture
def planned(bot: BotHarness) -> BotHarness:
    complete_step3(bot)
    return bot


def test_customers_need_a_saved_step3(bot: BotHarness) -> None:
    reply = bot.command('customer add "Acme Corp"').json()
    assert "no onboarding plan yet" in reply["text"]
    bot.command("step3")
    reply = bot.command('customer add "Acme Corp"').json()
    assert reply.get("response_type", "ephemeral") == "ephemeral" and "Step 3 is saved" in reply["text"]
    assert _count(bot, "Customer") == 0


def test_add_and_list_customers(planned: BotHarness) -> None:
    bot = planned
    reply = bot.command('customer add "Acme Corp" start=2026-12-01 owner=<@U0BOB0002|bob> segment=enterprise').json()
    assert reply["response_type"] == "in_channel"
    text = reply["text"]
    assert "*Acme Corp*" in text and f"<@{BOB}>" in text and "enterprise" in text
    assert "1. Kickoff held — 2026-12-08" in text
    assert "2. First integration live — 2026-12-31" in text
    assert "3. Team trained — 2027-01-15" in text
    # Curly quotes, as macOS Slack types them, and a plain mention.
    assert bot.command("customer add “Globex Inc” owner=<@U0ALICE01>").json()["response_type"] == "in_channel"
    listing = bot.command("customer list").json()
    assert listing["response_type"] == "ephemeral"
    assert "*Acme Corp*" in listing["text"] and "*Globex Inc*" in listing["text"]
    assert "started 2026-11-27" in listing["text"]  # start defaults to today


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('customer add "Acme Corp" start=2026-13-01', "is not a date"),
        ('customer add "Acme Corp" start=tomorrow', "is not a date"),
        ('customer add "Acme Corp" owner=jane', "needs an @-mention"),
        ('customer add "Acme Corp" colour=blue', "I don't know the option `colour=`"),
        ("customer add Acme Corp", "Give one customer name"),
        ("customer add", "Give one customer name"),
        ('customer add "Acme Corp" start=2026-12-01 start=2026-12-02', "given twice"),
        ('customer add "Acme', "quote is not closed"),
        ("customer frobnicate", "Usage"),
    ],
)
@sqlite_only
def test_malformed_customer_add(planned: BotHarness, text: str, words: str) -> None:
    reply = planned.command(text).json()
    assert reply.get("response_type", "ephemeral") == "ephemeral" and words in reply["text"], reply["text"]
    assert _count(planned, "Customer") == 0


def test_duplicate_customer(planned: BotHarness) -> None:
    planned.command('customer add "Acme Corp"')
    reply = planned.command('customer add "ACME corp"').json()
    assert "already a customer" in reply["text"]
    assert _count(planned, "Customer") == 1


def test_milestone_done_by_number_and_name(planned: BotHarness) -> None:
    bot = planned
    bot.command('customer add "Acme Corp" start=2026-11-01')
    reply = bot.command('milestone done "Acme Corp" 1 date=2026-11-05').json()
    assert reply["response_type"] == "in_channel"
    assert "milestone 1 “Kickoff held”" in reply["text"] and "(on time)" in reply["text"]
    reply = bot.command('milestone done "acme corp" "First integration live"').json()
    assert "after its 2026-12-01 deadline" not in reply["text"] and "done on 2026-11-27" in reply["text"]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('milestone done "Nobody Inc" 1', "There is no customer “Nobody Inc”"),
        ('milestone done "Acme Corp" 7', "Milestone 7 does not exist: this plan has milestones 1 to 3"),
        ('milestone done "Acme Corp" 0', "Milestone 0 does not exist"),
        ('milestone done "Acme Corp" "Go live"', "No milestone is called “Go live”"),
        ('milestone done "Acme Corp" 1 date=2026-02-30', "is not a date"),
        ('milestone done "Acme Corp" 1 date=2027-01-01', "in the future"),
        ('milestone done "Acme Corp"', "Give a customer and a milestone"),
        ('milestone "Acme Corp" 1', "Usage"),
    ],
)
@sqlite_only
def test_malformed_milestone_done(planned: BotHarness, text: str, words: str) -> None:
    planned.command('customer add "Acme Corp" start=2026-11-01')
    reply = planned.command(text).json()
    assert reply.get("response_type", "ephemeral") == "ephemeral" and words in reply["text"], reply["text"]


def test_milestone_done_twice(planned: BotHarness) -> None:
    planned.command('customer add "Acme Corp" start=2026-11-01')
    planned.command('milestone done "Acme Corp" 1')
    assert "already done on 2026-11-27" in planned.command('milestone done "Acme Corp" 1').json()["text"]


def test_signal_records_values_and_explains_the_score(planned: BotHarness) -> None:
    bot = planned
    bot.command('customer add "Acme Corp" start=2026-11-25')
    reply = bot.command('signal "Acme Corp" adoption=70 engagement=55 tickets=80 nps=90').json()
    assert reply["response_type"] == "in_channel"
    text = reply["text"]
    # No milestone is due yet, so milestone completion is missing and the others are renormalised (weights 40/30/10/10).
    assert "Health score: *68.3* (At-risk)" in text  # (70·40 + 55·30 + 80·10 + 90·10) / 90
    assert "Feature adoption 70 × 44.4% = 31.1" in text
    assert "Missing: Milestone completion" in text
    with bot.sessions() as session:
        from storage.models import HealthScore, SignalReading

        assert session.query(SignalReading).count() == 4
        scores = session.query(HealthScore).order_by(HealthScore.id).all()
        # The history keeps a compact breakdown (ScoreBreakdown.stored); it reads back through from_dict.
        kept = ScoreBreakdown.from_dict(scores[-1].breakdown)
        assert scores[-1].score == 68.3 and kept.score == 68.3 and kept.missing == ("milestones",)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('signal "Acme Corp" happiness=50', "Unknown factor `happiness`"),
        ('signal "Acme Corp" milestones=50', "computed from milestones"),
        ('signal "Acme Corp" adoption=101', "from 0 to 100"),
        ('signal "Acme Corp" adoption=-1', "from 0 to 100"),
        ('signal "Acme Corp" adoption=lots', "must be a number"),
        ('signal "Acme Corp" adoption', "is not `<factor>=<value>`"),
        ('signal "Acme Corp"', "at least one factor"),
        ('signal "Nobody" adoption=5', "There is no customer"),
        ("signal adoption=5", "Name the customer first"),
    ],
)
@sqlite_only
def test_malformed_signal(planned: BotHarness, text: str, words: str) -> None:
    planned.command('customer add "Acme Corp"')
    reply = planned.command(text).json()
    assert reply.get("response_type", "ephemeral") == "ephemeral" and words in reply["text"], reply["text"]
    assert _count(planned, "SignalReading") == 0


def test_alerts_here(planned: BotHarness) -> None:
    bot = planned
    bot.fake.add_channel("C0ALERTS1", name="cs-alerts")
    # Acked at once (the membership check asks Slack); the confirmation goes to the command's response_url.
    assert bot.command("alerts here", channel="C0ALERTS1", channel_name="cs-alerts").body == ""
    reply = bot.fake.responses[-1]
    assert reply["response_type"] == "in_channel" and "<#C0ALERTS1>" in reply["text"]
    assert "go to <#C0ALERTS1>" in bot.command("status").json()["text"]
    bad = bot.command("alerts here plan=onboarding-acme", channel="C0ALERTS1").json()
    assert "needs a channel picked" in bad["text"]
    bot.command("step3", channel="C0OTHER01", channel_name="other")
    ambiguous = bot.command("alerts here", channel="C0ALERTS2").json()
    assert "Which plan?" in ambiguous["text"]
    assert bot.command("alerts here plan=<#C0PLAN001|onboarding-acme>", channel="C0ALERTS2").body == ""
    named = bot.fake.responses[-1]
    assert named["response_type"] == "in_channel"


def test_customer_add_upserts_by_the_crm_id(planned: BotHarness) -> None:
    bot = planned
    added = bot.command('customer add "Acme Corp" id=crm-0042 start=2026-12-01').json()["text"]
    assert "added customer *Acme Corp* (id `crm-0042`, onboarding starts 2026-12-01" in added
    # The same id again is the same customer: renamed and re-segmented, not a second one.
    updated = bot.command('customer add "Acme Corporation" id=crm-0042 segment=enterprise').json()["text"]
    assert "updated customer *Acme Corporation* (id `crm-0042`" in updated and "segment enterprise" in updated
    assigned = bot.command('customer add "Globex Inc"').json()["text"]
    assert "(id `globex-inc`," in assigned, "without an id the bot gives one, and shows it"
    assert "id=` is the customer's id in your CRM" in bot.command('customer add "X" id="a b"').json()["text"]
    taken = bot.command('customer add "Globex Inc" id=crm-7').json()["text"]
    assert "“Globex Inc” is already the name of customer “globex-inc”." in taken
    with bot.sessions() as session:
        from storage.models import Customer

        assert sorted((c.external_id, c.name) for c in session.query(Customer)) == [
            ("crm-0042", "Acme Corporation"),
            ("globex-inc", "Globex Inc"),
        ]
