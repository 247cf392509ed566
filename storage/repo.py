"""Queries. Every function takes the team id (or an object that carries it) so no query crosses workspaces."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.models import DocumentVersion, JobRun, Plan, PlanSection, ProcessedRequest, utcnow


def find_plan(session: Session, team_id: str, channel_id: str) -> Plan | None:
    return session.scalar(select(Plan).where(Plan.team_id == team_id, Plan.channel_id == channel_id))


def get_or_create_plan(session: Session, *, team_id: str, channel_id: str, name: str, user_id: str) -> Plan:
    plan = find_plan(session, team_id, channel_id)
    if plan is not None:
        return plan
    try:
        # A savepoint, so losing the race to a concurrent creator does not abort the caller's transaction.
        with session.begin_nested():
            plan = Plan(team_id=team_id, channel_id=channel_id, name=name, created_by=user_id, steps_completed=[])
            session.add(plan)
    except IntegrityError:
        plan = find_plan(session, team_id, channel_id)
        assert plan is not None
    return plan


def set_hub_ts(session: Session, plan_id: int, ts: str) -> None:
    """Remember the newest hub message, the one later saves update."""
    plan = session.get(Plan, plan_id)
    if plan is not None:
        plan.hub_ts = ts


def plans_in_channel(session: Session, channel_id: str) -> list[Plan]:
    """For the CLI, which knows a channel id but not always the team."""
    return list(session.scalars(select(Plan).where(Plan.channel_id == channel_id).order_by(Plan.team_id)))


def section_rows(session: Session, plan: Plan) -> dict[str, PlanSection]:
    rows = session.scalars(select(PlanSection).where(PlanSection.plan_id == plan.id))
    return {row.section: row for row in rows}


def save_section(
    session: Session, plan: Plan, section: str, answers: dict, user_id: str, now: datetime | None = None
) -> PlanSection:
    row = session.scalar(
        select(PlanSection).where(PlanSection.plan_id == plan.id, PlanSection.section == section).with_for_update()
    )
    now = now or utcnow()
    if row is None:
        row = PlanSection(
            team_id=plan.team_id, plan_id=plan.id, section=section, answers=answers, version=1,
            updated_by=user_id, updated_at=now,
        )  # fmt: skip
        session.add(row)
    else:
        row.answers = answers
        row.version += 1
        row.updated_by = user_id
        row.updated_at = now
    session.flush()
    return row


def latest_document(session: Session, plan: Plan) -> DocumentVersion | None:
    return session.scalar(
        select(DocumentVersion).where(DocumentVersion.plan_id == plan.id).order_by(DocumentVersion.version.desc())
    )


def document_version(session: Session, plan: Plan, version: int) -> DocumentVersion | None:
    return session.scalar(
        select(DocumentVersion).where(DocumentVersion.plan_id == plan.id, DocumentVersion.version == version)
    )


def document_count(session: Session, plan: Plan) -> int:
    return session.scalar(select(func.count()).where(DocumentVersion.plan_id == plan.id)) or 0


def add_document_version(session: Session, plan: Plan, markdown: str, source: str, user_id: str) -> DocumentVersion:
    # Lock the plan row so two confirmations at once cannot both take the same version number.
    session.execute(select(Plan.id).where(Plan.id == plan.id).with_for_update())
    latest = session.scalar(select(func.max(DocumentVersion.version)).where(DocumentVersion.plan_id == plan.id))
    row = DocumentVersion(
        team_id=plan.team_id,
        plan_id=plan.id,
        version=(latest or 0) + 1,
        markdown=markdown,
        source=source,
        created_by=user_id,
    )
    session.add(row)
    session.flush()
    return row


def claim_request(session: Session, team_id: str, request_key: str) -> bool:
    """Record a Slack request as handled; False when it was already (a redelivery)."""
    try:
        with session.begin_nested():
            session.add(ProcessedRequest(team_id=team_id, request_key=request_key[:255]))
    except IntegrityError:
        return False
    return True


def prune_processed_requests(session: Session, before: datetime) -> int:
    """Slack redelivers within minutes; request ids older than ``before`` only take up space."""
    result = session.execute(delete(ProcessedRequest).where(ProcessedRequest.received_at < before))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def job_ran(session: Session, team_id: str, job: str, period: str) -> bool:
    return (
        session.scalar(select(JobRun.id).where(JobRun.team_id == team_id, JobRun.job == job, JobRun.period == period))
        is not None
    )


def claim_job(session: Session, team_id: str, job: str, period: str, now: datetime) -> bool:
    """Record that ``job`` ran for ``period``; False when it already had (another tick or replica)."""
    try:
        with session.begin_nested():
            session.add(JobRun(team_id=team_id, job=job, period=period, ran_at=now))
    except IntegrityError:
        return False
    return True


def get_plan(session: Session, plan_id: int) -> Plan | None:
    return session.get(Plan, plan_id)


def lock_plan_for_check(session: Session, plan_id: int) -> Plan | None:
    """The plan, locked for this transaction; None when another replica is checking it right now.

    One replica per plan at a time keeps the scheduled jobs from deadlocking on each other's rows.
    (SQLite ignores the lock; its transactions are serialised anyway.)
    """
    return session.scalar(select(Plan).where(Plan.id == plan_id).with_for_update(skip_locked=True))


def team_plans(session: Session, team_id: str) -> list[Plan]:
    return list(session.scalars(select(Plan).where(Plan.team_id == team_id).order_by(Plan.id)))


def all_plans(session: Session) -> list[Plan]:
    return list(session.scalars(select(Plan).order_by(Plan.id)))
