"""Renderer-neutral outline of Step 3's answers.

The plan document (markdown) and the Slack synthesis message (mrkdwn) are both built
from these blocks, so they show the same questions, in the same order, with the same
labels (each field's ``item`` and ``heading`` in the catalogue, steps/fields.py). Values are the
answers as typed (or formatted numbers and chosen options); an unanswered question is ``None``
and each renderer writes ``UNANSWERED`` in its own emphasis.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from steps.fields import FACTORS_AND_WEIGHTS, SCORE_BANDS, answer_field, row_name
from steps.step3 import (
    Band,
    Cadence,
    Certification,
    HealthModel,
    Milestone,
    MilestonesSection,
    Section,
    StandardFactor,
    TrainingPlan,
)


@dataclass(frozen=True)
class OutlineItem:
    label: str
    value: str | None
    users: tuple[str, ...] = ()
    link: str | None = None  # shown after the value (a permalink into a Slack thread)
    paths: tuple[str, ...] = ()  # the answers the value shows, so text folded into them can be credited

    @property
    def answered(self) -> bool:
        return self.value is not None or bool(self.users)


@dataclass(frozen=True)
class OutlineBlock:
    heading: str
    items: tuple[OutlineItem, ...]
    paths: tuple[str, ...] = ()  # the answers the heading shows (a milestone's name)


@dataclass(frozen=True, order=True)
class Credit:
    """Text folded into an answer from a Slack message: who wrote it, and a link to it when Slack gave one."""

    text: str
    author: str  # Slack user id
    link: str | None


# How every renderer says a question has no answer yet (each in its own emphasis).
UNANSWERED = "Not yet discussed"

HEALTH_HEADING = "Health Score Model"
SELF_SERVICE_HEADING = "Self-Service Resources"
GUIDED_HEADING = "Guided Training Sessions"
KNOWLEDGE_HEADING = "Documentation and Knowledge Base"
CERTIFICATION_HEADING = "Certification Program (if applicable)"


def _item(path: str, value: str | None, *shown: str) -> OutlineItem:
    """The answer at ``path`` under the bullet label the catalogue gives it; ``shown``: other answers in its value."""
    return OutlineItem(answer_field(path).item, value, paths=(path, *shown))


def single_line(text: str) -> str:
    """Headings cannot span lines in either renderer; fold any line break into a space."""
    return " ".join(text.split())


def _points(count: int) -> str:
    return f"{count} point" if count == 1 else f"{count} points"


def _with_note(base: str | None, note: str | None) -> str | None:
    if base is None:
        return note
    return base if note is None else f"{base} — {note}"


def _timeline(milestone: Milestone) -> str:
    day = f"Day {milestone.timeline_days} from onboarding start"
    return day if milestone.timeline_note is None else f"{day} — {milestone.timeline_note}"


def _impact(milestone: Milestone) -> str | None:
    parts: list[str] = []
    if milestone.points_on_time is not None:
        sign = "+" if milestone.points_on_time else ""
        parts.append(f"{sign}{_points(milestone.points_on_time)} when reached on time")
    if milestone.points_missed is not None:
        sign = "−" if milestone.points_missed else ""
        parts.append(f"{sign}{_points(milestone.points_missed)} when missed")
    return _with_note(" · ".join(parts) or None, milestone.impact_note)


def milestone_heading(number: int, milestone: Milestone) -> str:
    return f"{row_name('milestones', number - 1)}: {single_line(milestone.name)}"


def _milestone_block(number: int, milestone: Milestone) -> OutlineBlock:
    row = f"milestones.{number - 1}"
    return OutlineBlock(
        milestone_heading(number, milestone),
        (
            _item(f"{row}.description", milestone.description),
            _item(f"{row}.timeline_days", _timeline(milestone), f"{row}.timeline_note"),
            _item(f"{row}.definition_of_done", milestone.definition_of_done),
            _item(f"{row}.points_on_time", _impact(milestone), f"{row}.points_missed", f"{row}.impact_note"),
        ),
        paths=(f"{row}.name",),
    )


def milestones_outline(section: MilestonesSection | None) -> list[OutlineBlock]:
    if section is None:
        heading = answer_field("milestones").heading
        blocks = [OutlineBlock(heading, (OutlineItem(heading, None),))]
        retention: str | None = None
        policy: str | None = None
    else:
        blocks = [_milestone_block(number, milestone) for number, milestone in enumerate(section.milestones, start=1)]
        retention = section.retention_correlation
        policy = section.missed_deadline_policy
    # The plan-level questions are asked even before any milestone exists.
    blocks += [
        OutlineBlock(answer_field(path).heading, (_item(path, value),))
        for path, value in (("retention_correlation", retention), ("missed_deadline_policy", policy))
    ]
    return blocks


def _factors(model: HealthModel) -> str:
    parts = [f"{factor.label} {model.weights[factor]}" for factor in StandardFactor if factor in model.weights]
    parts += [f"{single_line(custom.name)} {custom.weight}" for custom in model.custom_factors]
    return " · ".join(parts)


def _bands(model: HealthModel) -> str:
    low, high = model.critical_below, model.healthy_from - 1
    at_risk = f"{low}" if low == high else f"{low}–{high}"
    return (
        f"{Band.HEALTHY.label} from {model.healthy_from} · {Band.AT_RISK.label} {at_risk} · "
        f"{Band.CRITICAL.label} below {model.critical_below}"
    )


def cadence_text(model: HealthModel) -> str:
    """When updates go out, in words: ``Weekly on Wednesday at 09:00 (Europe/Berlin)``."""
    when = f"at {model.update_time.strftime('%H:%M')} ({model.timezone})"
    if model.cadence is Cadence.WEEKLY:
        return f"Weekly on {model.weekday.label} {when}"
    if model.cadence is Cadence.MONTHLY:
        return f"Monthly on day {model.month_day} {when}"
    return f"Daily {when}"


def health_outline(model: HealthModel | None) -> list[OutlineBlock]:
    m = model
    items = [
        OutlineItem(FACTORS_AND_WEIGHTS, _factors(m) if m else None),
        _item("calculation_notes", m.calculation_notes if m else None),
        OutlineItem(SCORE_BANDS, _bands(m) if m else None),
        _item("cadence", cadence_text(m) if m else None),
        OutlineItem(answer_field("monitors").item, None, tuple(m.monitors) if m else ()),
        *(_item(f"protocols.{band.value}", m.protocols.get(band) if m else None) for band in Band),
    ]
    return [OutlineBlock(HEALTH_HEADING, tuple(items))]


NOT_APPLICABLE = "Not applicable (no certification programme)"


def training_outline(plan: TrainingPlan | None) -> list[OutlineBlock]:
    p = plan
    sessions = (", ".join(s.label for s in p.session_types) or None) if p is not None else None
    certification = p.certification.label if p is not None and p.certification is not None else None
    # Without a programme its follow-up questions do not apply: saying "not yet discussed" would ask for them.
    blank = NOT_APPLICABLE if p is not None and p.certification is Certification.NO else None
    return [
        OutlineBlock(
            SELF_SERVICE_HEADING,
            (
                _item("documentation", p.documentation if p else None),
                _item("video_tutorials", p.video_tutorials if p else None),
            ),
        ),
        OutlineBlock(
            GUIDED_HEADING,
            (
                _item("session_types", sessions),
                _item("schedule_curriculum", p.schedule_curriculum if p else None),
                _item("segment_customisation", p.segment_customisation if p else None),
            ),
        ),
        OutlineBlock(KNOWLEDGE_HEADING, (_item("community", p.community if p else None),)),
        OutlineBlock(
            CERTIFICATION_HEADING,
            (
                _item("certification", certification),
                _item("certification_levels", (p.certification_levels if p else None) or blank),
                _item("certification_adoption", (p.certification_adoption if p else None) or blank),
            ),
        ),
    ]


DISCUSSION_HEADING = "Discussion"


@dataclass(frozen=True)
class DiscussionNote:
    """A section's thread had replies: how many, and a link into it."""

    replies: int
    link: str | None


def _replies(count: int) -> str:
    return f"{count} {'reply' if count == 1 else 'replies'} in the team's Slack thread"


def discussion_block(notes: Mapping[Section, DiscussionNote], sections: Sequence[Section]) -> list[OutlineBlock]:
    """A "Discussion" block for the given sections, only for those whose thread has replies."""
    items = tuple(
        OutlineItem(section.label, _replies(notes[section].replies), link=notes[section].link)
        for section in sections
        if section in notes and notes[section].replies
    )
    return [OutlineBlock(DISCUSSION_HEADING, items)] if items else []
