"""What `/onboarding status` reads about a plan: one statement, and a second only when posts failed.

Status answers in its ack, and under load what every request waits for is the one interpreter's CPU and its GIL.
Through the ORM its five reads in a transaction cost about 1.1 ms of CPU on SQLite, and each of their seven trips to
the driver (BEGIN, five reads, COMMIT) gives up the GIL and waits to take it back behind the other request threads
(bench/README.md, "Under load"). So this is one statement, built and compiled once, run straight on the driver
(``storage.bulk.DriverQuery``): the counts and each section's last editor are scalar subqueries of the plan's own
row, and one statement is one consistent snapshot on its own.
"""

from __future__ import annotations

from sqlalchemy import bindparam, func, select

from steps.step3 import Section
from storage.bulk import DriverQuery, datetime_value, json_value
from storage.db import Sessions
from storage.models import DocumentVersion, OutboxMessage, Plan, PlanSection
from storage.outbox import FAILED_SHOWN, failed, failed_summary, undelivered
from storage.records import Backlog, PlanStatus

_PLAN_OUTBOX = (OutboxMessage.team_id == Plan.team_id, OutboxMessage.plan_id == Plan.id)
_WAITING = (*_PLAN_OUTBOX, undelivered())
_SECTIONS = [section.value for section in Section]

_STATUS = DriverQuery(
    select(
        Plan.id,
        Plan.name,
        Plan.channel_id,
        Plan.alert_channel_id,
        Plan.steps_completed,
        select(func.count()).where(DocumentVersion.plan_id == Plan.id).scalar_subquery(),
        select(func.count()).where(*_WAITING).scalar_subquery(),
        select(func.min(OutboxMessage.created_at)).where(*_WAITING).scalar_subquery(),
        select(OutboxMessage.error)
        .where(*_WAITING, OutboxMessage.error.is_not(None))
        .order_by(OutboxMessage.id)
        .limit(1)
        .scalar_subquery(),
        select(OutboxMessage.id).where(*_PLAN_OUTBOX, failed()).exists(),
        *(
            select(PlanSection.updated_by)
            .where(PlanSection.plan_id == Plan.id, PlanSection.section == section)
            .scalar_subquery()
            for section in _SECTIONS
        ),
    ).where(Plan.team_id == bindparam("team_id"), Plan.channel_id == bindparam("channel_id"))
)

_FAILED = DriverQuery(
    select(OutboxMessage.message, OutboxMessage.error)
    .where(
        OutboxMessage.team_id == bindparam("team_id"),
        OutboxMessage.plan_id == bindparam("plan_id"),
        failed(),
    )
    .order_by(OutboxMessage.id.desc())
    .limit(FAILED_SHOWN)
)


def plan_status(sessions: Sessions, team_id: str, channel_id: str) -> PlanStatus | None:
    """The channel's plan as status shows it, or None when the channel has none."""
    found = _STATUS.rows(sessions, {"team_id": team_id, "channel_id": channel_id})
    if not found:
        return None
    plan_id, name, channel, alert_channel, steps, documents, waiting, oldest, error, any_failed, *editors = found[0]
    failed = (
        [
            failed_summary(json_value(message), why)
            for message, why in _FAILED.rows(sessions, {"team_id": team_id, "plan_id": plan_id})
        ]
        if any_failed
        else []
    )
    queued_at = datetime_value(oldest)
    return PlanStatus(
        name=name,
        channel_id=channel,
        alert_channel_id=alert_channel,
        steps_completed=list(json_value(steps) or []),
        editors={section: user for section, user in zip(_SECTIONS, editors, strict=True) if user},
        document_versions=int(documents),
        backlog=Backlog(count=int(waiting), oldest_queued_at=queued_at, error=error) if waiting and queued_at else None,
        failed=failed,
    )
