"""Customers and signals arriving in bulk (a CSV file, an API batch): one validation core for every way in.

A row is a mapping of column → text (or JSON value). Each kind has documented columns; a row is either valid, or
rejected with the row number, column and reason, and the caller applies only the valid rows. Nothing here reads a
database or Slack: which ids and names already exist is the storage layer's business.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from steps.step3 import MAX_SCORE
from steps.validation import friendly_errors

MAX_EXTERNAL_ID = 100
MAX_NAME = 200
MAX_SEGMENT = 200


class Kind(StrEnum):
    CUSTOMERS = "customers"
    SIGNALS = "signals"


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def _slack_user(value: Any) -> Any:
    """An owner as a Slack user id; a pasted mention (``<@U123|jane>``) is read as its id."""
    value = _blank_to_none(value)
    if isinstance(value, str):
        match = re.fullmatch(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>", value)
        return match.group(1) if match else value
    return value


ExternalId = Annotated[
    str, BeforeValidator(_blank_to_none), Field(min_length=1, max_length=MAX_EXTERNAL_ID, pattern=r"^[^\s<>|]+$")
]


class CustomerRow(BaseModel):
    """One customer: ``id`` (the CRM's), ``name``; optionally ``start`` (YYYY-MM-DD), ``owner`` (a Slack user
    id), ``segment``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: ExternalId
    name: Annotated[str, BeforeValidator(_blank_to_none), Field(min_length=1, max_length=MAX_NAME)]
    start: Annotated[date | None, BeforeValidator(_blank_to_none)] = None
    owner: Annotated[Annotated[str, Field(pattern=r"^[UW][A-Z0-9]{2,30}$")] | None, BeforeValidator(_slack_user)] = None
    segment: Annotated[Annotated[str, Field(max_length=MAX_SEGMENT)] | None, BeforeValidator(_blank_to_none)] = None


class SignalRow(BaseModel):
    """One observation: ``id`` (the customer's), ``factor`` (its key, e.g. ``adoption``), ``value`` (0-100);
    optionally ``observed_at`` (ISO 8601, when it was true; the time of receipt when left out)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: ExternalId
    factor: Annotated[str, BeforeValidator(_blank_to_none), Field(min_length=1, max_length=100)]
    value: Annotated[float, BeforeValidator(_blank_to_none), Field(ge=0, le=MAX_SCORE, allow_inf_nan=False)]
    observed_at: Annotated[datetime | None, BeforeValidator(_blank_to_none)] = None


COLUMNS: dict[Kind, tuple[str, ...]] = {
    Kind.CUSTOMERS: tuple(CustomerRow.model_fields),
    Kind.SIGNALS: tuple(SignalRow.model_fields),
}
REQUIRED: dict[Kind, tuple[str, ...]] = {
    Kind.CUSTOMERS: ("id", "name"),
    Kind.SIGNALS: ("id", "factor", "value"),
}

R = TypeVar("R", CustomerRow, SignalRow)


@dataclass(frozen=True)
class Rejected:
    """A row left out, and why: ``row`` counts as a spreadsheet does (the header is row 1), or an API item's index."""

    row: int
    column: str
    reason: str


@dataclass
class Checked(Generic[R]):
    valid: list[tuple[int, R]] = field(default_factory=list)  # (row number, row)
    rejected: list[Rejected] = field(default_factory=list)


def check_rows(
    kind: Kind,
    rows: Iterable[tuple[int, Mapping[str, Any]]],
    *,
    factors: Sequence[str] = (),
    now: datetime | None = None,
) -> Checked[Any]:
    """Validate numbered rows of ``kind``. Signals need the plan's ``factors`` and ``now`` (no observation from the
    future); a customer id given twice is rejected after its first row (a file is one statement of the truth)."""
    model: type[BaseModel] = CustomerRow if kind is Kind.CUSTOMERS else SignalRow
    checked: Checked[Any] = Checked()
    first_row: dict[str, int] = {}
    seen_signals: dict[tuple[str, str, datetime | None], int] = {}
    for number, raw in rows:
        try:
            row = model.model_validate({key: value for key, value in raw.items() if key in COLUMNS[kind]})
        except ValidationError as exc:
            for error in friendly_errors(exc):
                column = ".".join(str(part) for part in error.loc) or "row"
                checked.rejected.append(Rejected(number, column, error.message))
            continue
        if isinstance(row, CustomerRow):
            if row.id in first_row:
                checked.rejected.append(Rejected(number, "id", f"“{row.id}” is already on row {first_row[row.id]}."))
                continue
            first_row[row.id] = number
        elif isinstance(row, SignalRow):
            problem = _signal_problem(row, factors, now)
            if problem is not None:
                checked.rejected.append(Rejected(number, *problem))
                continue
            key = (row.id, row.factor, row.observed_at)
            if row.observed_at is not None and key in seen_signals:
                reason = f"The same observation is already on row {seen_signals[key]}."
                checked.rejected.append(Rejected(number, "observed_at", reason))
                continue
            seen_signals[key] = number
        checked.valid.append((number, row))
    return checked


def _signal_problem(row: SignalRow, factors: Sequence[str], now: datetime | None) -> tuple[str, str] | None:
    if row.factor not in factors:
        known = ", ".join(factors) or "none"
        return "factor", f"“{row.factor[:40]}” is not a factor of this plan (its factors: {known})."
    if row.observed_at is not None:
        if row.observed_at.tzinfo is None:
            return "observed_at", "Give a time zone, like 2026-12-01T09:00:00Z or +01:00."
        if now is not None and row.observed_at > now:
            return "observed_at", "This is in the future; an observation is of something already true."
    return None


def observed(row: SignalRow, received_at: datetime) -> datetime:
    """When a value was true: as given, else when it was received."""
    return (row.observed_at or received_at).astimezone(UTC)


def assigned_id(name: str, taken: Iterable[str]) -> str:
    """An id for a customer added without one: its name in lower case with dashes, numbered if already used."""
    base = re.sub(r"[^a-z0-9]+", "-", name.casefold()).strip("-")[:60] or "customer"
    used = set(taken)
    candidate, n = base, 1
    while candidate in used:
        n += 1
        candidate = f"{base}-{n}"
    return candidate


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0

    def __str__(self) -> str:
        return f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged, {self.rejected} rejected"


@dataclass
class ImportReport:
    """What one batch did (or, on a dry run, would do)."""

    kind: Kind
    counts: Counts
    rejected: list[Rejected]
    dry_run: bool = False
    results: dict[int, str] = field(default_factory=dict)  # row number -> created / updated / unchanged

    def add_rejected(self, rejected: Iterable[Rejected]) -> None:
        for item in rejected:
            self.rejected.append(item)
        self.rejected.sort(key=lambda r: r.row)
        self.counts.rejected = len({r.row for r in self.rejected})


def rejected_rows(report: ImportReport) -> list[dict[str, Any]]:
    """The rejected rows as a table (row, column, reason), for a CSV or an API answer."""
    return [{"row": r.row, "column": r.column, "reason": r.reason} for r in report.rejected]
