"""`/onboarding status` reads its plan in one statement straight on the driver (storage.plan_status): what it
returns must be what the ORM reads, on SQLite and PostgreSQL, whatever the plan has: no sections or all of them, a
backlog with or without Slack's error, more failed posts than are shown, another team's and another plan's posts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from steps.step3 import Section
from storage import outbox, repo
from storage.db import make_engine, make_session_factory, read_only, transaction
from storage.outbox import FAILED_SHOWN
from storage.plan_status import plan_status
from storage.records import PlanRecord, PlanStatus

NOW = datetime(2026, 11, 29, 9, 30, 15, 250000, tzinfo=UTC)
TEAM, CHANNEL = "T0STATUS1", "C0STATUS1"


def _plan(sessions: sessionmaker[Session], team: str = TEAM, channel: str = CHANNEL) -> PlanRecord:
    with transaction(sessions) as session:
        return repo.get_or_create_plan(session, team_id=team, channel_id=channel, name=f"plan {channel}", user_id="U1")


def _post(sessions: sessionmaker[Session], plan: PlanRecord, key: str, *, at: datetime, failed: str | None = None,
          error: str | None = None, team: str | None = None) -> None:  # fmt: skip
    with transaction(sessions) as session:
        item = outbox.enqueue(
            session, team_id=team or plan.team_id, channel_id=plan.channel_id, key=key,
            message={"text": f"post {key} — “quoted” and long " + "x" * 150}, now=at, plan_id=plan.id,
        )  # fmt: skip
        if error is not None:
            item.error = error
        if failed is not None:
            item.status = "sending"  # as the delivery worker leaves it when Slack answers
            session.flush()
            assert outbox.mark_failed(session, item.id, failed)


def _orm_status(sessions: sessionmaker[Session], plan: PlanRecord) -> PlanStatus:
    """What status read through the ORM, five reads in one transaction, before it took one statement."""
    with read_only(sessions) as session:
        found = repo.find_plan(session, plan.team_id, plan.channel_id)
        assert found is not None
        rows = repo.section_rows(session, found)
        return PlanStatus(
            name=found.name,
            channel_id=found.channel_id,
            alert_channel_id=found.alert_channel_id,
            steps_completed=list(found.steps_completed),
            editors={s.value: rows[s.value].updated_by for s in Section if s.value in rows},
            document_versions=repo.document_count(session, found),
            backlog=outbox.backlog(session, found.team_id, found.id),
            failed=outbox.failed_summaries(session, found.team_id, found.id),
        )


def test_a_new_plan_and_a_channel_without_one(sessions: sessionmaker[Session]) -> None:
    plan = _plan(sessions)
    found = plan_status(sessions, TEAM, CHANNEL)
    assert found == _orm_status(sessions, plan)
    assert found is not None and found.editors == {} and found.backlog is None and found.failed == []
    assert plan_status(sessions, TEAM, "C0NOPLAN1") is None
    assert plan_status(sessions, "T0OTHER01", CHANNEL) is None  # the same channel id in another workspace


def test_everything_a_plan_can_show(sessions: sessionmaker[Session]) -> None:
    plan, other = _plan(sessions), _plan(sessions, channel="C0STATUS2")
    with transaction(sessions) as session:
        repo.save_section(session, plan, Section.MILESTONES.value, {"a": 1}, "U0ALICE01", NOW)
        repo.save_section(session, plan, Section.TRAINING.value, {"b": 2}, "U0BOB0001", NOW)
        repo.save_section(session, plan, Section.TRAINING.value, {"b": 3}, "U0CAROL01", NOW)
        repo.add_document_version(session, plan, "# v1", "milestones:1", "U0ALICE01")
        repo.add_document_version(session, plan, "# v2", "milestones:1,training:2", "U0ALICE01")
    for n in range(FAILED_SHOWN + 3):
        _post(sessions, plan, f"lost-{n}", at=NOW + timedelta(seconds=n), failed=f"channel_not_found_{n}")
    _post(sessions, plan, "waiting-1", at=NOW - timedelta(minutes=7, microseconds=5))
    _post(sessions, plan, "waiting-2", at=NOW - timedelta(minutes=3), error="ratelimited")
    _post(sessions, plan, "waiting-3", at=NOW - timedelta(minutes=1), error="internal_error")
    _post(sessions, other, "elsewhere", at=NOW - timedelta(hours=1), failed="not_in_channel")

    found = plan_status(sessions, TEAM, CHANNEL)
    assert found == _orm_status(sessions, plan)
    assert found is not None
    assert found.editors == {"milestones": "U0ALICE01", "training": "U0CAROL01"}
    assert found.document_versions == 2
    assert found.backlog is not None
    assert (found.backlog.count, found.backlog.error) == (3, "ratelimited")
    assert found.backlog.oldest_queued_at == NOW - timedelta(minutes=7, microseconds=5)
    assert len(found.failed) == FAILED_SHOWN and found.failed[0][1] == f"channel_not_found_{FAILED_SHOWN + 2}"


def test_the_connection_goes_back_to_the_pool_transactional(database_url: str) -> None:
    """The read runs outside a transaction (autocommit on PostgreSQL); the next user of the same pooled connection
    must get its transactions back: a unit of work that fails leaves nothing behind."""
    engine = make_engine(database_url, pool_size=1, max_overflow=0)  # one connection, reused by both
    sessions = make_session_factory(engine)
    plan = _plan(sessions)
    assert plan_status(sessions, TEAM, CHANNEL) is not None
    with pytest.raises(RuntimeError), transaction(sessions) as session:
        repo.save_section(session, plan, Section.HEALTH.value, {"c": 1}, "U0ALICE01", NOW)
        raise RuntimeError("the listener failed after writing")
    found = plan_status(sessions, TEAM, CHANNEL)
    assert found is not None and found.editors == {}
    engine.dispose()
