"""Step 3 use cases on a channel's plan: open, save a section, confirm the synthesis.

Domain and storage only: these return records and raise ``UserError``; the listeners turn results into Slack calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from bot import announcements, discussion
from bot.discussion import credits, summaries
from steps.document import compose_step3
from steps.errors import UserError
from steps.fields import FieldChange, answered_summary, diff_answers, field_label, flat_values, row_change, shown
from steps.merge import form_edit, merge_edit
from steps.step3 import (
    ACROSS_MILESTONES,
    MAX_MILESTONES,
    MIN_MILESTONES,
    SECTION_MODELS,
    STEP_ID,
    Answers,
    HealthModel,
    MilestonesSection,
    Section,
    TrainingPlan,
    parse_answers,
)
from storage import customers as customers_store
from storage import plan_status, repo
from storage.db import Session, Sessions
from storage.records import ChangeRecord, DocumentRecord, PlanRecord, PlanStatus, SectionRecord

NO_PLAN = "This channel has no onboarding plan yet. Start one with `/onboarding step3`."


@dataclass(frozen=True)
class SectionStatus:
    section: Section
    updated_by: str | None = None
    updated_at: datetime | None = None
    complete: bool = False  # answered enough to review and save (milestones: at least three)

    @property
    def answered(self) -> bool:
        return self.updated_by is not None


@dataclass(frozen=True)
class PlanState:
    plan: PlanRecord
    rows: dict[str, SectionRecord]

    def answers(self, section: Section) -> Answers | None:
        row = self.rows.get(section.value)
        return None if row is None else SECTION_MODELS[section].model_validate(row.answers)

    def raw(self, section: Section) -> dict[str, Any]:
        row = self.rows.get(section.value)
        return {} if row is None else dict(row.answers)

    def version(self, section: Section) -> int:
        """0 for a section never saved."""
        row = self.rows.get(section.value)
        return 0 if row is None else row.version

    def complete_answers(self) -> tuple[MilestonesSection, HealthModel, TrainingPlan]:
        """All three sections, for the synthesis and the document; callers check ``missing`` first."""
        milestones, health, training = (self.answers(s) for s in Section)
        if not (
            isinstance(milestones, MilestonesSection)
            and isinstance(health, HealthModel)
            and isinstance(training, TrainingPlan)
        ):
            raise ValueError(f"plan {self.plan.id} has unanswered sections: {self.missing}")
        return milestones, health, training

    @property
    def milestones(self) -> list[dict[str, Any]]:
        """The plan's milestones as saved (fewer than three while the team is still adding them)."""
        rows = self.raw(Section.MILESTONES).get("milestones")
        return [row for row in rows if isinstance(row, dict)] if isinstance(rows, list) else []

    def complete(self, section: Section) -> bool:
        if section.value not in self.rows:
            return False
        return section is not Section.MILESTONES or len(self.milestones) >= MIN_MILESTONES

    @property
    def statuses(self) -> list[SectionStatus]:
        out = []
        for section in Section:
            row = self.rows.get(section.value)
            out.append(
                SectionStatus(section, row.updated_by, row.updated_at, self.complete(section))
                if row is not None
                else SectionStatus(section)
            )
        return out

    @property
    def missing(self) -> list[Section]:
        return [s for s in Section if not self.complete(s)]

    @property
    def fingerprint(self) -> str:
        """Identifies the exact answers a synthesis showed: section versions, in section order."""
        return ",".join(f"{s.value}:{self.rows[s.value].version}" for s in Section if s.value in self.rows)


def load(session: Session, team_id: str, channel_id: str) -> PlanState | None:
    plan = repo.find_plan(session, team_id, channel_id)
    return None if plan is None else PlanState(plan, repo.section_rows(session, plan))


def require(session: Session, team_id: str, channel_id: str) -> PlanState:
    """The channel's plan; a person asking about a channel without one is told how to start it."""
    state = load(session, team_id, channel_id)
    if state is None:
        raise UserError(NO_PLAN)
    return state


