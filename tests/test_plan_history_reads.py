"""A plan keeps every document version, every changed field and every thread reply. The reads made before an ack,
or before a form opens within its trigger's 3 seconds, must not go through all of it (bench/history_reads.py):
the latest document, the changes to a section since a form opened, the changes credited to a Slack message, and a
section's latest replies. Here: they still return the right rows among many (SQLite and PostgreSQL), and on
SQLite they seek to them, with no sort of the plan's whole history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import event, insert, select
from sqlalchemy.orm import Session, sessionmaker

from bench.tick import _create_plans
from bot.arguments import NewCustomer
from bot.customers import RunnablePlan, runnable
from bot.imports import add_customer
from bot.jobs import rescore_between_updates
from storage import discussion, repo
from storage.db import make_engine, make_session_factory, transaction
from storage.health_scores import FEW
from storage.models import Customer, DiscussionMessage, DocumentVersion, PlanChange
from storage.records import PlanRecord
from tests.support.databases import sqlite_copy
from tests.support.query_plans import plan_lines, traced

NOW = datetime(2026, 11, 29, 9, 30, tzinfo=UTC)
TEAM = "T0HISTORY"
SECTIONS = ("milestones", "health", "training")
KEPT = 40  # versions, saves per section and replies per section, of each of two plans


def _plans(sessions: sessionmaker[Session]) -> tuple[PlanRecord, PlanRecord]:
    with transaction(sessions) as session:
        return (
            repo.get_or_create_plan(session, team_id=TEAM, channel_id="C0ONE", name="one", user_id="U1"),
            repo.get_or_create_plan(session, team_id=TEAM, channel_id="C0TWO", name="two", user_id="U1"),
        )


def _history(sessions: sessionmaker[Session], *plans: PlanRecord) -> None:
    """``KEPT`` of everything per plan, the plans' rows interleaved; every fifth save came from a Slack message."""
    versions, changes, replies = [], [], []
    for n in range(1, KEPT + 1):
        for plan in plans:
            versions.append({"team_id": TEAM, "plan_id": plan.id, "version": n, "markdown": f"# {plan.name} v{n}",
                             "source": f"milestones:{n}", "created_by": "U1", "created_at": NOW})  # fmt: skip
            for section in SECTIONS:
                sourced = n % 5 == 0
                changes.append({
                    "team_id": TEAM, "plan_id": plan.id, "section": section, "path": "goal", "label": "Goal",
                    "old_value": f"{n - 1}", "new_value": f"{n}", "user_id": "U1", "changed_at": NOW,
                    "section_version": n, "source_user_id": "U2" if sourced else None,
                    "source_permalink": f"https://x.slack.com/archives/{plan.channel_id}/p{n}" if sourced else None,
                })  # fmt: skip
                replies.append({
                    "team_id": TEAM, "plan_id": plan.id, "section": section, "channel_id": plan.channel_id,
                    "ts": f"1700{plan.id}{n:04d}.{SECTIONS.index(section)}", "thread_ts": "1700000000.000100",
                    "user_id": "U3", "text": f"{plan.name} {section} reply {n}", "permalink": None,
                    # Posted out of ts order: what orders replies is when they were posted.
                    "posted_at": NOW - timedelta(minutes=(n * 7) % KEPT),
                })  # fmt: skip
    with transaction(sessions) as session:
        session.execute(insert(DocumentVersion), versions)
        session.execute(insert(PlanChange), changes)
        session.execute(insert(DiscussionMessage), replies)


def test_the_latest_document_is_built_alone(sessions: sessionmaker[Session]) -> None:
    one, two = _plans(sessions)
    _history(sessions, one, two)
    built: list[DocumentVersion] = []

    def loaded(target: DocumentVersion, _context: object) -> None:
        built.append(target)

    event.listen(DocumentVersion, "load", loaded)
    try:
        with transaction(sessions) as session:
            latest = repo.latest_document(session, one)
    finally:
        event.remove(DocumentVersion, "load", loaded)
    assert latest is not None and (latest.version, latest.markdown) == (KEPT, f"# one v{KEPT}")
    assert len(built) == 1  # not one object per kept version, markdown and all


