"""Every answer field of Step 3, once: its path, wordings, kind, limits and whether the form requires it.

A path names one answer (``milestones.1.definition_of_done``); the catalogue names each field by its pattern, where
``*`` stands for the row of a list (``milestones.*.definition_of_done``). A field is worded once for each place that
shows it, and every place reads the wording from here:

- ``label``: its short name in change lists and history ("Milestone 2 · definition of done");
- ``question``: how the form asks it ("How does milestone completion relate to long-term retention?");
- ``item``: its bullet in the plan document and the synthesis ("Correlation with long-term retention");
- ``heading``: the heading of its own block in the document ("Milestone Completion and Retention").

Limits (lengths, ranges) are read from the section's pydantic model (steps/model_paths.py), so the form cannot offer
what validation refuses.
The rest of the module says what changed between two versions of a section, and which free-text fields a Slack
message can be folded into.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from itertools import pairwise
from typing import Any, Literal

from steps.model_paths import Limits, limits_at
from steps.step3 import (
    SECTION_MODELS,
    Band,
    Cadence,
    Certification,
    LabelledChoice,
    Section,
    SessionType,
    StandardFactor,
    Weekday,
)

# Wordings of a group of fields: the form's sub-heading and the document's one answer for the group.
FACTORS_AND_WEIGHTS = "Factors and weights"
SCORE_BANDS = "Score bands"
RESPONSE_PROTOCOL = "Response protocol"
_WEIGHT = "weight"

Option = tuple[str, str]  # (value, label)


class Kind(StrEnum):
    """How an answer is typed or picked in the form."""

    LINE = "line"  # one line of text
    TEXT = "text"  # text over several lines
    NUMBER = "number"  # a whole number
    CHOICE = "choice"
    CHOICES = "choices"
    USERS = "users"
    TIME = "time"
    ZONE = "zone"  # an IANA time zone, found by typing part of its name (there are too many to list)
    ROWS = "rows"  # a list of records, each row a group of fields (milestones, custom factors)


TEXT_KINDS = frozenset({Kind.LINE, Kind.TEXT})


def _no_options() -> list[Option]:
    return []


@dataclass(frozen=True)
class AnswerField:
    path: str  # the pattern: ``*`` where a row's index goes
    kind: Kind
    label: str
    question: str
    item: str
    heading: str
    required: bool  # the form will not submit without it
    hint: str | None
    options: Callable[[], list[Option]]  # what a choice offers, read when the form is built
    row: str | None  # ROWS only: one row's name, numbered from 1 ("Milestone 3")
    foldable: bool  # free text a Slack message can be folded into (the message shortcut)
    limits: Limits = field(default_factory=Limits)  # filled in from the section's model

    @property
    def in_rows(self) -> bool:
        return "*" in self.path

    def at(self, index: int) -> str:
        """The path of this field in row ``index``."""
        return self.path.replace("*", str(index))


def _field(
    path: str,
    kind: Kind,
    label: str,
    *,
    question: str | None = None,
    item: str | None = None,
    heading: str | None = None,
    required: bool = False,
    hint: str | None = None,
    options: Callable[[], list[Option]] = _no_options,
    row: str | None = None,
    foldable: bool | None = None,
) -> AnswerField:
    """A field whose other wordings are its label unless given; free text can be folded into unless said otherwise."""
    return AnswerField(
        path=path,
        kind=kind,
        label=label,
        question=question or label,
        item=item or label,
        heading=heading or label,
        required=required,
        hint=hint,
        options=options,
        row=row,
        foldable=kind in TEXT_KINDS if foldable is None else foldable,
    )


def _labelled(choice: type[LabelledChoice]) -> Callable[[], list[Option]]:
    return lambda: [(c.value, c.label) for c in choice]


_MILESTONES: tuple[AnswerField, ...] = (
    _field("milestones", Kind.ROWS, "Milestones", row="Milestone"),
    _field("milestones.*.name", Kind.LINE, "name", required=True),
    _field("milestones.*.description", Kind.TEXT, "description", item="Description"),
    _field(
        "milestones.*.timeline_days",
        Kind.NUMBER,
        "due after (days from start)",
        item="Timeline",  # the document shows the day and its wording as one answer
        required=True,
        hint="Days from the customer's onboarding start: 30 means due on day 30.",
    ),
    _field("milestones.*.timeline_note", Kind.LINE, "timeline wording", hint="For example: end of week 2"),
    _field(
        "milestones.*.definition_of_done", Kind.TEXT, "definition of done", item="Definition of Done", required=True
    ),
    _field(
        "milestones.*.points_on_time",
        Kind.NUMBER,
        "points when reached on time",
        question="health points when reached on time",
        item="Health Score Impact",  # the document shows both point counts and the note as one answer
    ),
    _field(
        "milestones.*.points_missed",
        Kind.NUMBER,
        "points removed when missed",
        question="health points removed when missed",
    ),
    _field("milestones.*.impact_note", Kind.TEXT, "health-score impact note"),
    _field(
        "retention_correlation",
        Kind.TEXT,
        "Milestone completion and retention",
        question="How does milestone completion relate to long-term retention?",
        item="Correlation with long-term retention",
        heading="Milestone Completion and Retention",
    ),
    _field(
        "missed_deadline_policy",
        Kind.TEXT,
        "When a milestone is missed",
        question="What happens when a customer misses a milestone deadline?",
        item="What happens when a customer misses a deadline",
        heading="When a Milestone Is Missed",
    ),
)

_WEIGHTS_HINT = "Weights of all factors must total 100. Enter 0 for a factor you do not use."

_HEALTH: tuple[AnswerField, ...] = (
    *(
        _field(
            f"weights.{factor.value}",
            Kind.NUMBER,
            f"{factor.label} {_WEIGHT}",
            question=f"{factor.label} · {_WEIGHT}",
            required=True,
            hint=_WEIGHTS_HINT,
        )
        for factor in StandardFactor
    ),
    # A factor is named together with its weight in the form, so a message is never folded into its name alone.
    _field("custom_factors", Kind.ROWS, "Custom factors", row="Custom factor"),
    _field("custom_factors.*.name", Kind.LINE, "name", foldable=False),
    _field("custom_factors.*.weight", Kind.NUMBER, _WEIGHT),
    _field("calculation_notes", Kind.TEXT, "How the score is calculated", question="How is the score calculated?"),
    _field(
        "healthy_from",
        Kind.NUMBER,
        "Healthy from",
        question="Healthy from (score)",
        required=True,
        hint="Scores at or above this are healthy.",
    ),
    _field(
        "critical_below",
        Kind.NUMBER,
        "Critical below",
        question="Critical below (score)",
        required=True,
        hint="Scores under this are critical; in between is at-risk.",
    ),
    _field(
        "cadence",
        Kind.CHOICE,
        "Update cadence",
        question="How often is the score updated?",
        required=True,
        options=lambda: [(c.value, c.value.title()) for c in Cadence],
    ),
    _field(
        "update_weekday",
        Kind.CHOICE,
        "Weekday of weekly updates",
        question="On which day (weekly updates)?",
        options=_labelled(Weekday),
        hint="Monday when left empty.",
    ),
    _field(
        "update_day",
        Kind.NUMBER,
        "Day of monthly updates",
        question="On which day of the month (monthly updates)?",
        hint="1 to 28; the 1st when left empty.",
    ),
    _field("update_time", Kind.TIME, "Update time", question="At what time of day?", required=True),
    _field(
        "timezone",
        Kind.ZONE,
        "Time zone",
        question="In which time zone?",
        required=True,
        hint="Type part of a city or region to search, e.g. New York or Pacific.",
    ),
    _field("monitors", Kind.USERS, "Monitors", question="Who monitors the scores?", item="Monitored by"),
    *(
        _field(
            f"protocols.{band.value}",
            Kind.TEXT,
            f"{RESPONSE_PROTOCOL} · {band.label}",
            question=f"When a customer is {band.label.lower()}",
            item=f"{RESPONSE_PROTOCOL} — {band.label}",
        )
        for band in Band
    ),
)

_TRAINING: tuple[AnswerField, ...] = (
    _field("documentation", Kind.TEXT, "Documentation, help articles and FAQs"),
    _field("video_tutorials", Kind.TEXT, "Video tutorials and walkthroughs"),
    _field("community", Kind.TEXT, "Community forums and knowledge bases"),
    _field("session_types", Kind.CHOICES, "Live session types", options=_labelled(SessionType)),
    _field("schedule_curriculum", Kind.TEXT, "Schedule and curriculum"),
    _field("segment_customisation", Kind.TEXT, "Customisation by customer segment"),
    _field(
        "certification",
        Kind.CHOICE,
        "Certification programme",
        question="Is there a certification programme?",
        options=_labelled(Certification),
    ),
    _field("certification_levels", Kind.TEXT, "Levels or badges", hint="Only if there is a certification programme."),
    _field(
        "certification_adoption",
        Kind.TEXT,
        "How certification drives adoption",
        question="How does certification drive adoption?",
        hint="Only if there is a certification programme.",
    ),
)


def _with_limits(section: Section, fields: Sequence[AnswerField]) -> tuple[AnswerField, ...]:
    model = SECTION_MODELS[section]
    return tuple(f if f.kind is Kind.ROWS else replace(f, limits=limits_at(model, f.path)) for f in fields)


CATALOGUE: dict[Section, tuple[AnswerField, ...]] = {
    Section.MILESTONES: _with_limits(Section.MILESTONES, _MILESTONES),
    Section.HEALTH: _with_limits(Section.HEALTH, _HEALTH),
    Section.TRAINING: _with_limits(Section.TRAINING, _TRAINING),
}
_BY_PATTERN = {f.path: f for fields in CATALOGUE.values() for f in fields}


def _pattern(path: str) -> str:
    return ".".join("*" if part.isdigit() else part for part in path.split("."))


def find_field(path: str) -> AnswerField | None:
    """The field at a path (``milestones.2.name``) or pattern (``milestones.*.name``); None if there is none."""
    return _BY_PATTERN.get(_pattern(path))


def answer_field(path: str) -> AnswerField:
    """The field at a path or pattern the code itself names; an unknown one is a programming error."""
    found = find_field(path)
    if found is None:
        raise KeyError(f"No answer field at {path!r}")
    return found


def row_fields(rows: str) -> tuple[AnswerField, ...]:
    """The fields of one row of ``rows`` (``milestones``), in the form's order."""
    return tuple(f for f in _BY_PATTERN.values() if f.path.startswith(f"{rows}.*."))


