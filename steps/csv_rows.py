"""A CSV file of customers or signals, read into numbered rows for ``steps.imports``.

UTF-8 with or without a byte-order mark; comma or semicolon (spreadsheets in many locales write semicolons);
header names matched case-insensitively, in any order. A file that cannot be one of ours is refused as a whole with
one clear reason, before any row is applied.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from steps.errors import UserError
from steps.imports import COLUMNS, REQUIRED, Kind

MAX_FILE_BYTES = 64 * 1024 * 1024  # about a million signal rows; bigger files are split or sent to the API
_SNIFF_BYTES = 64 * 1024


@dataclass(frozen=True)
class CsvFile:
    """A decoded file: its columns (as ours are named) and its rows, each with its row number (header = 1)."""

    kind: Kind
    columns: tuple[str, ...]
    rows: list[tuple[int, dict[str, str | None]]]


@dataclass(frozen=True)
class CsvRows:
    """A file checked as a whole (size, encoding, header), its rows read one at a time as they are iterated.

    A million rows held as dicts at once would take more memory than the import itself; iterated, only the rows
    being checked are in memory. A malformed line further down still raises ``UserError`` while iterating.
    """

    kind: Kind
    columns: tuple[str, ...]
    rows: Iterator[tuple[int, dict[str, str | None]]]


def check_size(size: int) -> None:
    """Refuse a file too big to import before reading it."""
    if size > MAX_FILE_BYTES:
        raise UserError(
            f"This file is {size / 1_048_576:.1f} MB; the limit is {MAX_FILE_BYTES // 1_048_576} MB. Split it, or send "
            "the rows to the HTTP API in batches."
        )


def read_csv(kind: Kind, content: bytes) -> CsvFile:
    """The rows of ``content``, or ``UserError`` saying why the file as a whole cannot be imported."""
    opened = iter_csv(kind, content)
    return CsvFile(kind, opened.columns, list(opened.rows))


def iter_csv(kind: Kind, content: bytes) -> CsvRows:
    """``read_csv``, with the rows read lazily: the whole file's checks happen here, before any row is read."""
    check_size(len(content))
    _check_text(content)
    # Decoded a block at a time from the bytes (a BytesIO shares them): never a second copy of the whole file.
    text = io.TextIOWrapper(io.BytesIO(content), encoding="utf-8-sig", newline="")
    first = text.readline()
    text.seek(0)
    reader = csv.reader(text, delimiter=_delimiter(first))
    try:
        header = next(reader)
    except csv.Error as exc:
        raise UserError(f"This is not a CSV file this bot can read ({exc}).") from None
    columns = _columns(kind, header)
    return CsvRows(kind, tuple(c for _, c in columns if c), _rows(reader, columns))


def _rows(reader: Any, columns: list[tuple[int, str | None]]) -> Iterator[tuple[int, dict[str, str | None]]]:
    read = [(i, column) for i, column in columns if column]
    try:
        for values in reader:
            if not (values and values[0].strip()) and not any(value.strip() for value in values):
                continue  # blank lines (a trailing newline, a spacer row) are not rows
            count = len(values)
            yield reader.line_num, {column: (values[i] if i < count else None) for i, column in read}
    except csv.Error as exc:
        raise UserError(f"Line {reader.line_num} is not valid CSV ({exc}); nothing was imported.") from None


def _check_text(content: bytes) -> None:
    if b"\x00" in content[:_SNIFF_BYTES]:
        raise UserError("This is not a CSV file: it holds binary data (a spreadsheet? export it as CSV UTF-8).")
    try:
        text = content.decode("utf-8-sig")  # checked whole before any row is used, then let go
    except UnicodeDecodeError as exc:
        raise UserError(
            f"The file is not UTF-8 text (byte {exc.start + 1} cannot be read). Save it as “CSV UTF-8” and try again."
        ) from None
    if not text or text.isspace():  # not strip(): that would copy the whole text
        raise UserError("The file is empty.")


def _delimiter(first: str) -> str:
    return ";" if first.count(";") > first.count(",") else ","


def _columns(kind: Kind, header: list[str]) -> list[tuple[int, str | None]]:
    """Each header cell as one of our columns (None: a column we do not read), checked for the required ones."""
    wanted = {column.casefold(): column for column in COLUMNS[kind]}
    found: list[tuple[int, str | None]] = []
    seen: set[str] = set()
    for index, cell in enumerate(header):
        column = wanted.get(cell.strip().casefold())
        if column is not None and column in seen:
            raise UserError(f"The column “{column}” appears twice in the header.")
        if column is not None:
            seen.add(column)
        found.append((index, column))
    missing = [column for column in REQUIRED[kind] if column not in seen]
    if missing:
        names = ", ".join(f"“{m}”" for m in missing)
        expected = ", ".join(COLUMNS[kind])
        raise UserError(
            f"The file has no {names} column. A {kind.value} file has a header row with these columns: {expected} "
            "(the first line of the file)."
        )
    return found


def rejected_csv(rows: Iterator[tuple[int, str, str]] | list[tuple[int, str, str]]) -> str:
    """The rejected rows as a CSV file (row, column, reason) to hand back to the person who sent them."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["row", "column", "reason"])
    writer.writerows(rows)
    return out.getvalue()
