"""`/onboarding import`: the upload form, and the report only the person who sent the file sees."""

from __future__ import annotations

from typing import Any

from bot.blocks.common import Block, context, esc, option, plain, section, sections
from bot.ids import IMPORT_CALLBACK, IMPORT_FILE, IMPORT_KIND, VALUE
from steps.imports import COLUMNS, REQUIRED, ImportReport, Kind

REJECTED_SHOWN = 10  # the rest are in the CSV file sent alongside


def _columns(kind: Kind) -> str:
    return ", ".join(f"`{c}`" if c in REQUIRED[kind] else f"`{c}` (optional)" for c in COLUMNS[kind])


def import_modal(private_metadata: str, plan_name: str, limit_mb: int) -> dict[str, Any]:
    kinds = [
        option(Kind.CUSTOMERS.value, "Customers", "Add or update customers by their CRM id"),
        option(Kind.SIGNALS.value, "Signals", "Health-signal values (0-100) per customer and factor"),
    ]
    blocks: list[Block] = [
        context(
            f"Plan *{esc(plan_name)}*. Rows are matched by `id`: a second import of the same file changes nothing."
        ),
        {
            "type": "input",
            "block_id": IMPORT_KIND,
            "label": plain("What does the file hold?"),
            "element": {"type": "radio_buttons", "action_id": VALUE, "options": kinds, "initial_option": kinds[0]},
        },
        {
            "type": "input",
            "block_id": IMPORT_FILE,
            "label": plain("CSV file"),
            "element": {"type": "file_input", "action_id": VALUE, "filetypes": ["csv"], "max_files": 1},
            "hint": plain(f"UTF-8, comma or semicolon separated, a header row first; up to {limit_mb} MB."),
        },
        section(
            f"*Customers* columns: {_columns(Kind.CUSTOMERS)}.\n*Signals* columns: {_columns(Kind.SIGNALS)}; "
            "`observed_at` is ISO 8601 with a time zone, like `2026-12-01T09:00:00Z`."
        ),
    ]
    return {
        "type": "modal",
        "callback_id": IMPORT_CALLBACK,
        "title": plain("Import a CSV file"),
        "submit": plain("Import"),
        "close": plain("Cancel"),
        "private_metadata": private_metadata,
        "blocks": blocks,
    }


def import_report(report: ImportReport, file_name: str, *, rejected_file: bool) -> dict[str, Any]:
    """What the import did, to the person who sent the file (ephemeral)."""
    counts = report.counts
    head = (
        f":inbox_tray: *{esc(file_name)}* ({report.kind.value}): {counts.created} created, {counts.updated} updated, "
        f"{counts.unchanged} unchanged, {counts.rejected} rejected."
    )
    lines = [head]
    if report.rejected:
        lines.append("Rejected rows (the valid ones were imported):")
        lines += [f"• Row {r.row}, `{esc(r.column)}`: {esc(r.reason)}" for r in report.rejected[:REJECTED_SHOWN]]
        if len(report.rejected) > REJECTED_SHOWN:
            lines.append(f"…and {len(report.rejected) - REJECTED_SHOWN} more.")
        if rejected_file:
            lines.append("Every rejected row is in the CSV file I sent you in a direct message.")
    text = "\n".join(lines)
    return {"text": text, "blocks": sections(text)}


def import_refused(file_name: str, reason: str) -> dict[str, Any]:
    text = f":x: *{esc(file_name)}* was not imported: {reason} Nothing was changed."
    return {"text": text, "blocks": sections(text)}