def row_name(rows: str, index: int) -> str:
    """Row ``index`` of ``rows`` as people count it: ``Milestone 3`` for ``milestones`` row 2."""
    return f"{answer_field(rows).row} {index + 1}"


def _in_row(path: str, wording: str) -> str:
    """A wording of a field in a row, prefixed with which row it is: ``Milestone 2 · name``."""
    rows, index, *_ = path.split(".")
    return f"{row_name(rows, int(index))} · {wording}"


def field_label(path: str) -> str:
    found = find_field(path)
    if found is None:  # answers saved by an older form: still readable
        parts = path.split(".")
        rows = find_field(parts[0])
        if rows is not None and rows.kind is Kind.ROWS and len(parts) == 3 and parts[1].isdigit():
            return _in_row(path, parts[2])
        return path.replace("_", " ").capitalize()
    return _in_row(path, found.label) if found.in_rows else found.label


def field_question(path: str) -> str:
    """How the form asks for the answer at ``path``."""
    found = answer_field(path)
    return _in_row(path, found.question) if found.in_rows else found.question


def _display(value: Any) -> str | None:
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, str) and len(value) == 8 and value.count(":") == 2:
        return value[:5]  # a saved time of day, 09:00:00
    return str(value)


def flat_values(answers: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Path → value as saved. Lists of people or choices stay one field; lists of records are expanded."""
    out: dict[str, Any] = {}
    for key, value in answers.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            out |= flat_values(value, f"{path}.")
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for index, item in enumerate(value):
                out |= flat_values(item, f"{path}.{index}.")
        else:
            out[path] = value
    return out


def flatten(answers: dict[str, Any]) -> dict[str, str | None]:
    """Path → displayed value."""
    return {path: _display(value) for path, value in flat_values(answers).items()}


def shown(path: str, value: Any) -> str | None:
    """A value as the history records it (choices by their labels), so that a value can be compared with one."""
    return _readable(path, _display(value))


@dataclass(frozen=True)
class FieldChange:
    """One answer before and after a save, as people read it: choices by their labels; people as user ids, which
    ``kind`` (USERS) tells the surface to show as mentions."""

    path: str
    label: str
    old: str | None
    new: str | None
    kind: Kind | None = None


def _readable(path: str, shown: str | None) -> str | None:
    """A flattened value with each choice replaced by its label (``weekly`` → ``Weekly``)."""
    found = find_field(path)
    if shown is None or found is None or found.kind not in (Kind.CHOICE, Kind.CHOICES):
        return shown
    labels = dict(found.options())
    return ", ".join(labels.get(value, value) for value in shown.split(", "))


def diff_answers(old: dict[str, Any] | None, new: dict[str, Any]) -> list[FieldChange]:
    """What changed from ``old`` to ``new``, field by field, in the order of the new answers."""
    before = flatten(old or {})
    after = flatten(new)
    paths = list(after) + [p for p in before if p not in after]
    changes = []
    for path in paths:
        if before.get(path) == after.get(path):
            continue
        found = find_field(path)
        kind = found.kind if found is not None else None
        changes.append(
            FieldChange(
                path, field_label(path), _readable(path, before.get(path)), _readable(path, after.get(path)), kind
            )
        )
    return changes


def answered_summary(section_rows: str | None, answers: dict[str, Any]) -> str:
    """A first save in a few words: ``3 milestones`` for a section of rows, else how many answers it has."""
    if section_rows is not None and isinstance(answers.get(section_rows), list):
        count = len(answers[section_rows])
        row = (answer_field(section_rows).row or section_rows).lower()
        return f"{count} {row}{'' if count == 1 else 's'}"
    given = sum(1 for value in flatten(answers).values() if value is not None)
    return f"{given} answer{'' if given == 1 else 's'}"


@dataclass(frozen=True)
class RowChange:
    """One row added to or removed from a list of rows, said as such rather than field by field."""

    added: bool
    row: str  # "Milestone 2"
    name: str


def row_change(rows: str, old: dict[str, Any], new: dict[str, Any]) -> RowChange | None:
    """The row added to or removed from ``rows`` between two versions, if that is all that changed in it."""
    before, after = old.get(rows) or [], new.get(rows) or []
    if len(after) == len(before) + 1 and after[:-1] == before:
        return RowChange(True, row_name(rows, len(before)), str(after[-1].get("name") or ""))
    if len(after) == len(before) - 1:
        for index in range(len(before)):
            if before[:index] + before[index + 1 :] == after:
                return RowChange(False, row_name(rows, index), str(before[index].get("name") or ""))
    return None


def _foldable_paths(section: Section, answers: dict[str, Any]) -> Iterator[str]:
    fields = CATALOGUE[section]
    for f in fields:
        if f.kind is Kind.ROWS:
            # Row by row, as the form shows them: every field of the first milestone, then of the second.
            row = [r for r in row_fields(f.path) if r.foldable]
            for index in range(len(answers.get(f.path) or [])):
                yield from (r.at(index) for r in row)
        elif f.foldable and not f.in_rows:
            yield f.path


def text_fields(section: Section, answers: dict[str, Any]) -> list[tuple[str, str]]:
    """(path, label) of every free-text field of a saved section."""
    return [(path, field_label(path)) for path in _foldable_paths(section, answers)]


def current_text(answers: dict[str, Any], path: str) -> str | None:
    node: Any = answers
    for part in path.split("."):
        node = node[int(part)] if isinstance(node, list) else (node or {}).get(part)
        if node is None:
            return None
    return node if isinstance(node, str) else None


def folded_text(old: str | None, new: str) -> str:
    """The text ``with_text`` folded into a field whose value went from ``old`` to ``new``: what was appended after a
    line break, or else the whole new value (it replaced the old one)."""
    return new[len(old) + 1 :] if old and new.startswith(f"{old}\n") else new


def with_text(answers: dict[str, Any], path: str, text: str, mode: Literal["replace", "append"]) -> dict[str, Any]:
    """A copy of ``answers`` with one free-text field replaced by, or extended with, ``text``."""
    existing = current_text(answers, path)
    copy: dict[str, Any] = copied(answers)
    put(copy, path, f"{existing}\n{text}" if mode == "append" and existing else text)
    return copy


def put(answers: dict[str, Any], path: str, value: Any) -> None:
    """Set the answer at ``path`` in place, adding the groups and rows it needs (``milestones.3.name``)."""
    parts = path.split(".")
    node: Any = answers
    for part, following in pairwise(parts):
        empty: Any = [] if following.isdigit() else {}
        if isinstance(node, list):
            index = int(part)
            node.extend(None for _ in range(index + 1 - len(node)))
            if not isinstance(node[index], dict | list):
                node[index] = empty
            node = node[index]
        else:
            if not isinstance(node.get(part), dict | list):
                node[part] = empty
            node = node[part]
    leaf = parts[-1]
    if isinstance(node, list):
        node.extend(None for _ in range(int(leaf) + 1 - len(node)))
        node[int(leaf)] = value
    else:
        node[leaf] = value


def copied(value: Any) -> Any:
    """A deep copy of answers (dicts, lists and plain values)."""
    if isinstance(value, dict):
        return {k: copied(v) for k, v in value.items()}
    if isinstance(value, list):
        return [copied(v) for v in value]
    return value
