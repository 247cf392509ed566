"""Step 3 "Success Milestones": every question of the step, as validated answer models.

The three sections are answered separately (one modal each) and stored as JSON, so each
model round-trips through ``model_dump(mode="json")`` / ``model_validate``.
"""

from __future__ import annotations

from datetime import time
from enum import StrEnum
from typing import Annotated, Any, Self, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from steps.validation import FieldError, InvalidAnswers, field_error, friendly_errors
from steps.zones import is_known_zone

STEP_ID = "step-03-success-milestones"
NEXT_STEP_ID = "step-04-automation-setup"
NEXT_STEP_TITLE = "Automation Setup"

MIN_MILESTONES = 3
MAX_MILESTONES = 5
MAX_NAME = 100  # a milestone name ends up in a 150-character Block Kit header
MAX_TEXT = 3000  # Slack's plain_text_input max_length
MAX_TIMELINE_DAYS = 3650
MAX_CUSTOM_FACTORS = 3
MAX_SCORE = 100  # health scores, weights, points and band thresholds are all out of 100


class LabelledChoice(StrEnum):
    """A choice stored by its value and shown by its label: ``ADOPTION = "adoption", "Feature adoption"``."""

    label: str

    # Only members are built here: a lookup such as ``Band("healthy")`` goes through Enum's own __new__. The label's
    # default exists for type checkers, which read that lookup as a call to this signature (python/mypy#10573).
    def __new__(cls, value: str, label: str = "") -> Self:
        if not label:
            raise TypeError(f"{cls.__name__}.{value} needs a label: write it as a (value, label) pair.")
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label
        return member


class Section(LabelledChoice):
    MILESTONES = "milestones", "Success milestones"
    HEALTH = "health", "Health score model"
    TRAINING = "training", "Training / education plan"


def blank_to_none(value: Any) -> Any:
    """A typed answer with its spaces trimmed; blank is None (not yet discussed, or not given)."""
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


# An optional free-text answer: blank means "not yet discussed", never an empty string.
OptionalText = Annotated[Annotated[str, Field(max_length=MAX_TEXT)] | None, BeforeValidator(blank_to_none)]
RequiredText = Annotated[str, BeforeValidator(blank_to_none), Field(min_length=1, max_length=MAX_TEXT)]
Score = Annotated[int, BeforeValidator(blank_to_none), Field(ge=0, le=MAX_SCORE)]
Points = Annotated[Annotated[int, Field(ge=0, le=MAX_SCORE)] | None, BeforeValidator(blank_to_none)]