def reload(session: Session, state: PlanState) -> PlanState:
    plan = repo.get_plan(session, state.plan.id)
    if plan is None:
        raise UserError("This plan no longer exists in this workspace; nothing was changed.")
    return PlanState(plan, repo.section_rows(session, plan))


def in_team(session: Session, team_id: str, plan_id: int) -> PlanRecord:
    """A plan named by id (in a form's metadata), only within the team the request came from."""
    plan = repo.get_plan(session, plan_id)
    if plan is None or plan.team_id != team_id:
        raise UserError("This plan no longer exists; nothing was changed.")
    return plan


def set_hub(session: Session, plan: PlanRecord, ts: str) -> None:
    """The newest hub message is the one later saves update."""
    repo.set_hub_ts(session, plan.id, ts)


def set_canvas(session: Session, plan: PlanRecord, canvas_id: str | None, unavailable: str | None) -> None:
    repo.set_canvas(session, plan.id, canvas_id, unavailable)


def latest_document(session: Session, plan: PlanRecord) -> DocumentRecord | None:
    return repo.latest_document(session, plan)


def status(sessions: Sessions, team_id: str, channel_id: str) -> PlanStatus:
    """What `/onboarding status` reports; someone asking in a channel without a plan is told how to start one."""
    found = plan_status.plan_status(sessions, team_id, channel_id)
    if found is None:
        raise UserError(NO_PLAN)
    return found


def open_plan(session: Session, *, team_id: str, channel_id: str, channel_name: str, user_id: str) -> PlanState:
    plan = repo.get_or_create_plan(session, team_id=team_id, channel_id=channel_id, name=channel_name, user_id=user_id)
    return PlanState(plan, repo.section_rows(session, plan))


@dataclass(frozen=True)
class Unsaved:
    """Changes to the answers since the plan document was last saved: the document lags until someone saves."""

    document_version: int
    count: int
    users: tuple[str, ...]


def unsaved_changes(session: Session, state: PlanState) -> Unsaved | None:
    """What changed since the latest document (None when there is none yet, or it is current)."""
    latest = repo.latest_document(session, state.plan)
    if latest is None:
        return None
    saved = {k: int(v) for k, _, v in (part.partition(":") for part in latest.source.split(",")) if v.isdigit()}
    changes = [
        change
        for section in Section
        if section.value in state.rows
        for change in repo.changes_since(session, state.plan, section.value, saved.get(section.value, 0))
    ]
    if not changes:
        return None
    users = tuple(dict.fromkeys(change.user_id for change in changes))
    return Unsaved(latest.version, len(changes), users)


def rename(session: Session, state: PlanState, name: str) -> PlanState:
    """The plan under the name the team chose (the channel's name until then): hub, synthesis and documents use it."""
    repo.rename_plan(session, state.plan.id, name)
    return reload(session, state)


def changes_since(session: Session, plan: PlanRecord, section: Section, version: int) -> list[ChangeRecord]:
    return repo.changes_since(session, plan, section.value, version)


def recent_changes(session: Session, plan: PlanRecord, saves: int = 10) -> list[ChangeRecord]:
    return repo.recent_changes(session, plan, saves)


class StaleSection(Exception):
    """Someone saved the section after the person opened their form: saving would silently overwrite their edit."""

    def __init__(self, section: Section, changes: list[ChangeRecord]) -> None:
        super().__init__(f"{section.value} changed since the form was opened")
        self.section = section
        self.changes = changes

    @property
    def users(self) -> list[str]:
        return list(dict.fromkeys(change.user_id for change in self.changes))

    @property
    def fields(self) -> list[tuple[str, str]]:
        return list(dict.fromkeys((change.path, change.label) for change in self.changes))


def ensure_current(session: Session, state: PlanState, section: Section, seen_version: int) -> None:
    """Raise ``StaleSection`` unless the section is still at ``seen_version``; lock it until the transaction ends.

    Under the row lock, of two people saving the same version at once, one saves and the other is told what changed.
    """
    if repo.lock_section_version(session, state.plan, section.value) != seen_version:
        raise StaleSection(section, changes_since(session, state.plan, section, seen_version))


