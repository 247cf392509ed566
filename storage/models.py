"""Database tables. Every row carries the Slack team id so workspaces never see each other's data."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, Date, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite would hand back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use UTC-aware datetimes")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dict[str, Any]: JSON,
        list[str]: JSON,
        datetime: UTCDateTime(),
        date: Date(),
        float: Float(),
    }


class Plan(Base):
    """One onboarding-flow plan per Slack channel."""

    __tablename__ = "plans"
    __table_args__ = (UniqueConstraint("team_id", "channel_id", name="uq_plans_team_channel"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32), index=True)
    channel_id: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    hub_ts: Mapped[str | None] = mapped_column(String(32))
    steps_completed: Mapped[list[str]] = mapped_column(default=list)
    # Where missed-milestone alerts and health updates go; None means the plan's own channel.
    alert_channel_id: Mapped[str | None] = mapped_column(String(32))
    # The channel canvas mirroring the document, or why this workspace cannot have one.
    canvas_id: Mapped[str | None] = mapped_column(String(32))
    canvas_unavailable: Mapped[str | None] = mapped_column(String(64))
    # Days after which a factor's latest value is stale (factor key -> days); a factor not listed uses the default,
    # two update periods of the plan's cadence.
    freshness: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")
    # The share of the weights (percent) a score must rest on to be shown as a number (None: the default, 50).
    min_data_share: Mapped[int | None]

    sections: Mapped[list[PlanSection]] = relationship(back_populates="plan", order_by="PlanSection.id")


class PlanSection(Base):
    """The saved answers of one Step 3 section; ``version`` grows with every save."""

    __tablename__ = "plan_sections"
    __table_args__ = (UniqueConstraint("plan_id", "section", name="uq_plan_sections_plan_section"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"))
    section: Mapped[str] = mapped_column(String(32))
    answers: Mapped[dict[str, Any]]
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_by: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    plan: Mapped[Plan] = relationship(back_populates="sections")


class DocumentVersion(Base):
    """Every save of the plan document; older versions stay readable."""

    __tablename__ = "document_versions"
    __table_args__ = (UniqueConstraint("plan_id", "version", name="uq_document_versions_plan_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    markdown: Mapped[str] = mapped_column(Text)
    # Which section versions this document was compiled from, so confirming an unchanged plan adds no version.
    source: Mapped[str] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Person(Base):
    """A Slack user's name as ``users.info`` last gave it: the document shown outside Slack (the file, ``export``)
    names people, and ``export`` cannot ask Slack."""

    __tablename__ = "people"

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime]


class ProcessedRequest(Base):
    """Events API deliveries already handled, keyed by event_id, so a redelivery is applied once."""

    __tablename__ = "processed_requests"

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    request_key: Mapped[str] = mapped_column(String(255), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class Customer(Base):
    """A customer onboarding under a plan. The latest signals and score are kept here for fast ticks."""

    __tablename__ = "customers"
    __table_args__ = (
        UniqueConstraint("plan_id", "name_key", name="uq_customers_plan_name"),
        UniqueConstraint("plan_id", "external_id", name="uq_customers_plan_external_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(200))  # casefolded, so "ACME" and "Acme" are one customer
    # The customer's id in the team's CRM: every write path (command, CSV, API) upserts by it, and nothing changes it.
    external_id: Mapped[str] = mapped_column(String(100))
    segment: Mapped[str | None] = mapped_column(String(200))
    owner_id: Mapped[str | None] = mapped_column(String(32))
    start_date: Mapped[date]
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    signals: Mapped[dict[str, Any]] = mapped_column(default=dict)  # factor key -> latest value
    # factor key -> when that latest value was true (ISO 8601): an older observation never replaces it.
    signal_times: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")
    score: Mapped[float | None]
    band: Mapped[str | None] = mapped_column(String(16))
    scored_at: Mapped[datetime | None]
    # The band the team last heard about (digest or alert): a worse band than this triggers an alert.
    reported_band: Mapped[str | None] = mapped_column(String(16))
    reported_score: Mapped[float | None]


class CustomerMilestone(Base):
    """One plan milestone for one customer, with its own deadline."""

    __tablename__ = "customer_milestones"
    __table_args__ = (
        UniqueConstraint("customer_id", "position", name="uq_customer_milestones_customer_position"),
        Index("ix_customer_milestones_open", "plan_id", "completed_on", "alerted_at", "due_date"),
        # Scoring reads a plan's milestones by customer, in order, from the index alone (migration 0008).
        Index(
            "ix_customer_milestones_scoring", "plan_id", "customer_id", "position", "due_date", "completed_on", "name"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    position: Mapped[int]  # 0-based index of the milestone in the plan
    name: Mapped[str] = mapped_column(String(200))
    due_date: Mapped[date]
    completed_on: Mapped[date | None]
    completed_by: Mapped[str | None] = mapped_column(String(32))
    extended_by: Mapped[str | None] = mapped_column(String(32))
    alerted_at: Mapped[datetime | None]


class SignalReading(Base):
    """Every signal value ever recorded (the customer row keeps only the latest per factor)."""

    __tablename__ = "signal_readings"
    __table_args__ = (
        Index("ix_signal_readings_customer", "customer_id", "factor", "recorded_at"),
        Index("ix_signal_readings_observed", "customer_id", "factor", "observed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    factor: Mapped[str] = mapped_column(String(100))
    value: Mapped[float]
    recorded_by: Mapped[str] = mapped_column(String(32))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)  # when the bot received it
    observed_at: Mapped[datetime]  # when it was true (the receipt, unless said)
    source: Mapped[str] = mapped_column(String(120), server_default="slack")  # slack, csv, or api:<token name>


class HealthScore(Base):
    """Every computed score, with the breakdown that explains it."""

    __tablename__ = "health_scores"
    __table_args__ = (Index("ix_health_scores_customer", "customer_id", "computed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    computed_at: Mapped[datetime]
    score: Mapped[float | None]
    band: Mapped[str | None] = mapped_column(String(16))
    breakdown: Mapped[dict[str, Any]]


class Alert(Base):
    """An alert the team was sent; ``key`` makes each one happen once, ever."""

    __tablename__ = "alerts"
    __table_args__ = (UniqueConstraint("team_id", "key", name="uq_alerts_team_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    milestone_id: Mapped[int | None] = mapped_column(ForeignKey("customer_milestones.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # "missed" or "band"
    key: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    acknowledged_by: Mapped[str | None] = mapped_column(String(32))
    acknowledged_at: Mapped[datetime | None]


# Outbox statuses of a post that is not delivered yet (pending: waiting; sending: claimed, or maybe in Slack).
UNDELIVERED_SQL = "status IN ('pending', 'sending')"


class OutboxMessage(Base):
    """A Slack post waiting to be delivered, written in the same transaction as the change that caused it."""

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("team_id", "key", name="uq_outbox_team_key"),
        Index("ix_outbox_due", "status", "next_attempt_at"),
        # Each channel's queue: only posts not yet delivered, so finding every channel's head stays as fast
        # however many sent posts the table keeps. Queries repeat this predicate literally (storage.outbox).
        Index(
            "ix_outbox_queue",
            "team_id",
            "channel_id",
            "id",
            sqlite_where=text(UNDELIVERED_SQL),
            postgresql_where=text(UNDELIVERED_SQL),
        ),
        Index("ix_outbox_parent_id", "parent_id"),  # a failed post fails its thread replies
        # The outbox keeps every sent post, so a read on a request's path seeks on every column it compares: a
        # plan's posts by status (`/onboarding status`: its backlog and failed posts), and the post a button was
        # clicked on by its ts (``storage.outbox.find_posted``). Both scanned all of a plan's or team's posts before
        # (bench/history_reads.py, migration 0009).
        Index("ix_outbox_plan_status", "plan_id", "status", "id"),
        Index("ix_outbox_posted", "team_id", "channel_id", "ts"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"))
    channel_id: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(200))  # idempotency key, also stamped on the message's metadata
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id", ondelete="CASCADE"))  # post in its thread
    thread_ts: Mapped[str | None] = mapped_column(String(32))  # or in the thread of a message posted directly
    message: Mapped[dict[str, Any]]  # chat.postMessage arguments: text, blocks
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending, sending, sent, failed
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[datetime | None]
    ts: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class JobRun(Base):
    """A scheduled job that ran for a given period, so ticking twice for one instant does nothing new."""

    __tablename__ = "job_runs"
    __table_args__ = (UniqueConstraint("team_id", "job", "period", name="uq_job_runs_job_period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    job: Mapped[str] = mapped_column(String(64))  # e.g. "health:42"
    period: Mapped[str] = mapped_column(String(64))  # e.g. the scheduled instant, ISO-8601
    ran_at: Mapped[datetime]


class SectionThread(Base):
    """The channel thread where the team discusses one Step 3 section."""

    __tablename__ = "section_threads"
    __table_args__ = (
        UniqueConstraint("plan_id", "section", name="uq_section_threads_plan_section"),
        Index("ix_section_threads_channel_ts", "team_id", "channel_id", "ts"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"))
    section: Mapped[str] = mapped_column(String(32))
    channel_id: Mapped[str] = mapped_column(String(32))
    ts: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DiscussionMessage(Base):
    """A reply in a section's thread, kept current through edits and deletions."""

    __tablename__ = "discussion_messages"
    __table_args__ = (
        UniqueConstraint("team_id", "channel_id", "ts", name="uq_discussion_messages_message"),
        # A section's latest replies, newest first, when its form opens (migration 0009).
        Index("ix_discussion_messages_latest", "plan_id", "section", "posted_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"))
    section: Mapped[str] = mapped_column(String(32))
    channel_id: Mapped[str] = mapped_column(String(32))
    ts: Mapped[str] = mapped_column(String(32))
    thread_ts: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    permalink: Mapped[str | None] = mapped_column(String(500))
    posted_at: Mapped[datetime]
    edited_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]


