"""The quick reading of import rows (``steps.imports.RowChecker``) agrees with the pydantic models it stands in for.

Whatever the quick reading accepts, the model accepts too, to the same values; whatever it is unsure of goes to the
model. Generated cells mix the shapes real files have with the edge cases around them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from steps.imports import (
    CustomerData,
    CustomerRow,
    Kind,
    RowChecker,
    SignalData,
    SignalRow,
    _quick_customer,
    _Slow,
    assigned_id,
    check_rows,
)

FACTORS = ["adoption", "engagement", "tickets"]
NOW = datetime(2026, 11, 28, tzinfo=UTC)

pieces = st.sampled_from(["", " ", "\t", "0", "5", "55.5", "100", "100.0", "100.5", "-1", "1e1", "nan", "inf", "1_0",
                          "050", "crm-1", "crm 1", "<@U0ALICE01>", "U0ALICE01", "W12", "u0alice", "é", "|", "<", ">",
                          "2026-11-20", "2026-02-30", "2026-11-20T09:00:00Z", "2026-11-20T09:00:00+01:00",
                          "2026-11-20T09:00:00-00:00", "2026-11-20T09:00:00.5Z", "2026-11-20T24:00:00Z",
                          "2026-11-20T09:00:00", "2026-11-20 09:00:00Z", "adoption", "Adoption", "x" * 101,
                          "y" * 201, "\u00a0", "\x1c", "0.000000000001", "99.999999999999"])  # fmt: skip
cells = st.one_of(
    st.none(),
    st.lists(pieces, min_size=1, max_size=3).map("".join),
    st.text(max_size=12),
    st.integers(-5, 105),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
)


def _signal(raw: dict[str, Any]) -> SignalData | None:
    try:
        row = SignalRow.model_validate(raw)
    except ValidationError:
        return None
    return SignalData(row.id, row.factor, row.value, row.observed_at)


def _customer(raw: dict[str, Any]) -> CustomerData | None:
    try:
        row = CustomerRow.model_validate(raw)
    except ValidationError:
        return None
    return CustomerData(row.id, row.name, row.start, row.owner, row.segment)


@settings(max_examples=3000, deadline=None)
@given(st.fixed_dictionaries({"id": cells, "factor": cells, "value": cells, "observed_at": cells}))
def test_quick_signals_agree_with_the_model(raw: dict[str, Any]) -> None:
    checker = RowChecker(Kind.SIGNALS, factors=FACTORS, now=NOW)
    try:
        quick = checker._quick_signal(raw)
    except _Slow:
        return
    assert quick == _signal(raw)


@settings(max_examples=3000, deadline=None)
@given(st.fixed_dictionaries({"id": cells, "name": cells, "start": st.one_of(cells, st.just(date(2026, 11, 2))),
                              "owner": cells, "segment": cells}))  # fmt: skip
def test_quick_customers_agree_with_the_model(raw: dict[str, Any]) -> None:
    try:
        quick = _quick_customer(raw)
    except _Slow:
        return
    assert quick == _customer(raw)


def test_plain_rows_take_the_quick_reading_and_odd_ones_the_model() -> None:
    checked = check_rows(
        Kind.SIGNALS,
        [(2, {"id": "crm-1", "factor": "adoption", "value": "55.5", "observed_at": "2026-11-20T09:00:00Z"}),
         (3, {"id": "crm-1", "factor": "adoption", "value": " 1e1 ", "observed_at": None}),
         (4, {"id": "crm-1", "factor": "adoption", "value": "101", "observed_at": None})],
        factors=FACTORS, now=NOW,
    )  # fmt: skip
    assert [(n, row.value) for n, row in checked.valid] == [(2, 55.5), (3, 10.0)]
    assert [(r.row, r.column) for r in checked.rejected] == [(4, "value")]


def test_a_file_checked_in_parts_is_checked_as_if_whole() -> None:
    checker = RowChecker(Kind.CUSTOMERS)
    first = checker.check([(2, {"id": "crm-1", "name": "Acme"})])
    second = checker.check([(3, {"id": "crm-1", "name": "Acme again"})])
    assert len(first.valid) == 1 and [(r.row, r.reason) for r in second.rejected] == [
        (3, "“crm-1” is already on row 2.")
    ]


def test_a_customer_added_without_an_id_gets_the_first_free_one_of_its_name() -> None:
    asked: list[list[str]] = []

    def taken(candidates: list[str]) -> set[str]:
        asked.append(candidates)
        return {c for c in candidates if c == "acme-corp" or (c.startswith("acme-corp-") and int(c[10:]) <= 25)}

    assert assigned_id("ACME Corp!", taken) == "acme-corp-26"
    assert [len(batch) for batch in asked] == [20, 20]  # asked 20 ids at a time, never the whole plan
    assert assigned_id("Globex", lambda _candidates: set()) == "globex"
    assert assigned_id("!!!", lambda candidates: {"customer"}) == "customer-2"