def save_if_current(
    session: Session,
    state: PlanState,
    section: Section,
    answers: Answers,
    seen_version: int,
    user_id: str,
    now: datetime,
    source: tuple[str, str | None] | None = None,
) -> tuple[PlanState, list[FieldChange]]:
    """Save a section edited from version ``seen_version``; raise ``StaleSection`` if it has moved on since."""
    ensure_current(session, state, section, seen_version)
    return _save(session, state, section, answers, user_id, now, source)


def _save(
    session: Session,
    state: PlanState,
    section: Section,
    answers: Answers,
    user_id: str,
    now: datetime,
    source: tuple[str, str | None] | None = None,
) -> tuple[PlanState, list[FieldChange]]:
    """Save a section (its row is locked by the caller). Each changed field goes in the history, and its diff in
    the section's thread. Customers' deadlines follow a milestones edit after the save is acknowledged
    (``customers.follow_milestones``): that work grows with the number of customers, and Slack waits only 3 s.
    """
    before = state.raw(section)
    saved = repo.save_section(session, state.plan, section.value, answers.model_dump(mode="json"), user_id, now)
    state = PlanState(state.plan, {**state.rows, section.value: saved})
    changes = diff_answers(before or None, saved.answers)
    repo.add_changes(
        session, state.plan, section.value, saved.version, [(c.path, c.label, c.old, c.new) for c in changes],
        user_id, now, source,
    )  # fmt: skip
    thread = discussion.threads(session, state.plan).get(section)
    if changes and thread is not None:
        # A first save is said in one line ("3 milestones"), a row added or removed too, not field by field.
        rows = ROWS_OF.get(section)
        first = answered_summary(rows, saved.answers) if not before else None
        row = row_change(rows, before, saved.answers) if before and rows else None
        announcements.section_changed(
            session, state.plan, thread, section, saved.version, changes, user_id, now, source, first, row
        )
    return state, changes


@dataclass(frozen=True)
class Form:
    """Which answers of a section one form holds: the whole section, one milestone, or the questions asked across
    all milestones."""

    section: Section
    milestone: int | None = None  # the milestone a milestones form edits; None: the questions across milestones
    adding: bool = False  # a new milestone, added after the last one there is when it is saved
    milestones_seen: int = 0  # how many milestones the plan had when the form opened


@dataclass(frozen=True)
class Refused:
    """A field the submitter and someone else both changed: the saved value stays, the typed one is shown."""

    path: str
    label: str
    typed: Any
    saved: str | None


@dataclass(frozen=True)
class FormSaved:
    state: PlanState
    changes: list[FieldChange]
    refused: list[Refused]
    others: tuple[str, ...]  # who saved the section since the form was opened
    index: int | None  # the milestone the form saved (a new one goes after the last)


def save_form(
    session: Session,
    state: PlanState,
    form: Form,
    typed: dict[str, Any],
    seen_version: int,
    user_id: str,
    now: datetime,
) -> FormSaved:
    """Save what a form holds, merged with what others saved since it was opened (``steps.merge``): fields only
    this person changed are saved, fields only others changed keep the others' values, and a field both changed
    is refused and returned with both values. Raises ``InvalidAnswers`` when the merged answers are not valid,
    ``UserError`` when the milestone the form edits is no longer where it was."""
    section = form.section
    version = repo.lock_section_version(session, state.plan, section.value)
    if version != state.version(section):  # saved between reading the plan and taking the lock
        state = reload(session, state)
    since = changes_since(session, state.plan, section, seen_version) if version != seen_version else []
    meanwhile: dict[str, str | None] = {}
    for change in since:
        meanwhile.setdefault(change.path, change.old)  # the earliest change knows the value the form showed
    saved_raw = state.raw(section)
    index, edit = _form_values(form, typed, state, saved_raw)
    merged = merge_edit(saved_raw, edit, meanwhile)
    answers = parse_answers(SECTION_MODELS[section], merged.answers)
    changes: list[FieldChange] = []
    if merged.applied:
        state, changes = _save(session, state, section, answers, user_id, now)
    current = flat_values(state.raw(section))
    refused = [Refused(p, field_label(p), value, shown(p, current.get(p))) for p, value in merged.refused.items()]
    # Who to name: those whose changes were kept over this person's, else everyone who saved meanwhile.
    named = [c for c in since if c.path in merged.refused] or since
    others = tuple(dict.fromkeys(c.user_id for c in named))
    return FormSaved(state, changes, refused, others, index)


