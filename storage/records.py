"""What the storage modules hand out: plain frozen records, never ORM rows.

A record is a snapshot read in one transaction; changing something goes through a storage function, so no
caller can alter the database by setting an attribute, and views and use cases can hold records after their
transaction has ended.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any


@dataclass(frozen=True)
class PlanRecord:
    id: int
    team_id: str
    channel_id: str
    name: str
    hub_ts: str | None
    steps_completed: tuple[str, ...]
    alert_channel_id: str | None
    canvas_id: str | None
    canvas_unavailable: str | None
    # Staleness windows the team set, as (factor key, days) pairs so the record stays hashable (factors not listed use
    # the cadence's default), and the share of the weights (percent) a score must rest on (None: the default).
    freshness: tuple[tuple[str, int], ...] = ()
    min_data_share: int | None = None


@dataclass(frozen=True)
class SectionRecord:
    """One section's saved answers; ``version`` grows with every save."""

    section: str
    answers: dict[str, Any]
    version: int
    updated_by: str
    updated_at: datetime


@dataclass(frozen=True)
class DocumentRecord:
    version: int
    markdown: str
    source: str  # the section versions it was composed from
    created_by: str


@dataclass(frozen=True)
class ChangeRecord:
    """One field of one section changed by someone."""

    section: str
    path: str
    label: str
    user_id: str
    changed_at: datetime
    source_user_id: str | None
    version: int = 0  # the section's version this change made
    old: str | None = None  # the value before, as displayed


@dataclass(frozen=True)
class SourcedChange:
    """A field changed from a Slack message (the message shortcut): the values around it, and where it came from."""

    path: str
    old: str | None
    new: str | None
    author: str
    permalink: str | None


@dataclass(frozen=True)
class PersonRecord:
    """A Slack user's name as last read from Slack."""

    user_id: str
    name: str
    updated_at: datetime


@dataclass(frozen=True)
class ThreadRecord:
    """The channel thread where a section is discussed."""

    team_id: str
    plan_id: int
    section: str
    channel_id: str
    ts: str


@dataclass(frozen=True)
class ReplyRecord:
    """A reply in a section's thread, as it reads now."""

    user_id: str
    text: str
    posted_at: datetime
    permalink: str | None
    edited: bool


@dataclass(frozen=True)
class CustomerRecord:
    id: int
    team_id: str
    plan_id: int
    name: str
    segment: str | None
    owner_id: str | None
    start_date: date
    signals: dict[str, float]
    score: float | None
    band: str | None
    external_id: str = ""  # the customer's id in the team's CRM
    signal_times: dict[str, str] | None = None  # factor key -> when its latest value was true (ISO 8601)


@dataclass(frozen=True)
class MilestoneRecord:
    """One plan milestone of one customer, with its own deadline."""

    id: int
    customer_id: int
    position: int  # 0-based index of the milestone in the plan
    name: str
    due_date: date
    completed_on: date | None
    extended_by: str | None
    completed_by: str | None = None


@dataclass(frozen=True)
class AlertRecord:
    id: int
    team_id: str
    plan_id: int
    customer_id: int
    milestone_id: int | None
    acknowledged_by: str | None
    acknowledged_at: datetime | None


@dataclass(frozen=True)
class Backlog:
    """Posts waiting to go out: how many, since when, and what Slack last answered the oldest one that failed."""

    count: int
    oldest_queued_at: datetime
    error: str | None


@dataclass(frozen=True, slots=True)
class PlanStatus:
    """What `/onboarding status` reports about a plan."""

    name: str
    channel_id: str
    alert_channel_id: str | None
    steps_completed: list[str]
    editors: dict[str, str]  # section key -> who last saved it, for the sections saved at least once
    document_versions: int
    backlog: Backlog | None  # posts not in Slack yet
    failed: list[tuple[str, str]]  # posts Slack refused, newest first: what they said, why


@dataclass(frozen=True)
class ApiTokenRecord:
    """A plan's API token as listed: never the token itself, which is shown once and not kept."""

    id: int
    plan_id: int
    name: str
    created_by: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class ApiAnswer:
    """The answer an API batch with an ``Idempotency-Key`` got, and a fingerprint of that batch."""

    request_hash: str
    status: int
    response: dict[str, Any]
