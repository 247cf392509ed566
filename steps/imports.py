"""Customers and signals arriving in bulk (a CSV file, an API batch): one validation core for every way in.

A row is a mapping of column → text (or JSON value). Each kind has documented columns; a row is either valid, or
rejected with the row number, column and reason, and the caller applies only the valid rows. Nothing here reads a
database or Slack: which ids and names already exist is the storage layer's business.
"""

from __future__ import annotations

import itertools
import math
import re
import sys
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Annotated, Any, Generic, NamedTuple, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from steps.step3 import MAX_SCORE, SlackUserId, blank_to_none
from steps.validation import friendly_errors

MAX_EXTERNAL_ID = 100
MAX_NAME = 200
MAX_SEGMENT = 200
MAX_FACTOR = 100
MAX_REMEMBERED_IDS = 1_000_000  # distinct id cells a checker remembers: a plan's customers, with room to spare
MAX_REMEMBERED_VALUES = 100_000  # distinct value cells: whole scores are 101, decimals a bounded few more


class Kind(StrEnum):
    CUSTOMERS = "customers"
    SIGNALS = "signals"


def _slack_user(value: Any) -> Any:
    """An owner as a Slack user id; a pasted mention (``<@U123|jane>``) is read as its id."""
    value = blank_to_none(value)
    if isinstance(value, str):
        match = re.fullmatch(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>", value)
        return match.group(1) if match else value
    return value


ExternalId = Annotated[
    str, BeforeValidator(blank_to_none), Field(min_length=1, max_length=MAX_EXTERNAL_ID, pattern=r"^[^\s<>|]+$")
]


class CustomerRow(BaseModel):
    """One customer: ``id`` (the CRM's), ``name``; optionally ``start`` (YYYY-MM-DD), ``owner`` (a Slack user
    id), ``segment``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: ExternalId
    name: Annotated[str, BeforeValidator(blank_to_none), Field(min_length=1, max_length=MAX_NAME)]
    start: Annotated[date | None, BeforeValidator(blank_to_none)] = None
    owner: Annotated[SlackUserId | None, BeforeValidator(_slack_user)] = None
    segment: Annotated[Annotated[str, Field(max_length=MAX_SEGMENT)] | None, BeforeValidator(blank_to_none)] = None


class SignalRow(BaseModel):
    """One observation: ``id`` (the customer's), ``factor`` (its key, e.g. ``adoption``), ``value`` (0-100);
    optionally ``observed_at`` (ISO 8601, when it was true; the time of receipt when left out)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: ExternalId
    factor: Annotated[str, BeforeValidator(blank_to_none), Field(min_length=1, max_length=MAX_FACTOR)]
    value: Annotated[float, BeforeValidator(blank_to_none), Field(ge=0, le=MAX_SCORE, allow_inf_nan=False)]
    observed_at: Annotated[datetime | None, BeforeValidator(blank_to_none)] = None


COLUMNS: dict[Kind, tuple[str, ...]] = {
    Kind.CUSTOMERS: tuple(CustomerRow.model_fields),
    Kind.SIGNALS: tuple(SignalRow.model_fields),
}
REQUIRED: dict[Kind, tuple[str, ...]] = {
    Kind.CUSTOMERS: ("id", "name"),
    Kind.SIGNALS: ("id", "factor", "value"),
}


class CustomerData(NamedTuple):
    """A valid customer row: what ``CustomerRow`` validated, as a plain tuple (a file can hold 100,000 of them)."""

    id: str
    name: str
    start: date | None
    owner: str | None
    segment: str | None


class SignalData(NamedTuple):
    """A valid signal row, as ``SignalRow`` validated it."""

    id: str
    factor: str
    value: float
    observed_at: datetime | None


R = TypeVar("R", CustomerData, SignalData)


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
    return RowChecker(kind, factors=factors, now=now).check(rows)


class _Slow(Exception):
    """A value the quick reading is not sure of: the row goes through the pydantic model, which says what is wrong."""


class RowChecker:
    """``check_rows`` a part of a file at a time: what it remembers (ids and observations already seen) spans the
    parts, so a file read in chunks is checked exactly as if whole.

    Most rows of a real file are plain (``crm-123,adoption,55,2026-11-20T09:00:00Z``): those are read by a few
    string checks that accept only what the models accept, to the same values; any other row is validated by the
    model, which gives the reasons. tests/test_import_rows.py checks that both readings agree.
    """

    def __init__(self, kind: Kind, *, factors: Sequence[str] = (), now: datetime | None = None) -> None:
        self.kind = kind
        self.factors = list(factors)
        self._factor = {factor: factor for factor in factors if len(factor) <= MAX_FACTOR}
        self.now = now
        self._first_row: dict[str, int] = {}
        # Observations seen, by (id, factor, instant number): a file repeats few instants, so each distinct one is
        # numbered once (equal instants in any notation get one number) and the keys hash quickly.
        self._seen_signals: dict[tuple[str, str, int], int] = {}
        self._instant_numbers: dict[datetime, int] = {}
        self._instant_texts: dict[str, datetime] = {}
        self._ids: dict[str, str] = {}  # an id cell as given → the id it reads as (a customer's rows repeat it)
        self._values: dict[str, float] = {}  # a value cell as given → its number (scores repeat: 0-100)

    def check(self, rows: Iterable[tuple[int, Mapping[str, Any]]]) -> Checked[Any]:
        checked: Checked[Any] = Checked()
        customers = self.kind is Kind.CUSTOMERS
        model: type[BaseModel] = CustomerRow if customers else SignalRow
        columns = COLUMNS[self.kind]
        for number, raw in rows:
            try:
                row: CustomerData | SignalData = _quick_customer(raw) if customers else self._quick_signal(raw)
            except _Slow:
                try:
                    validated = model.model_validate({key: value for key, value in raw.items() if key in columns})
                except ValidationError as exc:
                    for error in friendly_errors(exc):
                        column = ".".join(str(part) for part in error.loc) or "row"
                        checked.rejected.append(Rejected(number, column, error.message))
                    continue
                row = _data(validated)
            if isinstance(row, CustomerData):
                first = self._first_row.setdefault(row.id, number)
                if first != number:
                    checked.rejected.append(Rejected(number, "id", f"“{row.id}” is already on row {first}."))
                    continue
            else:
                problem = _signal_problem(row, self.factors, self.now)
                if problem is not None:
                    checked.rejected.append(Rejected(number, *problem))
                    continue
                if row.observed_at is not None:
                    instant = self._instant_numbers.setdefault(row.observed_at, len(self._instant_numbers))
                    first = self._seen_signals.setdefault((row.id, row.factor, instant), number)
                    if first != number:
                        reason = f"The same observation is already on row {first}."
                        checked.rejected.append(Rejected(number, "observed_at", reason))
                        continue
            checked.valid.append((number, row))
        return checked

    def _quick_signal(self, raw: Mapping[str, Any]) -> SignalData:
        # Cells are looked up as given first: a file repeats its few factors and instants on every row.
        given = raw.get("factor")
        factor = self._factor.get(given) if type(given) is str else None
        if factor is None:
            factor = self._factor.get(_text(given) or "")
            if factor is None:
                raise _Slow
        given = raw.get("observed_at")
        at = self._instant_texts.get(given) if type(given) is str else None
        if at is None:
            text = _text(given)
            if text is not None:
                at = self._instant_texts[str(given)] = _quick_instant(text)  # text, so given is a str
        given = raw.get("id")
        known = self._ids.get(given) if type(given) is str else None
        if known is None:
            known = _quick_id(given)
            if len(self._ids) < MAX_REMEMBERED_IDS:
                self._ids[str(given)] = known  # _quick_id took it, so it is a str
        given = raw.get("value")
        value = self._values.get(given) if type(given) is str else None
        if value is None:
            value = _quick_value(given)
            if type(given) is str and len(self._values) < MAX_REMEMBERED_VALUES:
                self._values[given] = value
        return SignalData(known, factor, value, at)


# What the quick reading accepts: a subset of what the models accept (ASCII ids, plain decimals, ISO instants).
_QUICK_ID = re.compile(r"[!-;=?-{}~]{1," + str(MAX_EXTERNAL_ID) + "}")  # printable ASCII but < > |
_QUICK_OWNER = re.compile(r"[UW][A-Z0-9]{2,30}")
_QUICK_NUMBER = re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,12})?")
_QUICK_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_QUICK_INSTANT = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?(?:Z|[+-][0-9]{2}:[0-9]{2})"
)