def test_changes_and_replies_are_the_plans_own_among_many(sessions: sessionmaker[Session]) -> None:
    one, two = _plans(sessions)
    _history(sessions, one, two)
    with transaction(sessions) as session:
        since = repo.changes_since(session, one, "health", KEPT - 3)
        assert [(c.section, c.version) for c in since] == [("health", KEPT - 2), ("health", KEPT - 1),
                                                                   ("health", KEPT)]  # fmt: skip
        sourced = repo.sourced_changes(session, two)
        assert len(sourced) == len(SECTIONS) * (KEPT // 5)
        assert all(s.permalink and "C0TWO" in s.permalink for s in sourced)
        # The latest saves over every section, newest first: each save of the bench changed one field.
        recent = repo.recent_changes(session, one, saves=4)
        assert [(c.section, c.version) for c in recent] == [
            ("training", KEPT), ("health", KEPT), ("milestones", KEPT), ("training", KEPT - 1)
        ]  # fmt: skip
        latest = discussion.latest_replies(session, one.id, "training", 3)
        # Posted 0, 1 and 2 minutes before NOW: replies 40, 23 and 6 (n * 7 % KEPT minutes before).
        assert [r.text for r in latest] == [f"one training reply {n}" for n in (40, 23, 6)]


def test_none_of_them_sorts_or_scans_the_plans_history_on_sqlite(sqlite_template: Path, tmp_path: Path) -> None:
    engine = make_engine(sqlite_copy(sqlite_template, tmp_path / "bot.db"))
    sessions = make_session_factory(engine)
    with traced(engine) as statements:
        one, two = _plans(sessions)
        _history(sessions, one, two)
        reads = {
            "changes since": (lambda s: repo.changes_since(s, one, "health", 3), "plan_changes"),
            "sourced changes": (lambda s: repo.sourced_changes(s, one), "plan_changes"),
            "latest replies": (lambda s: discussion.latest_replies(s, one.id, "training", 3), "discussion_messages"),
            "latest document": (lambda s: repo.latest_document(s, one), "document_versions"),
            "history": (lambda s: repo.recent_changes(s, one), "plan_changes"),
        }
        plans = {}
        for name, (read, table) in reads.items():
            statements.clear()
            with sessions() as session:
                read(session)
            plans[name] = plan_lines(engine, statements, table)
    engine.dispose()
    assert plans["changes since"] == [
        "SEARCH plan_changes USING INDEX ix_plan_changes_section (plan_id=? AND section=? AND section_version>?)"
    ]
    assert plans["sourced changes"] == ["SEARCH plan_changes USING INDEX ix_plan_changes_sourced (plan_id=?)"]
    assert plans["latest replies"] == [
        "SEARCH discussion_messages USING INDEX ix_discussion_messages_latest (plan_id=? AND section=?)"
    ]
    assert len(plans["latest document"]) == 1 and "(plan_id=?)" in plans["latest document"][0]
    # Each section's latest saves from the end of its index; then only those few are sorted and joined back.
    history = [line for line in plans["history"] if "plan_changes" in line]
    assert history and all(line.startswith("SEARCH") for line in history), plans["history"]
    assert sum("(plan_id=? AND section=?)" in line for line in history) == 3, history


def _runnable_plan(session: Session) -> RunnablePlan:
    """A plan with Step 3 saved (``bench.tick``'s), which customers can join."""
    plan = repo.get_plan(session, _create_plans(session, 1)[0])
    assert plan is not None
    ready = runnable(session, plan)
    assert ready is not None
    return ready


def test_adding_a_customer_reads_the_customers_it_names_not_the_plan_on_sqlite(
    sqlite_template: Path, tmp_path: Path
) -> None:
    """A plan's customers are never deleted either. `/onboarding customer add` (before its ack) read every customer
    of the plan, several times: 591 ms at 100,000 customers (bench/history_reads.py)."""
    engine = make_engine(sqlite_copy(sqlite_template, tmp_path / "bot.db"))
    sessions = make_session_factory(engine)
    with traced(engine) as statements:
        with transaction(sessions) as session:
            ready = _runnable_plan(session)
            add_customer(session, ready, NewCustomer("Acme", None, None, None), "U1", NOW)
        statements.clear()
        with transaction(sessions) as session:
            added, result = add_customer(session, ready, NewCustomer("Globex", None, None, None), "U1", NOW)
        lookups = plan_lines(engine, statements, "customers")
    engine.dispose()
    assert (added.external_id, result) == ("globex", "created")
    assert lookups
    for line in lookups:  # by id, by external id or name, or the new customer's own id range; never plan_id alone
        assert "(plan_id=?)" not in line and not line.startswith("SCAN"), line


def test_rescoring_a_few_customers_far_apart_reads_them_alone_on_sqlite(sqlite_template: Path, tmp_path: Path) -> None:
    """Signals for the first and the last customer of a big plan (one API call) rescore those two. Their values and
    milestones were read by id range, every customer in between: 139 ms at 100,000 customers. A few ids far apart
    are now read by id; many, or close together (a check, a file), still by range."""
    engine = make_engine(sqlite_copy(sqlite_template, tmp_path / "bot.db"))
    sessions = make_session_factory(engine)
    with traced(engine) as statements:
        with transaction(sessions) as session:
            ready = _runnable_plan(session)
            session.execute(insert(Customer), [
                {"team_id": ready.plan.team_id, "plan_id": ready.plan.id, "name": f"c{n}", "name_key": f"c{n}",
                 "external_id": f"c{n}", "start_date": NOW.date(), "created_by": "U1", "created_at": NOW,
                 "signals": {"adoption": 50.0}, "signal_times": {}}
                for n in range(2 * FEW + 2)
            ])  # fmt: skip
            first, last = min(session.scalars(select(Customer.id))), max(session.scalars(select(Customer.id)))
        statements.clear()
        with transaction(sessions) as session:
            assert rescore_between_updates(session, ready, NOW, [first, last]) == 2
        far_apart = plan_lines(engine, statements, "customers") + plan_lines(engine, statements, "customer_milestones")
        statements.clear()
        with transaction(sessions) as session:
            rescore_between_updates(session, ready, NOW, [first, first + 1, first + 2])
        close_together = plan_lines(engine, statements, "customer_milestones")
    engine.dispose()
    assert len(far_apart) == 2, far_apart
    assert all(">?" not in line and "<?" not in line for line in far_apart), far_apart
    assert all("customer_id>? AND customer_id<?" in line for line in close_together), close_together
    with transaction(sessions) as session:
        rescored = session.scalars(select(Customer.id).where(Customer.scored_at.is_not(None))).all()
    assert sorted(rescored) == [first, first + 1, first + 2, last]