class Answers(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @classmethod
    def cross_checks(cls, raw: dict[str, Any]) -> list[FieldError]:
        """Rules across fields, checked on the answers as typed, so that they are reported together with the
        errors of single fields (pydantic runs a model's own validators only once every field is valid)."""
        return []

    @model_validator(mode="after")
    def _across_fields(self) -> Self:
        # The same rules hold for answers built in code: the first broken one is the model's error.
        problems = self.cross_checks(self.model_dump(mode="json"))
        if problems:
            raise field_error(problems[0].loc, problems[0].message)
        return self


class Milestone(Answers):
    name: Annotated[str, BeforeValidator(blank_to_none), Field(min_length=1, max_length=MAX_NAME)]
    description: OptionalText = None
    timeline_days: Annotated[int, BeforeValidator(blank_to_none), Field(gt=0, le=MAX_TIMELINE_DAYS)]
    timeline_note: OptionalText = None
    definition_of_done: RequiredText
    points_on_time: Points = None
    points_missed: Points = None
    impact_note: OptionalText = None


# The milestones section's questions asked once for all milestones (the rest is asked per milestone).
ACROSS_MILESTONES = ("retention_correlation", "missed_deadline_policy")


class MilestonesSection(Answers):
    # Milestones are added one at a time, so a saved section may hold fewer than the plan needs; ``complete``
    # says when there are enough to review and save the document.
    milestones: list[Milestone] = Field(default_factory=list, max_length=MAX_MILESTONES)
    retention_correlation: OptionalText = None
    missed_deadline_policy: OptionalText = None

    @classmethod
    def cross_checks(cls, raw: dict[str, Any]) -> list[FieldError]:
        problems: list[FieldError] = []
        seen: set[str] = set()
        rows = raw.get("milestones")
        for index, milestone in enumerate(rows if isinstance(rows, list) else []):
            name = str(milestone.get("name") or "").strip() if isinstance(milestone, dict) else ""
            if name and name.casefold() in seen:
                message = f"Another milestone is already called “{name}”."
                problems.append(FieldError(("milestones", index, "name"), message))
            seen.add(name.casefold())
        return problems

    @property
    def complete(self) -> bool:
        return len(self.milestones) >= MIN_MILESTONES


class StandardFactor(LabelledChoice):
    ADOPTION = "adoption", "Feature adoption"
    ENGAGEMENT = "engagement", "Engagement"
    TICKETS = "tickets", "Support tickets"
    MILESTONES = "milestones", "Milestone completion"


class CustomFactor(Answers):
    name: Annotated[str, BeforeValidator(blank_to_none), Field(min_length=1, max_length=MAX_NAME)]
    weight: Score


class Cadence(StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"


class Weekday(LabelledChoice):
    MONDAY = "monday", "Monday"
    TUESDAY = "tuesday", "Tuesday"
    WEDNESDAY = "wednesday", "Wednesday"
    THURSDAY = "thursday", "Thursday"
    FRIDAY = "friday", "Friday"
    SATURDAY = "saturday", "Saturday"
    SUNDAY = "sunday", "Sunday"

    @property
    def number(self) -> int:
        """0 for Monday, as ``date.weekday()`` counts."""
        return list(Weekday).index(self)


MAX_MONTH_DAY = 28  # every month has it


class Band(LabelledChoice):
    HEALTHY = "healthy", "Healthy"
    AT_RISK = "at_risk", "At-risk"
    CRITICAL = "critical", "Critical"


SlackUserId = Annotated[str, Field(pattern=r"^[UW][A-Z0-9]{2,30}$")]


def _valid_timezone(name: str) -> str:
    # The form offers only known zones, but a submission can carry any text: the same list decides here.
    if not is_known_zone(name):
        shown = name if len(name) <= 40 else name[:39] + "…"
        raise ValueError(f"“{shown}” is not a time zone this server knows.")
    return name


class HealthModel(Answers):
    weights: dict[StandardFactor, Score]
    custom_factors: list[CustomFactor] = Field(default_factory=list, max_length=MAX_CUSTOM_FACTORS)
    calculation_notes: OptionalText = None
    critical_below: Score
    healthy_from: Score
    cadence: Cadence
    # Asked for weekly and monthly updates; saved answers from before keep the old conventions (Monday, the 1st).
    update_weekday: Annotated[Weekday | None, BeforeValidator(blank_to_none)] = None
    update_day: Annotated[Annotated[int, Field(ge=1, le=MAX_MONTH_DAY)] | None, BeforeValidator(blank_to_none)] = None
    update_time: time
    timezone: Annotated[str, AfterValidator(_valid_timezone), BeforeValidator(blank_to_none)]
    monitors: list[SlackUserId] = Field(default_factory=list, max_length=50)
    protocols: dict[Band, OptionalText] = Field(default_factory=dict)

    @classmethod
    def cross_checks(cls, raw: dict[str, Any]) -> list[FieldError]:
        given = raw.get("weights")
        weights: dict[str, Any] = given if isinstance(given, dict) else {}
        # A weight left out of the dict altogether (answers built in code) has no field error of its own.
        problems = [
            FieldError(("weights", f.value), "This is required.") for f in StandardFactor if f.value not in weights
        ]
        customs = [c for c in raw.get("custom_factors") or [] if isinstance(c, dict)]
        standard = [_whole(weights.get(f.value)) for f in StandardFactor]
        custom = [_whole(c.get("weight")) for c in customs]
        if all(w is not None for w in standard + custom):
            total = sum(w for w in standard + custom if w is not None)
            if total != 100:
                # Said on every weight: any one of them may be the one to change.
                message = f"The weights add up to {total}; they must total 100."
                problems += [FieldError(("weights", f.value), message) for f in StandardFactor]
                problems += [FieldError(("custom_factors", i, "weight"), message) for i in range(len(customs))]
        names = [f.label.casefold() for f in StandardFactor]
        for index, factor in enumerate(customs):
            name = str(factor.get("name") or "").strip().casefold()
            if name and name in names:
                problems.append(
                    FieldError(
                        ("custom_factors", index, "name"), f"There is already a factor called “{factor['name']}”."
                    )
                )
            names.append(name)
        critical, healthy = _whole(raw.get("critical_below")), _whole(raw.get("healthy_from"))
        if critical is not None and healthy is not None and critical >= healthy:
            problems.append(
                FieldError(
                    ("healthy_from",), f"“Healthy from” ({healthy}) must be above “critical below” ({critical})."
                )
            )
        return problems

    @property
    def weekday(self) -> Weekday:
        return self.update_weekday or Weekday.MONDAY

    @property
    def month_day(self) -> int:
        return self.update_day or 1

    @property
    def total_weight(self) -> int:
        return sum(self.weights.values()) + sum(c.weight for c in self.custom_factors)

    def band_for(self, score: float) -> Band:
        if score >= self.healthy_from:
            return Band.HEALTHY
        if score < self.critical_below:
            return Band.CRITICAL
        return Band.AT_RISK


class SessionType(LabelledChoice):
    ONE_ON_ONE = "one_on_one", "1:1"
    GROUP = "group", "Group"
    WEBINAR = "webinar", "Webinar"


class Certification(LabelledChoice):
    YES = "yes", "Yes"
    NO = "no", "No"
    UNDECIDED = "undecided", "Not decided yet"


class TrainingPlan(Answers):
    documentation: OptionalText = None
    video_tutorials: OptionalText = None
    community: OptionalText = None
    session_types: list[SessionType] = Field(default_factory=list)
    schedule_curriculum: OptionalText = None
    segment_customisation: OptionalText = None
    certification: Certification | None = None
    certification_levels: OptionalText = None
    certification_adoption: OptionalText = None

    @model_validator(mode="after")
    def _something_answered(self) -> Self:
        if not any(v for v in self.model_dump().values()):
            raise field_error(("documentation",), "Answer at least one question of the training plan.")
        return self


SECTION_MODELS: dict[Section, type[Answers]] = {
    Section.MILESTONES: MilestonesSection,
    Section.HEALTH: HealthModel,
    Section.TRAINING: TrainingPlan,
}

A = TypeVar("A", bound=Answers)


def parse_answers(model: type[A], raw: dict[str, Any]) -> A:
    """Validate raw answers (as typed into Slack) or raise InvalidAnswers with every field's error at once."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        errors = friendly_errors(exc)
        seen = {e.loc for e in errors}
        errors += [e for e in model.cross_checks(raw) if e.loc not in seen]
        raise InvalidAnswers(errors) from exc


def _whole(value: Any) -> int | None:
    """A number as typed into a form, when it is a whole number (else the field's own error says so)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None
