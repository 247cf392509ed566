"""Database tables. Every row carries the Slack team id so workspaces never see each other's data."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[str]: JSON}


class Plan(Base):
    """One onboarding-flow plan per Slack channel."""

    __tablename__ = "plans"
    __table_args__ = (UniqueConstraint("team_id", "channel_id", name="uq_plans_team_channel"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32), index=True)
    channel_id: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    hub_ts: Mapped[str | None] = mapped_column(String(32))
    steps_completed: Mapped[list[str]] = mapped_column(default=list)

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
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

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
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ProcessedRequest(Base):
    """Slack requests already handled, keyed by event_id or trigger_id, so a redelivery is applied once."""

    __tablename__ = "processed_requests"

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    request_key: Mapped[str] = mapped_column(String(255), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
