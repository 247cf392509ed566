"""Plans: the plan of each channel, its saved sections, document versions and change history; and the bookkeeping
of handled Slack requests and scheduled job runs.

Every function takes the team id (or a plan that carries it) so no query crosses workspaces, works in the caller's
transaction, and returns records (``storage.records``), not rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, literal, select, union_all, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from steps.step3 import Section
from storage.db import rowcount
from storage.models import DocumentVersion, JobRun, Plan, PlanChange, PlanSection, ProcessedRequest, utcnow
from storage.records import ChangeRecord, DocumentRecord, PlanRecord, SectionRecord, SourcedChange


class PlanVanished(LookupError):
    """A plan the caller had just read is gone (deleted by someone else meanwhile)."""


def _plan(row: Plan) -> PlanRecord:
    return PlanRecord(
        row.id, row.team_id, row.channel_id, row.name, row.hub_ts, tuple(row.steps_completed),
        row.alert_channel_id, row.canvas_id, row.canvas_unavailable,
        tuple((str(key), int(days)) for key, days in sorted((row.freshness or {}).items())), row.min_data_share,
    )  # fmt: skip


def _section(row: PlanSection) -> SectionRecord:
    return SectionRecord(row.section, dict(row.answers), row.version, row.updated_by, row.updated_at)


def _document(row: DocumentVersion) -> DocumentRecord:
    return DocumentRecord(row.version, row.markdown, row.source, row.created_by)


def find_plan(session: Session, team_id: str, channel_id: str) -> PlanRecord | None:
    row = session.scalar(select(Plan).where(Plan.team_id == team_id, Plan.channel_id == channel_id))
    return None if row is None else _plan(row)


def get_or_create_plan(session: Session, *, team_id: str, channel_id: str, name: str, user_id: str) -> PlanRecord:
    plan = find_plan(session, team_id, channel_id)
    if plan is not None:
        return plan
    try:
        # A savepoint, so losing the race to a concurrent creator does not abort the caller's transaction.
        with session.begin_nested():
            row = Plan(team_id=team_id, channel_id=channel_id, name=name, created_by=user_id, steps_completed=[])
            session.add(row)
        return _plan(row)
    except IntegrityError:
        plan = find_plan(session, team_id, channel_id)
        if plan is None:
            raise PlanVanished(f"the plan of {team_id}/{channel_id} was created and deleted at once") from None
        return plan


def get_plan(session: Session, plan_id: int) -> PlanRecord | None:
    row = session.get(Plan, plan_id)
    return None if row is None else _plan(row)


def set_hub_ts(session: Session, plan_id: int, ts: str) -> None:
    """Remember the newest hub message, the one later saves update."""
    session.execute(update(Plan).where(Plan.id == plan_id).values(hub_ts=ts))


def rename_plan(session: Session, plan_id: int, name: str) -> None:
    session.execute(update(Plan).where(Plan.id == plan_id).values(name=name))


def set_alert_channel(session: Session, plan_id: int, channel_id: str) -> None:
    session.execute(update(Plan).where(Plan.id == plan_id).values(alert_channel_id=channel_id))


def set_freshness(session: Session, plan_id: int, windows: dict[str, int], min_data_share: int | None) -> None:
    """The plan's staleness windows (factor key -> days, replacing the previous ones) and minimum data share."""
    session.execute(update(Plan).where(Plan.id == plan_id).values(freshness=windows, min_data_share=min_data_share))


def set_canvas(session: Session, plan_id: int, canvas_id: str | None, unavailable: str | None) -> None:
    session.execute(update(Plan).where(Plan.id == plan_id).values(canvas_id=canvas_id, canvas_unavailable=unavailable))


def mark_step_completed(session: Session, plan_id: int, step: str) -> None:
    row = session.get(Plan, plan_id, with_for_update=True)
    if row is not None and step not in row.steps_completed:
        row.steps_completed = [*row.steps_completed, step]


def plans_in_channel(session: Session, channel_id: str) -> list[PlanRecord]:
    """For the CLI, which knows a channel id but not always the team."""
    rows = session.scalars(select(Plan).where(Plan.channel_id == channel_id).order_by(Plan.team_id))
    return [_plan(row) for row in rows]


def section_rows(session: Session, plan: PlanRecord) -> dict[str, SectionRecord]:
    rows = session.scalars(select(PlanSection).where(PlanSection.plan_id == plan.id))
    return {row.section: _section(row) for row in rows}


def lock_section_version(session: Session, plan: PlanRecord, section: str) -> int:
    """The section's saved version (0 if never saved), locked until the transaction ends.

    Two saves of one section then run one after the other, so each sees the version the other wrote.
    """
    row = session.scalar(
        select(PlanSection.version)
        .where(PlanSection.plan_id == plan.id, PlanSection.section == section)
        .with_for_update()
    )
    return row or 0


def save_section(
    session: Session, plan: PlanRecord, section: str, answers: dict[str, Any], user_id: str, now: datetime | None = None
) -> SectionRecord:
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
    return _section(row)