def _form_values(
    form: Form, typed: dict[str, Any], state: PlanState, saved: dict[str, Any]
) -> tuple[int | None, dict[str, Any]]:
    """The milestone a form saves (if any) and its values by path, blank for what it covers but left empty."""
    if form.section is not Section.MILESTONES or form.milestone is None:
        prefixes = ACROSS_MILESTONES if form.section is Section.MILESTONES else ("",)
        covered = {p: v for p, v in flat_values(typed).items() if p.startswith(prefixes)}
        return None, form_edit(covered, saved, lambda path: path.startswith(prefixes))
    count = len(state.milestones)
    if form.adding:
        if count >= MAX_MILESTONES:
            raise UserError(f"The plan already has {MAX_MILESTONES} milestones, the most it can have.")
        index = count
    elif form.milestone >= count or count < form.milestones_seen:
        raise UserError(
            "A milestone was removed while this form was open, so this one may have moved. Copy what you typed, "
            "close the form and open the milestone again from the Step 3 message."
        )
    else:
        index = form.milestone
    rows = typed.get("milestones")
    row = rows[form.milestone] if isinstance(rows, list) and form.milestone < len(rows) else None
    values = {f"milestones.{index}.{key}": value for key, value in (row or {}).items()}
    prefix = f"milestones.{index}."
    return index, form_edit(values, saved, lambda path: path.startswith(prefix))


def remove_milestone(
    session: Session, state: PlanState, index: int, seen_version: int, user_id: str, now: datetime
) -> PlanState:
    """Take milestone ``index`` out of the plan, as of the version the person saw; customers' rows move with it."""
    if repo.lock_section_version(session, state.plan, Section.MILESTONES.value) != seen_version:
        raise UserError(
            "The milestones changed after this message was shown, so nothing was removed. The Step 3 message is "
            "up to date now: check it and try again."
        )
    state = reload(session, state)
    raw = state.raw(Section.MILESTONES)
    rows = state.milestones
    if not 0 <= index < len(rows):
        raise UserError("This milestone is no longer in the plan; nothing was removed.")
    answers = parse_answers(MilestonesSection, {**raw, "milestones": rows[:index] + rows[index + 1 :]})
    state, _ = _save(session, state, Section.MILESTONES, answers, user_id, now)
    customers_store.drop_position(session, state.plan.id, index)
    return state


# The section whose answers are mostly rows, counted in a first save's summary.
ROWS_OF = {Section.MILESTONES: "milestones"}


@dataclass(frozen=True)
class Confirmation:
    document: DocumentRecord
    created: bool  # False: the plan had not changed since this document was saved


class StaleSynthesis(UserError):
    """The sections changed after the synthesis was posted: confirming it would save something nobody reviewed."""

    def __init__(self) -> None:
        super().__init__(
            "The sections changed after this synthesis was posted, so it was not saved. "
            "Press *[C]* on the Step 3 message for an up-to-date synthesis."
        )


def confirm(session: Session, state: PlanState, fingerprint: str, user_id: str, today: date) -> Confirmation:
    if state.missing or fingerprint != state.fingerprint:
        raise StaleSynthesis()
    latest = repo.latest_document(session, state.plan)
    if latest is not None and latest.source == fingerprint:
        return Confirmation(latest, created=False)
    milestones, health, training = state.complete_answers()
    markdown = compose_step3(
        latest.markdown if latest is not None else None,
        discussion=summaries(session, state.plan),
        credits=credits(session, state.plan),
        plan_name=state.plan.name,
        today=today,
        milestones=milestones,
        health=health,
        training=training,
    )
    repo.mark_step_completed(session, state.plan.id, STEP_ID)
    return Confirmation(repo.add_document_version(session, state.plan, markdown, fingerprint, user_id), created=True)