def _text(value: Any) -> str | None:
    """A cell as the models' ``blank_to_none`` reads it; anything but text or nothing is the model's to judge."""
    if value is None:
        return None
    if type(value) is not str:
        raise _Slow
    return value.strip() or None


def _quick_id(value: Any) -> str:
    text = _text(value)
    if text is None or not _QUICK_ID.fullmatch(text):
        raise _Slow
    return sys.intern(text)  # one string per id however many rows name it


def _quick_value(value: Any) -> float:
    if type(value) is str:
        text = value.strip()
        if not _QUICK_NUMBER.fullmatch(text):
            raise _Slow
        number = float(text)
    elif type(value) is int or type(value) is float:  # a JSON number (not a bool: the model decides those)
        number = float(value)
    else:
        raise _Slow
    if not (math.isfinite(number) and 0 <= number <= MAX_SCORE):
        raise _Slow
    return number


def _quick_instant(text: str) -> datetime:
    if not _QUICK_INSTANT.fullmatch(text):
        raise _Slow
    try:
        return datetime.fromisoformat(text)
    except ValueError:  # a 25th hour, a 30th of February: the model says so
        raise _Slow from None


def _quick_customer(raw: Mapping[str, Any]) -> CustomerData:
    name = _text(raw.get("name"))
    if name is None or len(name) > MAX_NAME:
        raise _Slow
    start: date | None
    given = raw.get("start")
    if type(given) is date:  # the slash command passes a parsed date
        start = given
    else:
        text = _text(given)
        if text is not None and not _QUICK_DATE.fullmatch(text):
            raise _Slow
        try:
            start = None if text is None else date.fromisoformat(text)
        except ValueError:
            raise _Slow from None
    owner = _text(raw.get("owner"))
    if owner is not None and not _QUICK_OWNER.fullmatch(owner):
        raise _Slow
    segment = _text(raw.get("segment"))
    if segment is not None and len(segment) > MAX_SEGMENT:
        raise _Slow
    return CustomerData(_quick_id(raw.get("id")), name, start, owner, segment)