def add_changes(
    session: Session,
    plan: PlanRecord,
    section: str,
    version: int,
    changes: Sequence[tuple[str, str, str | None, str | None]],
    user_id: str,
    now: datetime,
    source: tuple[str, str | None] | None = None,
) -> None:
    """Record each changed field (path, label, old, new) of one save in the plan's history."""
    session.add_all(
        PlanChange(
            team_id=plan.team_id, plan_id=plan.id, section=section, path=path, label=label, old_value=old,
            new_value=new, user_id=user_id, changed_at=now, section_version=version,
            source_user_id=source[0] if source else None, source_permalink=source[1] if source else None,
        )
        for path, label, old, new in changes
    )  # fmt: skip


def _change(row: PlanChange) -> ChangeRecord:
    return ChangeRecord(
        row.section, row.path, row.label, row.user_id, row.changed_at, row.source_user_id, row.section_version,
        row.old_value,
    )  # fmt: skip


def changes_since(session: Session, plan: PlanRecord, section: str, version: int) -> list[ChangeRecord]:
    rows = session.scalars(
        select(PlanChange)
        .where(PlanChange.plan_id == plan.id, PlanChange.section == section, PlanChange.section_version > version)
        # Save by save, as they were made (a save holds its section's row, so versions follow ids): the order of
        # ix_plan_changes_section, so nothing is sorted.
        .order_by(PlanChange.section_version, PlanChange.id)
    )
    return [_change(row) for row in rows]


def recent_changes(session: Session, plan: PlanRecord, saves: int = 10) -> list[ChangeRecord]:
    """Every field changed by the plan's latest ``saves`` saves, newest first."""
    # Each section's latest saves, from the end of ix_plan_changes_section: a save holds its section's row, so a
    # later version has later ids. Grouping the whole plan's changes by save instead read all of them: 26 ms at
    # 100,000 changes before `/onboarding history` could ack (bench/history_reads.py).
    per_section = [
        select(
            literal(section.value).label("section"),
            PlanChange.section_version,
            func.max(PlanChange.id).label("last"),
        )
        .where(PlanChange.plan_id == plan.id, PlanChange.section == section.value)
        .group_by(PlanChange.section_version)
        .order_by(PlanChange.section_version.desc())
        .limit(saves)
        .subquery()
        for section in Section
    ]
    candidates = union_all(*(select(*latest.c) for latest in per_section)).subquery()
    latest = select(candidates).order_by(candidates.c.last.desc()).limit(saves).subquery()
    rows = session.scalars(
        select(PlanChange)
        .join(
            latest,
            and_(PlanChange.section == latest.c.section, PlanChange.section_version == latest.c.section_version),
        )
        .where(PlanChange.plan_id == plan.id)
        .order_by(PlanChange.id.desc())
    )
    return [_change(row) for row in rows]


def sourced_changes(session: Session, plan: PlanRecord) -> list[SourcedChange]:
    """The plan's changes that came from a Slack message, oldest first."""
    rows = session.scalars(
        select(PlanChange)
        .where(PlanChange.plan_id == plan.id, PlanChange.source_user_id.is_not(None))
        .order_by(PlanChange.id)
    )
    return [
        SourcedChange(row.path, row.old_value, row.new_value, row.source_user_id, row.source_permalink)
        for row in rows
        if row.source_user_id is not None
    ]


def latest_document(session: Session, plan: PlanRecord) -> DocumentRecord | None:
    row = session.scalar(
        select(DocumentVersion)
        .where(DocumentVersion.plan_id == plan.id)
        .order_by(DocumentVersion.version.desc())
        .limit(1)  # without it the ORM fetched (and built) every version, markdown and all, to keep the first
    )
    return None if row is None else _document(row)


def document_version(session: Session, plan: PlanRecord, version: int) -> DocumentRecord | None:
    row = session.scalar(
        select(DocumentVersion).where(DocumentVersion.plan_id == plan.id, DocumentVersion.version == version)
    )
    return None if row is None else _document(row)


def document_count(session: Session, plan: PlanRecord) -> int:
    return session.scalar(select(func.count()).where(DocumentVersion.plan_id == plan.id)) or 0


def add_document_version(
    session: Session, plan: PlanRecord, markdown: str, source: str, user_id: str
) -> DocumentRecord:
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
    return _document(row)


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
    return rowcount(result)


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


def lock_plan_for_check(session: Session, plan_id: int) -> PlanRecord | None:
    """The plan, locked for this transaction; None when another replica is checking it right now.

    One replica per plan at a time keeps the scheduled jobs from deadlocking on each other's rows.
    (SQLite ignores the lock; its transactions are serialised anyway.)
    """
    row = session.scalar(select(Plan).where(Plan.id == plan_id).with_for_update(skip_locked=True))
    return None if row is None else _plan(row)


def team_plans(session: Session, team_id: str) -> list[PlanRecord]:
    return [_plan(row) for row in session.scalars(select(Plan).where(Plan.team_id == team_id).order_by(Plan.id))]


def all_plans(session: Session) -> list[PlanRecord]:
    return [_plan(row) for row in session.scalars(select(Plan).order_by(Plan.id))]