# Plan changes that came from a Slack message. Queries say ``source_user_id IS NOT NULL`` as it is written here, so
# SQLite can use the partial index that holds only those.
SOURCED_SQL = "source_user_id IS NOT NULL"


class PlanChange(Base):
    """One field of one section changed by someone: the plan's history."""

    __tablename__ = "plan_changes"
    __table_args__ = (
        # A section's changes since a form opened, and a plan's latest saves (migration 0009).
        Index("ix_plan_changes_section", "plan_id", "section", "section_version", "id"),
        # The few changes that came from a Slack message, credited when the plan is confirmed.
        Index(
            "ix_plan_changes_sourced",
            "plan_id",
            "id",
            sqlite_where=text(SOURCED_SQL),
            postgresql_where=text(SOURCED_SQL),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"))
    section: Mapped[str] = mapped_column(String(32))
    path: Mapped[str] = mapped_column(String(100))
    label: Mapped[str] = mapped_column(String(200))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    user_id: Mapped[str] = mapped_column(String(32))
    changed_at: Mapped[datetime]
    section_version: Mapped[int]
    # Set when the value came from a Slack message (the message shortcut): who wrote it, and where.
    source_user_id: Mapped[str | None] = mapped_column(String(32))
    source_permalink: Mapped[str | None] = mapped_column(String(500))


class ApiToken(Base):
    """A bearer token for one plan's HTTP API. Only its SHA-256 is kept: the token is shown once, to its creator."""

    __tablename__ = "api_tokens"
    __table_args__ = (
        UniqueConstraint("token_hash", name="uq_api_tokens_hash"),
        UniqueConstraint("plan_id", "name", name="uq_api_tokens_plan_name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class ApiRequest(Base):
    """An API batch sent with an ``Idempotency-Key``, and the answer it got: a retry gets the same answer."""

    __tablename__ = "api_requests"

    token_id: Mapped[int] = mapped_column(ForeignKey("api_tokens.id", ondelete="CASCADE"), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))  # the same key with another body is refused
    status: Mapped[int]
    response: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