def _data(row: BaseModel) -> CustomerData | SignalData:
    if isinstance(row, CustomerRow):
        return CustomerData(sys.intern(row.id), row.name, row.start, row.owner, row.segment)
    if isinstance(row, SignalRow):
        return SignalData(sys.intern(row.id), row.factor, row.value, row.observed_at)
    raise TypeError(f"not an import row: {type(row).__name__}")


def _signal_problem(row: SignalData, factors: Sequence[str], now: datetime | None) -> tuple[str, str] | None:
    if row.factor not in factors:
        known = ", ".join(factors) or "none"
        return "factor", f"“{row.factor[:40]}” is not a factor of this plan (its factors: {known})."
    if row.observed_at is not None:
        if row.observed_at.tzinfo is None:
            return "observed_at", "Give a time zone, like 2026-12-01T09:00:00Z or +01:00."
        if now is not None and row.observed_at > now:
            return "observed_at", "This is in the future; an observation is of something already true."
    return None


def observed(row: SignalData, received_at: datetime) -> datetime:
    """When a value was true: as given, else when it was received."""
    return (row.observed_at or received_at).astimezone(UTC)


def id_candidates(name: str) -> Iterator[str]:
    """The ids a customer added without one may get, in order: its name in lower case with dashes, then numbered."""
    base = re.sub(r"[^a-z0-9]+", "-", name.casefold()).strip("-")[:60] or "customer"
    yield base
    yield from (f"{base}-{n}" for n in itertools.count(2))


def assigned_id(name: str, taken: Callable[[list[str]], Collection[str]], batch: int = 20) -> str:
    """The first of ``id_candidates`` not ``taken``, asked about ``batch`` candidates at a time (``taken`` returns
    which of them are), so a plan's store is asked about a few ids, not read whole."""
    candidates = id_candidates(name)
    while True:
        asked = list(itertools.islice(candidates, batch))
        used = taken(asked)
        for candidate in asked:
            if candidate not in used:
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
